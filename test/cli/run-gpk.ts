import { spawn, spawnSync } from "node:child_process";
import * as path from "node:path";

export const REPO_ROOT = path.resolve(__dirname, "..", "..");
export const GPK = path.join(REPO_ROOT, "bin", "gpk.js");

export interface GpkRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real `gpk` binary the way a user or CI does. */
export function runGpk(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): GpkRun {
  const result = spawnSync(process.execPath, [GPK, ...args], {
    cwd: options.cwd ?? REPO_ROOT,
    env: { ...process.env, ...options.env },
    encoding: "utf8",
    timeout: options.timeoutMs ?? 300_000,
    // `preview --json` carries every resource's inputs (runtime bundles included): over 1 MiB.
    maxBuffer: 64 * 1024 * 1024,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/**
 * Runs the real `gpk` binary without blocking this process: for peers (an API server, an
 * exporter) that the test itself serves while the command talks to them.
 */
export function runGpkAsync(args: string[], options: { env?: NodeJS.ProcessEnv } = {}): Promise<GpkRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [GPK, ...args], { cwd: REPO_ROOT, env: { ...process.env, ...options.env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}
