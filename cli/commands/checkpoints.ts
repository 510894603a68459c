/**
 * `gpk checkpoints list|verify|restore`: find the last complete checkpoint in a tenant's store
 * and undo an overwrite, over any S3-compatible endpoint (cli/checkpoints; the manifest
 * convention is in cli/checkpoints/manifest.ts and docs/checkpoints.md).
 */
import { ExitCode, UsageError, parseFlags, printJson, progress, requiredFlag, type Command } from "../contract";
import { helpShape } from "../json-shapes";
import { latest, type CheckpointReport } from "../checkpoints/manifest";
import { StoreRefusal, StoreUnreachable, inspectCheckpoints, restoreVersion, s3Client, type StoreOptions } from "../checkpoints/store";

const usage = `Usage: gpk checkpoints list|verify|restore --bucket <name> [--prefix <path>] [--endpoint <url>] [--region <r>] [--json]

list      every checkpoint under the prefix: complete, torn or missing-manifest
verify    the latest checkpoint (or --checkpoint <prefix>): exit 0 complete, 1 torn or
          without a manifest, naming each missing, short or mismatched object
restore   --key <key> --to <version-id|ISO time>: copy that earlier version of the key back
          as its current version (an overwritten manifest or file); never deletes a version

A checkpoint is a folder with _gpk_manifest.json, written last, listing each file's size and
SHA-256, or a Ray checkpoint_* folder without one (docs/checkpoints.md).

  --bucket <name>       the bucket (required)
  --prefix <path>       only keys under this prefix, e.g. research/llama-ft/ (default: all)
  --endpoint <url>      an S3-compatible endpoint, e.g. http://127.0.0.1:9000 (default: AWS S3)
  --region <region>     default: AWS_REGION, AWS_DEFAULT_REGION, then us-east-1
  --checkpoint <prefix> verify this checkpoint instead of the latest
  --key <key>           restore: the object to restore
  --to <version|time>   restore: a version id of the key, or a time (the version current then)
  --json                one JSON document on stdout:
                        list:    ${helpShape("checkpoints", "list", 33)}
                        verify:  ${helpShape("checkpoints", "verify", 33)}
                        restore: ${helpShape("checkpoints", "restore", 33)}
Credentials: the AWS SDK's default chain (AWS_ACCESS_KEY_ID/…, profiles, SSO, pod identity).
Exit codes: 0 ok, 1 a torn or unverifiable checkpoint or a refused restore, 2 bad usage or an
endpoint that cannot be reached.`;

function describe(r: CheckpointReport): string {
  const head = `${r.state.padEnd(16)} ${r.prefix}  ${r.files} files, ${r.bytes} bytes, last written ${r.lastModified}`;
  return [head, ...r.problems.map((p) => `                   ${p}`)].join("\n");
}

export const command: Command = {
  usage,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, {
      bucket: { type: "string" },
      prefix: { type: "string", default: "" },
      endpoint: { type: "string" },
      region: { type: "string" },
      checkpoint: { type: "string" },
      key: { type: "string" },
      to: { type: "string" },
      json: { type: "boolean", default: false },
    });
    const action = positionals[0];
    if (positionals.length !== 1 || !["list", "verify", "restore"].includes(action!)) throw new UsageError("expected one of list, verify, restore");
    const bucket = requiredFlag("bucket", values.bucket);
    if (values.endpoint !== undefined && !/^https?:\/\/[^/\s]+/.test(values.endpoint)) throw new UsageError(`--endpoint: expected an http(s) URL, got ${JSON.stringify(values.endpoint)}`);
    if (action !== "restore" && (values.key !== undefined || values.to !== undefined)) throw new UsageError("--key and --to go with restore only");
    if (action !== "verify" && values.checkpoint !== undefined) throw new UsageError("--checkpoint goes with verify only");
    const opts: StoreOptions = { bucket, prefix: values.prefix, endpoint: values.endpoint, region: values.region };
    const client = s3Client(opts);
    try {
      if (action === "restore") {
        const key = requiredFlag("key", values.key, "restore names the object to restore");
        const to = requiredFlag("to", values.to, "a version id of the key, or an ISO time");
        const result = await restoreVersion(client, opts, key, to);
        if (values.json) printJson(result);
        else if (result.newVersionId === undefined) progress(`${result.key}: version ${result.fromVersionId} (${result.fromLastModified}) is current already; nothing copied`);
        else progress(`${result.key}: copied version ${result.fromVersionId} (${result.fromLastModified}) back as ${result.newVersionId}; the versions in between are kept`);
        return ExitCode.Ok;
      }
      const reports = await inspectCheckpoints(client, opts, values.json ? undefined : progress);
      if (action === "list") {
        if (values.json) printJson(reports);
        else if (reports.length === 0) progress(`no checkpoints under s3://${opts.bucket}/${opts.prefix}`);
        else for (const r of reports) process.stdout.write(`${describe(r)}\n`);
        return ExitCode.Ok;
      }
      const wanted = values.checkpoint === undefined ? latest(reports) : reports.find((r) => r.prefix === values.checkpoint || r.prefix === `${values.checkpoint}/`);
      if (!wanted) {
        const message = values.checkpoint === undefined ? `no checkpoints under s3://${opts.bucket}/${opts.prefix}` : `no checkpoint ${values.checkpoint} under s3://${opts.bucket}/${opts.prefix}`;
        if (values.json) printJson({ checkpoint: null, problems: [message] });
        else progress(message);
        return ExitCode.Finding;
      }
      if (values.json) printJson({ checkpoint: wanted });
      else process.stdout.write(`${describe(wanted)}\n`);
      return wanted.state === "complete" ? ExitCode.Ok : ExitCode.Finding;
    } catch (err) {
      if (err instanceof StoreUnreachable) throw new UsageError(err.message);
      if (err instanceof StoreRefusal) {
        process.stderr.write(`gpk checkpoints: ${err.message}\n`);
        return ExitCode.Finding;
      }
      throw err;
    } finally {
      client.destroy();
    }
  },
};
