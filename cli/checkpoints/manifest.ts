/**
 * The kit's checkpoint convention, and how a checkpoint's state is read from an object listing.
 * Pure: cli/checkpoints/store.ts does the S3 calls.
 *
 * A checkpoint is a "directory" under a prefix, as Ray Train writes them
 * (`<storage_path>/<run>/checkpoint_<...>/`, ray 2.55.1 python/ray/train/v2/_internal/execution/storage.py).
 * Ray itself writes no completeness marker: it uploads the files with pyarrow and records the
 * checkpoint in `checkpoint_manager_snapshot.json`, checking on restore only that the directory
 * exists (ray 2.55.1 checkpoint_manager.py). A partition mid-upload leaves a directory that looks
 * whole. So the kit adds a manifest, `_gpk_manifest.json`, written LAST, after every file:
 *
 *   {"format": "gpk-checkpoint-manifest/v1", "createdAt": "<ISO time>",
 *    "files": [{"path": "<relative to the checkpoint>", "size": <bytes>, "sha256": "<hex>"}]}
 *
 * - complete: the manifest parses and every file it lists exists with that size and SHA-256;
 * - torn: the manifest exists but a file is missing, of another size or another checksum, or an
 *   upload under the checkpoint was started and never completed;
 * - missing-manifest: a `checkpoint_*` directory with files but no manifest (the upload stopped
 *   before its commit, or the writer does not follow the convention).
 */

export const MANIFEST_NAME = "_gpk_manifest.json";
export const MANIFEST_FORMAT = "gpk-checkpoint-manifest/v1";

export interface ManifestFile {
  path: string;
  size: number;
  sha256: string;
}

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  createdAt?: string;
  files: ManifestFile[];
}

/** One object of the listing. */
export interface StoredObject {
  key: string;
  size: number;
  lastModified: Date;
}

export type CheckpointState = "complete" | "torn" | "missing-manifest";

export interface CheckpointReport {
  /** The checkpoint's prefix, ending in `/`. */
  prefix: string;
  state: CheckpointState;
  /** Newest object time: "latest" is the checkpoint written last. */
  lastModified: string;
  files: number;
  bytes: number;
  /** What makes it torn, one line per object ("model.pt: missing", "shard-1: 812 bytes, manifest says 1024"). */
  problems: string[];
}

export class ManifestError extends Error {
  override readonly name = "ManifestError";
}

/** Parses a manifest, naming the first field that is wrong. */
export function parseManifest(text: string): Manifest {
  let raw: any;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ManifestError(`not JSON (${(err as Error).message})`);
  }
  if (raw?.format !== MANIFEST_FORMAT) throw new ManifestError(`format: expected "${MANIFEST_FORMAT}", got ${JSON.stringify(raw?.format)}`);
  if (!Array.isArray(raw.files)) throw new ManifestError("files: expected a list");
  raw.files.forEach((f: any, i: number) => {
    if (typeof f?.path !== "string" || f.path === "" || f.path.startsWith("/") || f.path.split("/").includes("..")) throw new ManifestError(`files[${i}].path: expected a relative path`);
    if (!Number.isInteger(f.size) || f.size < 0) throw new ManifestError(`files[${i}].size: expected a byte count`);
    if (typeof f.sha256 !== "string" || !/^[0-9a-f]{64}$/.test(f.sha256)) throw new ManifestError(`files[${i}].sha256: expected 64 hex digits`);
  });
  return raw as Manifest;
}

/**
 * The checkpoint directories in a listing: every folder holding a manifest, and every
 * `checkpoint_*` folder (Ray's naming) without one. A folder inside a checkpoint is part of it.
 */
export function checkpointPrefixes(objects: readonly StoredObject[]): string[] {
  const withManifest = new Set(objects.filter((o) => o.key.endsWith(`/${MANIFEST_NAME}`) || o.key === MANIFEST_NAME).map((o) => o.key.slice(0, -MANIFEST_NAME.length)));
  const found = new Set(withManifest);
  for (const o of objects) {
    const parts = o.key.split("/");
    for (let i = 0; i < parts.length - 1; i++) {
      if (!parts[i]!.startsWith("checkpoint_")) continue;
      const dir = `${parts.slice(0, i + 1).join("/")}/`;
      if (![...withManifest].some((m) => dir.startsWith(m) && dir !== m)) found.add(dir);
      break;
    }
  }
  // An outer checkpoint owns what is inside it.
  return [...found].filter((p) => ![...found].some((q) => q !== p && p.startsWith(q))).sort();
}

/** The objects of one checkpoint. */
export function objectsUnder(prefix: string, objects: readonly StoredObject[]): StoredObject[] {
  return objects.filter((o) => o.key.startsWith(prefix));
}

/**
 * The state of one checkpoint from its objects, its manifest text (undefined: none) and the
 * SHA-256 of each object the caller hashed (by key; a file whose hash is absent is not checked),
 * plus the keys of uploads started under it and never completed.
 */
export function checkpointReport(
  prefix: string,
  objects: readonly StoredObject[],
  manifestText: string | undefined,
  sha256: ReadonlyMap<string, string>,
  openUploads: readonly string[] = [],
): CheckpointReport {
  const mine = objectsUnder(prefix, objects);
  const files = mine.filter((o) => o.key !== `${prefix}${MANIFEST_NAME}`);
  const newest = mine.reduce((t, o) => (o.lastModified > t ? o.lastModified : t), new Date(0));
  const base = { prefix, lastModified: newest.toISOString(), files: files.length, bytes: files.reduce((s, o) => s + o.size, 0) };
  const uploads = openUploads.filter((k) => k.startsWith(prefix)).map((k) => `${k.slice(prefix.length)}: upload started and never completed`);
  if (manifestText === undefined) return { ...base, state: "missing-manifest", problems: [`${MANIFEST_NAME}: missing`, ...uploads] };
  let manifest: Manifest;
  try {
    manifest = parseManifest(manifestText);
  } catch (err) {
    return { ...base, state: "torn", problems: [`${MANIFEST_NAME}: ${(err as Error).message}`, ...uploads] };
  }
  const byKey = new Map(files.map((o) => [o.key, o]));
  const problems: string[] = [];
  for (const f of manifest.files) {
    const stored = byKey.get(`${prefix}${f.path}`);
    if (!stored) problems.push(`${f.path}: missing`);
    else if (stored.size !== f.size) problems.push(`${f.path}: ${stored.size} bytes, manifest says ${f.size}`);
    else {
      const hash = sha256.get(stored.key);
      if (hash !== undefined && hash !== f.sha256) problems.push(`${f.path}: SHA-256 ${hash.slice(0, 12)}…, manifest says ${f.sha256.slice(0, 12)}…`);
    }
  }
  problems.push(...uploads);
  return { ...base, state: problems.length === 0 ? "complete" : "torn", problems };
}

/** The checkpoint written last (newest object), or undefined for none. */
export function latest(reports: readonly CheckpointReport[]): CheckpointReport | undefined {
  return [...reports].sort((a, b) => b.lastModified.localeCompare(a.lastModified) || b.prefix.localeCompare(a.prefix))[0];
}
