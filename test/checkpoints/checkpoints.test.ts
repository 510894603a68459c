/**
 * `gpk checkpoints` against a real S3-protocol server (moto, test/checkpoints/s3-peer.ts): the
 * real CLI over the AWS SDK, a versioned bucket, complete, torn and manifest-less checkpoints,
 * a multipart upload that never completed, and an overwritten manifest restored.
 */
import { createHash } from "node:crypto";
import {
  CreateBucketCommand, CreateMultipartUploadCommand, GetObjectCommand, ListObjectVersionsCommand, PutBucketVersioningCommand,
  PutObjectCommand, S3Client, UploadPartCommand,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MANIFEST_FORMAT, MANIFEST_NAME } from "../../cli/checkpoints/manifest";
import { runGpk } from "../cli/run-gpk";
import { startS3Peer, TEST_CREDENTIALS, type S3Peer } from "./s3-peer";
import { expectJsonShape } from "../cli/json-shape-assert";

const BUCKET = "research-checkpoints";
const RUN = "llama-ft/";
let peer: S3Peer;
let s3: S3Client;

const sha = (body: string) => createHash("sha256").update(body).digest("hex");
const put = (key: string, body: string) => s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
const manifest = (files: Record<string, string>, overrides: Record<string, { size?: number }> = {}) =>
  JSON.stringify({
    format: MANIFEST_FORMAT,
    createdAt: "2026-11-27T00:00:00Z",
    files: Object.entries(files).map(([path, body]) => ({ path, size: overrides[path]?.size ?? Buffer.byteLength(body), sha256: sha(body) })),
  });
const gpk = (...args: string[]) => runGpk(["checkpoints", ...args, "--bucket", BUCKET, "--endpoint", peer.endpoint], { env: { ...TEST_CREDENTIALS }, timeoutMs: 60_000 });
const pause = () => new Promise((r) => setTimeout(r, 1100)); // S3 times have one-second resolution

beforeAll(async () => {
  peer = await startS3Peer();
  s3 = new S3Client({ endpoint: peer.endpoint, forcePathStyle: true, region: "us-east-1", credentials: { accessKeyId: TEST_CREDENTIALS.AWS_ACCESS_KEY_ID, secretAccessKey: TEST_CREDENTIALS.AWS_SECRET_ACCESS_KEY } });
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  await s3.send(new PutBucketVersioningCommand({ Bucket: BUCKET, VersioningConfiguration: { Status: "Enabled" } }));
  // checkpoint_000001: complete.
  const one = { "model.pt": "weights-1".repeat(100), "optimizer.pt": "adam-1" };
  for (const [f, body] of Object.entries(one)) await put(`${RUN}checkpoint_000001/${f}`, body);
  await put(`${RUN}checkpoint_000001/${MANIFEST_NAME}`, manifest(one));
  await pause();
  // checkpoint_000002: the manifest names a shard that never arrived and one that arrived short.
  const two = { "model.pt": "weights-2".repeat(100), "shard-1.pt": "s1", "shard-2.pt": "s2-full" };
  await put(`${RUN}checkpoint_000002/model.pt`, two["model.pt"]);
  await put(`${RUN}checkpoint_000002/shard-2.pt`, "s2");
  await put(`${RUN}checkpoint_000002/${MANIFEST_NAME}`, manifest(two));
  await pause();
  // checkpoint_000003: files written, no manifest: the writer stopped before its commit.
  await put(`${RUN}checkpoint_000003/model.pt`, "weights-3");
  // checkpoint_000004: a complete manifest, and a multipart upload under it that never completed.
  const four = { "model.pt": "weights-4" };
  await put(`${RUN}checkpoint_000004/model.pt`, four["model.pt"]);
  await put(`${RUN}checkpoint_000004/${MANIFEST_NAME}`, manifest(four));
  const upload = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: `${RUN}checkpoint_000004/extra.pt` }));
  await s3.send(new UploadPartCommand({ Bucket: BUCKET, Key: `${RUN}checkpoint_000004/extra.pt`, UploadId: upload.UploadId, PartNumber: 1, Body: "part" }));
  // Ray's run-level files are not checkpoints.
  await put(`${RUN}checkpoint_manager_snapshot.json`, "{}");
}, 240_000);

afterAll(async () => {
  s3?.destroy();
  await peer?.close();
});

