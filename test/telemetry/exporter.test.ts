import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import parsePrometheus, { type ParsedFamily } from "parse-prometheus-text-format";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { SimNode } from "../../runtime/gpu-sim/node";
import { runNvidiaSmi } from "../../runtime/gpu-sim/smi/run";
import { readNodeState, writeNodeState } from "../../runtime/gpu-sim/state";
import { parseDcgmMetrics } from "../../runtime/telemetry/parse";
import { startExporter, type RunningExporter } from "../../runtime/telemetry/server";
import { FollowedSimSource, NvidiaSmiSource, SimSource } from "../../runtime/telemetry/sources";
import { H100_DIR } from "../../data/paths";

const repoRoot = path.resolve(__dirname, "../..");
const CAPTURE = path.join(H100_DIR, "nvidia-smi-q.xml");
const DCGM = ["DCGM_FI_DEV_GPU_TEMP", "DCGM_FI_DEV_MEMORY_TEMP", "DCGM_FI_DEV_POWER_USAGE", "DCGM_FI_DEV_GPU_UTIL",
  "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_FB_FREE", "DCGM_FI_DEV_SM_CLOCK", "DCGM_FI_DEV_MEM_CLOCK", "DCGM_FI_DEV_XID_ERRORS",
  "DCGM_FI_DEV_CLOCKS_EVENT_REASONS", "DCGM_FI_DEV_POWER_VIOLATION", "DCGM_FI_DEV_THERMAL_VIOLATION"];

const running: RunningExporter[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.close()));
});

async function start(source: SimSource | NvidiaSmiSource | FollowedSimSource, logs: string[] = []) {
  const r = await startExporter({ source, hostname: "node-a", port: 0, host: "127.0.0.1", log: (l) => logs.push(l) });
  running.push(r);
  return `http://127.0.0.1:${r.port}`;
}

