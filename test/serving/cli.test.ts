/**
 * The two ways the server starts: `gpk serve` (CLI contract: address on stderr, exit 2 on a
 * bad flag) and the esbuild bundle of runtime/serving/main.ts that ships in a ConfigMap.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { bundleRuntime } from "../../components/runtime-bundle";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(__dirname, "../..");

/** Starts a process and resolves with the URL it prints on stderr. */
function listening(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let err = "";
    child.stderr!.on("data", (d: Buffer) => {
      err += d.toString();
      const m = /serving on (http:\/\/[^\s]+)/.exec(err);
      if (m) resolve(m[1]!);
    });
    child.once("exit", (code) => reject(new Error(`exited ${code} before listening: ${err}`)));
  });
}

function exited(child: ChildProcess): Promise<{ code: number | null; stderr: string; stdout: string }> {
  let stderr = "";
  let stdout = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
  return new Promise((resolve) => child.once("exit", (code) => resolve({ code, stderr, stdout })));
}

describe("gpk serve", () => {
  it("prints its address on stderr, serves, and exits 0 on SIGTERM", async () => {
    const child = spawn(process.execPath, ["bin/gpk.js", "serve", "--port", "0", "--host", "127.0.0.1", "--model", "qwen2.5-0.5b", "--gpu", "l4"], { cwd: ROOT });
    const done = exited(child);
    const url = await listening(child);
    const res = await fetch(`${url}/v1/completions`, {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "Qwen/Qwen2.5-0.5B-Instruct", prompt: "hello", max_tokens: 3 }),
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { usage: { completion_tokens: number } }).usage.completion_tokens).toBe(3);
    child.kill("SIGTERM");
    const { code, stdout } = await done;
    expect(code).toBe(0);
    expect(stdout).toBe("");
  }, 30_000);

  it("exits 2 with one line naming a bad flag", async () => {
    const bad = await exited(spawn(process.execPath, ["bin/gpk.js", "serve", "--gpu", "v100"], { cwd: ROOT }));
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split("\n")).toEqual([expect.stringMatching(/^gpk serve: --gpu: unknown GPU "v100"; one of h100, a100, l40s, a10g, l4; see `gpk serve --help`$/)]);
    const tooBig = await exited(spawn(process.execPath, ["bin/gpk.js", "serve", "--model", "llama-3-70b", "--tensor-parallel-size", "1"], { cwd: ROOT }));
    expect(tooBig.code).toBe(2);
    expect(tooBig.stderr).toMatch(/--gpu-memory-utilization: no memory left for the KV cache/);
  }, 30_000);
});

describe("in-cluster bundle", () => {
  it("bundles under the ConfigMap limit and serves from env configuration", async () => {
    const out = path.join(mkdtempSync(path.join(tmpdir(), "gpk-serving-")), "serving.js");
    const shipped = bundleRuntime("serving");
    const { writeFileSync } = await import("node:fs");
    writeFileSync(out, shipped.code);
    expect(shipped.bytes).toBeLessThan(512 * 1024);
    const child = spawn(process.execPath, [out, "--host", "127.0.0.1"], {
      env: { PATH: process.env.PATH, GPK_SERVING_PORT: "0", GPK_SERVING_MODEL: "mistral-7b", GPK_SERVING_GPU: "a100", GPK_SERVING_MAX_NUM_SEQS: "8", GPK_SERVING_MAX_WAITING: "0" },
    });
    const done = exited(child);
    const url = await listening(child);
    expect((await fetch(`${url}/health`)).status).toBe(200);
    // max-waiting 0 from the environment: every request is shed with 429.
    const shed = await fetch(`${url}/v1/completions`, {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "mistral-7b", prompt: "x", max_tokens: 1 }),
    });
    expect(shed.status).toBe(429);
    expect(shed.headers.get("retry-after")).toBe("1");
    child.kill("SIGTERM");
    expect((await done).code).toBe(0);
  }, 30_000);
});
