/**
 * A real S3-protocol server for the tests: moto's server mode (PyPI `moto[s3]` plus Flask,
 * pinned in tools/python-requirements.txt), installed into the tools cache by
 * cli/tools/python.ts on first use and started on loopback on a free port. moto implements
 * versioning, ListObjectVersions, CopyObject from a version, multipart uploads, lifecycle,
 * public-access blocks, encryption settings, bucket policies and Object Lock (moto 5.x
 * docs/docs/services/s3.rst); it stores encryption settings without encrypting and does not
 * enforce bucket policies.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { freePort } from "../../cli/local/binaries/processes";
import { ensurePythonTools } from "../../cli/tools/python";

export interface S3Peer {
  endpoint: string;
  /** Credentials moto accepts (any), for the SDK's default chain in child processes. */
  env: Record<string, string>;
  close(): Promise<void>;
}

export const TEST_CREDENTIALS = { AWS_ACCESS_KEY_ID: "gpk-test", AWS_SECRET_ACCESS_KEY: "gpk-test-secret", AWS_REGION: "us-east-1" };

export async function startS3Peer(): Promise<S3Peer> {
  const tools = ensurePythonTools((line) => process.stderr.write(`[s3-peer] ${line}\n`));
  const port = await freePort();
  const child: ChildProcess = spawn(tools.bin("moto_server"), ["-H", "127.0.0.1", "-p", String(port)], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`moto_server exited ${child.exitCode}: ${stderr}`);
    try {
      const res = await fetch(`${endpoint}/`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`moto_server did not answer on ${endpoint} within 30 s: ${stderr}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    endpoint,
    env: { ...TEST_CREDENTIALS },
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.on("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}