async function scrape(base: string) {
  const res = await fetch(`${base}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
  const text = await res.text();
  const families = new Map(parsePrometheus(text).map((f) => [f.name, f] as const));
  return { text, families };
}

const value = (families: Map<string, ParsedFamily>, name: string, gpu: string) =>
  Number(families.get(name)?.metrics.find((m) => m.labels?.gpu === gpu)?.value);

const errorOf = async (res: Response) => ((await res.json()) as { error: string }).error;

const post = (base: string, route: string, body: unknown) =>
  fetch(`${base}${route}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

describe("exporter with the sim source", () => {
  it("exports the DCGM names and labels for the default 8 H100s, parsed by a Prometheus parser", async () => {
    const node = new SimNode({ hostname: "node-a" });
    const base = await start(new SimSource(node, { nowS: () => 0 }));
    const { families } = await scrape(base);
    for (const name of DCGM) {
      expect(families.get(name)?.metrics, name).toHaveLength(8);
    }
    expect(families.get("DCGM_FI_DEV_GPU_TEMP")!.type).toBe("GAUGE");
    expect(families.get("DCGM_FI_DEV_POWER_VIOLATION")!.type).toBe("COUNTER");
    const first = families.get("DCGM_FI_DEV_GPU_TEMP")!.metrics[0]!.labels;
    expect(first).toEqual({
      gpu: "0", UUID: node.devices[0]!.id.uuid, pci_bus_id: "00000000:18:00.0", device: "nvidia0",
      modelName: "NVIDIA H100 80GB HBM3", Hostname: "node-a",
    });
    expect(Number(families.get("gpk_telemetry_source_up")!.metrics[0]!.value)).toBe(1);
    expect(value(families, "DCGM_FI_DEV_CLOCKS_EVENT_REASONS", "0")).toBe(1);
    expect(value(families, "DCGM_FI_DEV_FB_FREE", "0")).toBe(81079);
  });

  it("shows a power-capped burn and a cooling failure as the model computes them, over real time", async () => {
    let now = 0;
    const node = new SimNode({ hostname: "node-a" });
    const base = await start(new SimSource(node, { nowS: () => now, maxStepS: 1000 }));
    for (const gpu of [2, 3]) {
      const res = await post(base, "/sim/workload", { gpu, utilization: 100, fbUsedMiB: 60_000 });
      expect(await res.json()).toMatchObject({ gpu, health: "Healthy" });
    }
    expect((await post(base, "/sim/cooling", { gpu: node.devices[3]!.id.uuid, airflow: 0.3 })).status).toBe(200);
    now = 900;
    const { text, families } = await scrape(base);
    expect(value(families, "DCGM_FI_DEV_POWER_USAGE", "2")).toBeGreaterThan(690);
    expect(value(families, "DCGM_FI_DEV_CLOCKS_EVENT_REASONS", "2")).toBe(0x4);
    expect(value(families, "DCGM_FI_DEV_POWER_VIOLATION", "2")).toBeGreaterThan(800e6);
    expect(value(families, "DCGM_FI_DEV_CLOCKS_EVENT_REASONS", "3")).toBe(0x20);
    expect(value(families, "DCGM_FI_DEV_THERMAL_VIOLATION", "3")).toBeGreaterThan(0);
    expect(value(families, "DCGM_FI_DEV_GPU_TEMP", "3")).toBe(88);
    expect(value(families, "DCGM_FI_DEV_GPU_UTIL", "0")).toBe(0);

    const byGpu = new Map(parseDcgmMetrics(text).map((t) => [t.gpu, t]));
    expect(byGpu.size).toBe(8);
    expect(byGpu.get("2")).toMatchObject({ uuid: node.devices[2]!.id.uuid, hostname: "node-a", powerCapped: true, thermalSlowdown: false });
    expect(byGpu.get("3")).toMatchObject({ powerCapped: false, thermalSlowdown: true, temp: 88 });
    expect(byGpu.get("0")).toMatchObject({ powerCapped: false, thermalSlowdown: false });
  });

  it("injects XIDs and rejects bad control bodies with the field named", async () => {
    const base = await start(new SimSource(new SimNode({ hostname: "node-a" }), { nowS: () => 0 }));
    expect(await (await post(base, "/sim/xid", { gpu: 1, xid: 79 })).json()).toMatchObject({ gpu: 1, health: "Unhealthy" });
    const { families } = await scrape(base);
    expect(value(families, "DCGM_FI_DEV_XID_ERRORS", "1")).toBe(79);
    expect(value(families, "DCGM_FI_DEV_XID_ERRORS", "0")).toBe(0);
    const bad = await post(base, "/sim/workload", { gpu: 1, utilization: 150 });
    expect(bad.status).toBe(400);
    expect(await errorOf(bad)).toMatch(/^utilization: /);
    expect((await post(base, "/sim/workload", { gpu: 1, utilization: 5, fans: 3 })).status).toBe(400);
    const missing = await post(base, "/sim/xid", { gpu: 9, xid: 48 });
    expect(missing.status).toBe(404);
    expect(await errorOf(missing)).toBe('no GPU 9 on node node-a');
    const notJson = await fetch(`${base}/sim/reset`, { method: "POST", body: "{" });
    expect(notJson.status).toBe(400);
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    expect(((await (await post(base, "/sim/reset", { gpu: 1 })).json()) as { health: string }).health).toBe("Healthy");
  });

  it("keeps a state file that the simulated nvidia-smi in a container reads", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "gpk-telemetry-"));
    try {
      const file = path.join(dir, "node.json");
      let now = 0;
      const node = new SimNode({ hostname: "node-a", count: 2 });
      const base = await start(new SimSource(node, { nowS: () => now, stateFile: file }));
      await post(base, "/sim/workload", { gpu: 1, utilization: 100, fbUsedMiB: 1000 });
      now = 60;
      const { families } = await scrape(base);
      const seen = readNodeState(file);
      const out = runNvidiaSmi(["--query-gpu=uuid,temperature.gpu,clocks_event_reasons.sw_power_cap", "--format=csv,noheader"],
        { node: seen, now: new Date(0), visibleDevices: node.devices[1]!.id.uuid });
      expect(out.stdout).toBe(`${node.devices[1]!.id.uuid}, ${value(families, "DCGM_FI_DEV_GPU_TEMP", "1")}, Active\n`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("exporter with the nvidia-smi source (a fake nvidia-smi on PATH)", () => {
  let dir: string;
  let savedPath: string | undefined;
  const tool = () => path.join(dir, "nvidia-smi");
  const script = (body: string) => {
    writeFileSync(tool(), `#!/bin/sh\n${body}\n`);
    chmodSync(tool(), 0o755);
  };
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), "gpk-fake-smi-"));
    savedPath = process.env.PATH;
    process.env.PATH = `${dir}${path.delimiter}${savedPath ?? ""}`;
  });
  afterAll(() => {
    process.env.PATH = savedPath;
    rmSync(dir, { recursive: true, force: true });
  });

  it("exports the captured H100's values", async () => {
    script(`[ "$1 $2" = "-q -x" ] || { echo "unexpected args: $*" >&2; exit 2; }\ncat '${CAPTURE}'`);
    const { families } = await scrape(await start(new NvidiaSmiSource()));
    expect(families.get("DCGM_FI_DEV_GPU_TEMP")!.metrics).toEqual([{
      value: "35",
      labels: { gpu: "0", UUID: "GPU-bb019862-2968-4c40-021b-ff4c3647b59e", pci_bus_id: "00000000:00:06.0", device: "nvidia0", modelName: "NVIDIA H100 80GB HBM3", Hostname: "node-a" },
    }]);
    expect(value(families, "DCGM_FI_DEV_POWER_USAGE", "0")).toBe(71.42);
    expect(value(families, "DCGM_FI_DEV_MEMORY_TEMP", "0")).toBe(38);
    expect(value(families, "DCGM_FI_DEV_SM_CLOCK", "0")).toBe(345);
    expect(value(families, "DCGM_FI_DEV_CLOCKS_EVENT_REASONS", "0")).toBe(1);
    expect(families.has("DCGM_FI_DEV_XID_ERRORS")).toBe(true);
    expect(families.get("DCGM_FI_DEV_XID_ERRORS")!.metrics).toEqual([]); // nvidia-smi does not report XIDs
  });

  it("reports an unreadable source as a metric and a log line, keeps serving, and recovers", async () => {
    script(`echo "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver." ; exit 9`);
    const logs: string[] = [];
    const base = await start(new NvidiaSmiSource(), logs);
    const down = await scrape(base);
    await scrape(base);
    expect(Number(down.families.get("gpk_telemetry_source_up")!.metrics[0]!.value)).toBe(0);
    const err = down.families.get("gpk_telemetry_source_last_error")!.metrics[0]!.labels!.error;
    expect(err).toBe("nvidia-smi -q -x failed: exit code 9: NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.");
    expect(down.families.get("DCGM_FI_DEV_GPU_TEMP")!.metrics).toEqual([]);
    expect(logs).toEqual([`telemetry: source nvidia-smi unreadable: ${err}`]); // once, not per scrape
    script("echo '<nvidia_smi_log><gpu>'");
    const broken = await scrape(base);
    expect(broken.families.get("gpk_telemetry_source_last_error")!.metrics[0]!.labels!.error).toMatch(/does not parse/);
    script(`cat '${CAPTURE}'`);
    const up = await scrape(base);
    expect(Number(up.families.get("gpk_telemetry_source_up")!.metrics[0]!.value)).toBe(1);
    expect(Number(up.families.get("gpk_telemetry_source_errors_total")!.metrics[0]!.value)).toBe(3);
    expect(up.families.get("gpk_telemetry_source_last_error")!.metrics).toEqual([]);
    expect(logs.at(-1)).toBe("telemetry: source nvidia-smi recovered");
  });

  it("reports a missing tool without crashing", async () => {
    const { families } = await scrape(await start(new NvidiaSmiSource({ binary: path.join(dir, "absent-nvidia-smi") })));
    expect(Number(families.get("gpk_telemetry_source_up")!.metrics[0]!.value)).toBe(0);
    expect(families.get("gpk_telemetry_source_last_error")!.metrics[0]!.labels!.error).toMatch(/absent-nvidia-smi -q -x failed: .*ENOENT/);
  });
});

