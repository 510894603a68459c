import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { bundleRuntime } from "../../components/runtime-bundle";
import parsePrometheus from "parse-prometheus-text-format";
import { afterAll, describe, expect, it } from "vitest";

const repoRoot = path.resolve(__dirname, "../..");
const dir = mkdtempSync(path.join(tmpdir(), "gpk-bundle-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The bundle the kit ships (components/runtime-bundle.ts), written out to run it. */
function bundle(pkg: string): { file: string; bytes: number; inputs: string[] } {
  const shipped = bundleRuntime(pkg);
  const file = path.join(dir, shipped.fileName);
  writeFileSync(file, shipped.code);
  return { file, bytes: shipped.bytes, inputs: shipped.inputs };
}

function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith("GPK_") || k === "NVIDIA_VISIBLE_DEVICES" || k === "NODE_NAME") delete env[k];
  return { ...env, ...extra };
}

describe("runtime bundles", () => {
  it("bundles the simulated nvidia-smi into one small file that runs on its own", () => {
    const b = bundle("gpu-sim");
    expect(b.bytes).toBeLessThan(200 * 1024);
    expect(b.inputs.some((f) => f.endsWith(".node"))).toBe(false);
    const out = execFileSync(process.execPath, [b.file, "-L"], { encoding: "utf8", env: cleanEnv({ GPK_SIM_GPUS: "2", GPK_SIM_PRODUCT: "l4" }) });
    expect(out).toMatch(/^GPU 0: NVIDIA L4 \(UUID: GPU-[0-9a-f-]{36}\)\nGPU 1: NVIDIA L4 \(UUID: GPU-[0-9a-f-]{36}\)\n$/);
  });

  it("bundles the exporter under the ConfigMap limit and serves metrics from the bundle", async () => {
    const b = bundle("telemetry");
    expect(b.bytes).toBeLessThan(512 * 1024);
    expect(b.inputs.some((f) => f.endsWith(".node"))).toBe(false);
    const child = spawn(process.execPath, [b.file, "--port", "0", "--host", "127.0.0.1"], { env: cleanEnv({ NODE_NAME: "kind-worker" }) });
    try {
      const port = await new Promise<number>((resolve, reject) => {
        let err = "";
        child.stderr.on("data", (d: Buffer) => {
          err += d.toString();
          const m = /on :(\d+)\/metrics/.exec(err);
          if (m) resolve(Number(m[1]));
        });
        child.once("exit", (code) => reject(new Error(`exporter exited ${code}: ${err}`)));
      });
      const families = parsePrometheus(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
      const temp = families.find((f) => f.name === "DCGM_FI_DEV_GPU_TEMP")!;
      expect(temp.metrics).toHaveLength(8);
      expect(temp.metrics[0]!.labels!.Hostname).toBe("kind-worker");
    } finally {
      child.kill("SIGTERM");
    }
  });

  it("exits 2 with one line on a bad flag", () => {
    let failure: { status: number; stderr: string } | undefined;
    try {
      execFileSync(process.execPath, [path.join(repoRoot, "bin/gpk.js"), "telemetry", "--source", "dcgm"], { encoding: "utf8", env: cleanEnv(), stdio: "pipe" });
    } catch (err) {
      failure = err as { status: number; stderr: string };
    }
    expect(failure?.status).toBe(2);
    expect(failure?.stderr).toBe('gpk telemetry: --source: expected sim or nvidia-smi, got "dcgm"; see `gpk telemetry --help`\n');
  });
});
