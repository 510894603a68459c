/**
 * `gpk checkpoints` over any S3-compatible endpoint, with the AWS SDK's S3 client: listing,
 * hashing, manifests, object versions and the copy that restores one. Credentials and region
 * come from the SDK's default chain (environment, shared config, SSO, instance/pod identity).
 */
import { createHash } from "node:crypto";
import type { Readable } from "node:stream";
import {
  CopyObjectCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectVersionsCommand,
  ListObjectsV2Command,
  S3Client,
  type ObjectVersion,
} from "@aws-sdk/client-s3";
import { MANIFEST_NAME, checkpointPrefixes, checkpointReport, type CheckpointReport, type StoredObject } from "./manifest";

export interface StoreOptions {
  bucket: string;
  /** Only keys under this prefix ("" for the whole bucket). */
  prefix: string;
  /** An S3-compatible endpoint (MinIO, moto, Ceph …); absent: AWS S3. Path-style addressing then. */
  endpoint?: string;
  region?: string;
}

/** The endpoint could not be reached or refused us: one line, exit 2. */
export class StoreUnreachable extends Error {
  override readonly name = "StoreUnreachable";
}

/** The request was understood and answered no (unknown version, a deleted key): exit 1. */
export class StoreRefusal extends Error {
  override readonly name = "StoreRefusal";
}

export function s3Client(opts: StoreOptions): S3Client {
  // The SDK warns on Node < 22 that releases after January 2027 will need it. The kit runs on
  // Node 20 (package.json engines) with the SDK pinned by the lockfile to a release that
  // supports it; the multi-line warning would break the one-line error contract on stderr.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  return new S3Client({
    region: opts.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? "us-east-1",
    ...(opts.endpoint ? { endpoint: opts.endpoint, forcePathStyle: true } : {}),
    // One try: an unreachable endpoint should answer in seconds, not after the SDK's backoff.
    maxAttempts: 1,
  });
}

/** Runs an S3 call; a network failure or an S3 error becomes a StoreUnreachable naming the call. */
async function call<T>(what: string, opts: StoreOptions, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    const e = err as { name?: string; message?: string; code?: string; $metadata?: { httpStatusCode?: number } };
    const where = opts.endpoint ?? "AWS S3";
    const status = e.$metadata?.httpStatusCode ? ` (HTTP ${e.$metadata.httpStatusCode})` : "";
    throw new StoreUnreachable(`${what} on s3://${opts.bucket} at ${where}: ${e.name ?? "Error"}${status}: ${e.message ?? e.code ?? String(err)}`);
  }
}

export async function listObjects(client: S3Client, opts: StoreOptions): Promise<StoredObject[]> {
  const out: StoredObject[] = [];
  let token: string | undefined;
  do {
    const page = await call("ListObjectsV2", opts, () => client.send(new ListObjectsV2Command({ Bucket: opts.bucket, Prefix: opts.prefix || undefined, ContinuationToken: token })));
    for (const o of page.Contents ?? []) out.push({ key: o.Key!, size: o.Size ?? 0, lastModified: o.LastModified ?? new Date(0) });
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return out;
}

/** Keys with a multipart upload started and not completed or aborted: torn uploads. */
export async function openUploads(client: S3Client, opts: StoreOptions): Promise<string[]> {
  const out: string[] = [];
  let keyMarker: string | undefined;
  let uploadMarker: string | undefined;
  do {
    const page = await call("ListMultipartUploads", opts, () => client.send(new ListMultipartUploadsCommand({ Bucket: opts.bucket, Prefix: opts.prefix || undefined, KeyMarker: keyMarker, UploadIdMarker: uploadMarker })));
    for (const u of page.Uploads ?? []) if (u.Key) out.push(u.Key);
    keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
    uploadMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined;
  } while (keyMarker);
  return out;
}

async function bodyOf(client: S3Client, opts: StoreOptions, key: string): Promise<Readable> {
  const res = await call(`GetObject ${key}`, opts, () => client.send(new GetObjectCommand({ Bucket: opts.bucket, Key: key })));
  return res.Body as Readable;
}

export async function readText(client: S3Client, opts: StoreOptions, key: string): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of await bodyOf(client, opts, key)) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks).toString("utf8");
}

/** SHA-256 of an object, streamed (a checkpoint shard need not fit in memory). */
export async function sha256Of(client: S3Client, opts: StoreOptions, key: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of await bodyOf(client, opts, key)) hash.update(chunk);
  return hash.digest("hex");
}

