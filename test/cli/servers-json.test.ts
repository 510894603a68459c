/** Long-running commands print one JSON document once they listen, so scripts can find them. */
import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { GPK, REPO_ROOT } from "./run-gpk";

async function firstJson(args: string[]): Promise<{ doc: any; stop: () => void }> {
  const child = spawn(process.execPath, [GPK, ...args], { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  const doc = await new Promise<any>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no JSON within 60 s; stdout: ${out}`)), 60_000);
    child.stdout.on("data", (chunk) => {
      out += chunk;
      try {
        const parsed = JSON.parse(out);
        clearTimeout(timer);
        resolve(parsed);
      } catch {
        // Not the whole document yet.
      }
    });
    child.once("exit", (code) => reject(new Error(`exited ${code}; stdout: ${out}`)));
  });
  return { doc, stop: () => child.kill("SIGTERM") };
}

describe("--json on servers", () => {
  it("gpk serve prints where it listens and what it serves", async () => {
    const { doc, stop } = await firstJson(["serve", "--port", "0", "--json", "--model", "qwen2.5-0.5b", "--gpu", "l4"]);
    try {
      expect(doc).toMatchObject({ model: "Qwen/Qwen2.5-0.5B-Instruct", gpu: "l4", tensorParallelSize: 1, maxNumSeqs: 256, maxWaiting: 512, blockSize: 16 });
      expect(doc.kvCacheBlocks).toBeGreaterThan(0);
      const models = (await (await fetch(`${doc.openaiBaseUrl}/models`)).json()) as { data: { id: string }[] };
      expect(models.data[0].id).toBe(doc.servedModelName);
    } finally {
      stop();
    }
  });

  it("gpk telemetry prints its metrics URL", async () => {
    const { doc, stop } = await firstJson(["telemetry", "--port", "0", "--host", "127.0.0.1", "--json"]);
    try {
      expect(doc).toMatchObject({ source: "sim", hostname: "gpk-sim-node" });
      const text = await (await fetch(doc.url)).text();
      expect(text).toContain("DCGM_FI_DEV_GPU_TEMP{");
    } finally {
      stop();
    }
  });
});