describe("parseDcgmMetrics", () => {
  it("accepts lower-case hostname, the old throttle-reasons name and NVIDIA's exporter output shape", () => {
    const text = [
      "# TYPE DCGM_FI_DEV_GPU_TEMP gauge",
      'DCGM_FI_DEV_GPU_TEMP{gpu="0",UUID="GPU-a",device="nvidia0",modelName="NVIDIA A100-SXM4-80GB",hostname="n1"} 91',
      'DCGM_FI_DEV_GPU_TEMP{gpu="1",UUID="GPU-b",device="nvidia1",modelName="NVIDIA A100-SXM4-80GB",hostname="n1"} 60',
      "# TYPE DCGM_FI_DEV_CLOCK_THROTTLE_REASONS gauge",
      'DCGM_FI_DEV_CLOCK_THROTTLE_REASONS{gpu="0",UUID="GPU-a",hostname="n1"} 72',
      'DCGM_FI_DEV_CLOCK_THROTTLE_REASONS{gpu="1",UUID="GPU-b",hostname="n1"} 4',
      "",
    ].join("\n");
    expect(parseDcgmMetrics(text)).toEqual([
      { uuid: "GPU-a", hostname: "n1", gpu: "0", modelName: "NVIDIA A100-SXM4-80GB", temp: 91, clockEventReasons: 72, powerCapped: false, thermalSlowdown: true },
      { uuid: "GPU-b", hostname: "n1", gpu: "1", modelName: "NVIDIA A100-SXM4-80GB", temp: 60, clockEventReasons: 4, powerCapped: true, thermalSlowdown: false },
    ]);
  });
});