/**
 * Every checkpoint under the prefix with its state. Objects of a checkpoint with a manifest are
 * hashed only when their sizes already agree (a size mismatch is torn without reading it).
 */
export async function inspectCheckpoints(client: S3Client, opts: StoreOptions, onProgress: (line: string) => void = () => {}): Promise<CheckpointReport[]> {
  const objects = await listObjects(client, opts);
  const uploads = await openUploads(client, opts);
  const reports: CheckpointReport[] = [];
  for (const prefix of checkpointPrefixes(objects)) {
    const manifestKey = `${prefix}${MANIFEST_NAME}`;
    const hasManifest = objects.some((o) => o.key === manifestKey);
    const manifestText = hasManifest ? await readText(client, opts, manifestKey) : undefined;
    const sizes = checkpointReport(prefix, objects, manifestText, new Map(), uploads);
    const hashes = new Map<string, string>();
    if (hasManifest && sizes.state === "complete") {
      onProgress(`hashing ${sizes.files} objects (${sizes.bytes} bytes) of ${prefix}`);
      for (const o of objects) if (o.key.startsWith(prefix) && o.key !== manifestKey) hashes.set(o.key, await sha256Of(client, opts, o.key));
    }
    reports.push(checkpointReport(prefix, objects, manifestText, hashes, uploads));
  }
  return reports;
}

export interface RestoreResult {
  key: string;
  /** The version copied back. */
  fromVersionId: string;
  fromLastModified: string;
  /** The new current version the copy made; undefined when the chosen version was current already. */
  newVersionId?: string;
}

/**
 * Makes an earlier version of `key` current again by copying it over the key: the versions in
 * between stay, nothing is deleted. `to` is a version id, or a time: the version that was current then.
 */
export async function restoreVersion(client: S3Client, opts: StoreOptions, key: string, to: string): Promise<RestoreResult> {
  const versions: ObjectVersion[] = [];
  const markers: { lastModified: Date }[] = [];
  let keyMarker: string | undefined;
  let versionMarker: string | undefined;
  do {
    const page = await call("ListObjectVersions", opts, () => client.send(new ListObjectVersionsCommand({ Bucket: opts.bucket, Prefix: key, KeyMarker: keyMarker, VersionIdMarker: versionMarker })));
    versions.push(...(page.Versions ?? []).filter((v) => v.Key === key));
    markers.push(...(page.DeleteMarkers ?? []).filter((m) => m.Key === key).map((m) => ({ lastModified: m.LastModified ?? new Date(0) })));
    keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
    versionMarker = page.IsTruncated ? page.NextVersionIdMarker : undefined;
  } while (keyMarker);
  if (versions.length === 0) throw new StoreRefusal(`${key}: no versions in s3://${opts.bucket} (is versioning on?)`);
  versions.sort((a, b) => (b.LastModified?.getTime() ?? 0) - (a.LastModified?.getTime() ?? 0));
  let target = versions.find((v) => v.VersionId === to);
  if (!target) {
    const time = new Date(to);
    if (!/^\d{4}-\d{2}-\d{2}/.test(to) || Number.isNaN(time.getTime())) {
      throw new StoreRefusal(`--to: ${JSON.stringify(to)} is neither a version of ${key} (${versions.length} found) nor an ISO time`);
    }
    target = versions.find((v) => (v.LastModified?.getTime() ?? 0) <= time.getTime());
    if (!target) throw new StoreRefusal(`${key}: no version existed at ${time.toISOString()} (oldest ${versions.at(-1)!.LastModified?.toISOString()})`);
    const deletedSince = markers.some((m) => m.lastModified.getTime() > target!.LastModified!.getTime() && m.lastModified.getTime() <= time.getTime());
    if (deletedSince) throw new StoreRefusal(`${key}: was deleted at ${time.toISOString()}; name the version to bring back with --to <version-id>`);
  }
  const result: RestoreResult = { key, fromVersionId: target.VersionId!, fromLastModified: target.LastModified!.toISOString() };
  if (target.IsLatest) return result;
  const copySource = `${opts.bucket}/${key.split("/").map(encodeURIComponent).join("/")}?versionId=${encodeURIComponent(target.VersionId!)}`;
  const copied = await call(`CopyObject ${key}`, opts, () => client.send(new CopyObjectCommand({ Bucket: opts.bucket, Key: key, CopySource: copySource })));
  result.newVersionId = copied.VersionId;
  return result;
}