describe("gpk checkpoints against a real S3-protocol server", () => {
  it("lists each checkpoint as complete, torn or missing-manifest, naming what is wrong", () => {
    const run = gpk("list", "--prefix", RUN, "--json");
    expect(run.status, run.stderr).toBe(0);
    const reports = expectJsonShape("checkpoints", "list", run.stdout);
    expect(reports.map((r: any) => [r.prefix, r.state])).toEqual([
      [`${RUN}checkpoint_000001/`, "complete"],
      [`${RUN}checkpoint_000002/`, "torn"],
      [`${RUN}checkpoint_000003/`, "missing-manifest"],
      [`${RUN}checkpoint_000004/`, "torn"],
    ]);
    expect(reports[1].problems).toEqual(["shard-1.pt: missing", "shard-2.pt: 2 bytes, manifest says 7"]);
    expect(reports[2].problems).toEqual([`${MANIFEST_NAME}: missing`]);
    expect(reports[3].problems).toEqual(["extra.pt: upload started and never completed"]);
    expect(reports[0]).toMatchObject({ files: 2, bytes: 906, problems: [] });
  });

  it("verify exits 1 on a torn latest checkpoint naming the object, and 0 on a complete one", () => {
    const latestRun = gpk("verify", "--prefix", RUN);
    expect(latestRun.status).toBe(1);
    expect(latestRun.stdout).toContain(`torn             ${RUN}checkpoint_000004/`);
    expect(latestRun.stdout).toContain("extra.pt: upload started and never completed");
    const torn = gpk("verify", "--prefix", RUN, "--checkpoint", `${RUN}checkpoint_000002`, "--json");
    expect(torn.status).toBe(1);
    expect(expectJsonShape("checkpoints", "verify", torn.stdout).checkpoint.problems).toContain("shard-1.pt: missing");
    const whole = gpk("verify", "--prefix", RUN, "--checkpoint", `${RUN}checkpoint_000001/`);
    expect(whole.status, whole.stdout + whole.stderr).toBe(0);
    expect(whole.stdout).toMatch(/^complete +llama-ft\/checkpoint_000001\/ +2 files, 906 bytes/);
  });

  it("detects a file whose content changed but kept its size, by its SHA-256", async () => {
    await put(`${RUN}checkpoint_000001/optimizer.pt`, "adam-X");
    const run = gpk("verify", "--prefix", RUN, "--checkpoint", `${RUN}checkpoint_000001`, "--json");
    expect(run.status).toBe(1);
    expect(JSON.parse(run.stdout).checkpoint.problems[0]).toMatch(/^optimizer\.pt: SHA-256 [0-9a-f]{12}…, manifest says [0-9a-f]{12}…$/);
    // Put right again by restoring the earlier version.
    const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: BUCKET, Prefix: `${RUN}checkpoint_000001/optimizer.pt` }));
    const original = versions.Versions!.find((v) => !v.IsLatest)!;
    expect(gpk("restore", "--key", `${RUN}checkpoint_000001/optimizer.pt`, "--to", original.VersionId!).status).toBe(0);
    expect(gpk("verify", "--prefix", RUN, "--checkpoint", `${RUN}checkpoint_000001`).status).toBe(0);
  });

  it("restores an overwritten manifest to the version current at a time, keeping every version", async () => {
    const key = `${RUN}checkpoint_000004/${MANIFEST_NAME}`;
    const before = await s3.send(new ListObjectVersionsCommand({ Bucket: BUCKET, Prefix: key }));
    const good = before.Versions!.find((v) => v.IsLatest)!;
    await pause();
    const cutoff = new Date();
    await pause();
    await put(key, "{ overwritten by mistake");
    expect(gpk("list", "--prefix", `${RUN}checkpoint_000004/`, "--json").stdout).toContain("not JSON");
    const run = gpk("restore", "--key", key, "--to", cutoff.toISOString(), "--json");
    expect(run.status, run.stderr).toBe(0);
    const result = expectJsonShape("checkpoints", "restore", run.stdout);
    expect(result).toMatchObject({ key, fromVersionId: good.VersionId });
    expect(result.newVersionId).toEqual(expect.any(String));
    const body = await (await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))).Body!.transformToString();
    expect(JSON.parse(body).format).toBe(MANIFEST_FORMAT);
    const after = await s3.send(new ListObjectVersionsCommand({ Bucket: BUCKET, Prefix: key }));
    expect(after.Versions).toHaveLength(before.Versions!.length + 2); // the mistake and the restore; nothing deleted
    // Restoring to the version that is current copies nothing.
    const again = gpk("restore", "--key", key, "--to", result.newVersionId, "--json");
    expect(JSON.parse(again.stdout)).toEqual({ key, fromVersionId: result.newVersionId, fromLastModified: expect.any(String) });
  });

  it("refuses a restore target that is no version and no time, with exit 1", () => {
    const run = gpk("restore", "--key", `${RUN}checkpoint_000001/model.pt`, "--to", "yesterday");
    expect(run.status).toBe(1);
    expect(run.stderr).toBe(`gpk checkpoints: --to: "yesterday" is neither a version of ${RUN}checkpoint_000001/model.pt (1 found) nor an ISO time\n`);
  });

  it("exits 2 with one line for an unreachable endpoint and for bad usage", () => {
    const down = runGpk(["checkpoints", "list", "--bucket", BUCKET, "--endpoint", "http://127.0.0.1:9"], { env: { ...TEST_CREDENTIALS }, timeoutMs: 60_000 });
    expect(down.status).toBe(2);
    expect(down.stderr.trim().split("\n")).toHaveLength(1);
    expect(down.stderr).toMatch(/^gpk checkpoints: ListObjectsV2 on s3:\/\/research-checkpoints at http:\/\/127\.0\.0\.1:9: /);
    expect(down.stderr).not.toMatch(/\n\s+at /);
    const noBucket = runGpk(["checkpoints", "list"]);
    expect(noBucket.status).toBe(2);
    expect(noBucket.stderr).toContain("--bucket: required");
    expect(runGpk(["checkpoints", "verify", "--bucket", "b", "--key", "k"]).stderr).toContain("--key and --to go with restore only");
    expect(runGpk(["checkpoints", "list", "--bucket", "b", "--endpoint", "ftp://x"]).stderr).toContain("--endpoint: expected an http(s) URL");
  });
});