describe("exporter following a node another process owns (the device plugin's state file)", () => {
  it("exports the owner's latest state on every scrape and refuses control requests", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "gpk-follow-"));
    try {
      const file = path.join(dir, "state.json");
      const owner = new SimNode({ hostname: "kind-worker", count: 4 });
      writeNodeState(file, owner);
      const base = await start(new FollowedSimSource(file));
      const before = await scrape(base);
      expect(before.families.get("DCGM_FI_DEV_GPU_TEMP")!.metrics).toHaveLength(4);
      expect(value(before.families, "DCGM_FI_DEV_XID_ERRORS", "2")).toBe(0);
      owner.device(2).injectXid(79);
      owner.setWorkload(0, { utilization: 100, fbUsedMiB: 1000 });
      owner.step(30);
      writeNodeState(file, owner);
      const after = await scrape(base);
      expect(value(after.families, "DCGM_FI_DEV_XID_ERRORS", "2")).toBe(79);
      expect(value(after.families, "DCGM_FI_DEV_CLOCKS_EVENT_REASONS", "0")).toBe(0x4);
      expect(after.families.get("DCGM_FI_DEV_GPU_TEMP")!.metrics[0]!.labels!.UUID).toBe(owner.devices[0]!.id.uuid);
      expect((await post(base, "/sim/xid", { gpu: 0, xid: 48 })).status).toBe(409);
      writeFileSync(file, "{not json");
      const broken = await scrape(base);
      expect(Number(broken.families.get("gpk_telemetry_source_up")!.metrics[0]!.value)).toBe(0);
      expect(broken.families.get("gpk_telemetry_source_last_error")!.metrics[0]!.labels!.error).toMatch(/^state file .*state\.json: /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
