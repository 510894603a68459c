/**
 * One cluster for the whole e2e run: `gpk local up --runtime binaries --json` on a fresh
 * control plane (the real CLI, as a user runs it), its report provided to the files, and
 * `gpk local down` at the end whatever happened.
 */
import { spawn } from "node:child_process";
import * as path from "node:path";
import type { TestProject } from "vitest/node";

const REPO_ROOT = path.resolve(__dirname, "../..");
const GPK = path.join(REPO_ROOT, "bin", "gpk.js");

function gpk(args: string[]): Promise<{ status: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [GPK, ...args], { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "inherit"] });
    let stdout = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stdout }));
  });
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // A cluster left by an earlier, interrupted run goes first.
  await gpk(["local", "down", "--runtime", "binaries"]);
  const started = Date.now();
  const up = await gpk(["local", "up", "--runtime", "binaries", "--json"]);
  if (up.status !== 0) {
    await gpk(["local", "down", "--runtime", "binaries"]);
    throw new Error(`gpk local up --runtime binaries exited ${up.status}`);
  }
  process.stderr.write(`[e2e] cluster and pulumi up in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  project.provide("cluster", JSON.parse(up.stdout));
  return async () => {
    await gpk(["local", "down", "--runtime", "binaries"]);
  };
}
