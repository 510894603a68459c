/**
 * Thermal awareness end to end: a real HTTP peer serves DCGM exporter metrics in which some
 * GPUs are hot or power-capped; the extender scrapes it and the gpk policy steers around them.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClusterCache } from "../../runtime/scheduler-extender/cache";
import type { RunningExtender } from "../../runtime/scheduler-extender/run";
import { TelemetryScraper } from "../../runtime/scheduler-extender/telemetry";
import { WORKLOAD, k8sNode, k8sPod, post, start, writeSnapshot } from "./fixtures";

const NODES = [k8sNode("hot-a", { gpus: 8 }), k8sNode("cool-b", { gpus: 8 }), k8sNode("mixed", { gpus: 8 })];
const uuid = (node: string, i: number) => `GPU-${node}-0000-${i}`;

/** dcgm-exporter text: every hot-a GPU at 91 °C; mixed GPU 0 at 88 °C, GPU 1 power-capped (reason 0x4). */
function metricsText(): string {
  const lines = ["# HELP DCGM_FI_DEV_GPU_TEMP GPU temperature (in C).", "# TYPE DCGM_FI_DEV_GPU_TEMP gauge"];
  const reasons = ["# HELP DCGM_FI_DEV_CLOCKS_EVENT_REASONS Current clock event reasons (bitmask).", "# TYPE DCGM_FI_DEV_CLOCKS_EVENT_REASONS gauge"];
  for (const node of ["hot-a", "cool-b", "mixed"]) {
    for (let i = 0; i < 8; i++) {
      const labels = `gpu="${i}",UUID="${uuid(node, i)}",pci_bus_id="00000000:${10 + i}:00.0",device="nvidia${i}",modelName="NVIDIA H100 80GB HBM3",Hostname="${node}"`;
      const temp = node === "hot-a" ? 91 : node === "mixed" && i === 0 ? 88 : 45;
      lines.push(`DCGM_FI_DEV_GPU_TEMP{${labels}} ${temp}`);
      reasons.push(`DCGM_FI_DEV_CLOCKS_EVENT_REASONS{${labels}} ${node === "mixed" && i === 1 ? 4 : 0}`);
    }
  }
  return [...lines, ...reasons, ""].join("\n");
}

let exporter: Server;
let url: string;
let scrapes = 0;
let ext: RunningExtender;
let blind: RunningExtender;

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 25));
  if (!check()) throw new Error(`timed out waiting for ${what}`);
}

beforeAll(async () => {
  exporter = createServer((req, res) => {
    scrapes++;
    res.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
    res.end(metricsText());
  });
  await new Promise<void>((r) => exporter.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(exporter.address() as AddressInfo).port}/metrics`;
  const snapshot = writeSnapshot({ nodes: NODES, workload: WORKLOAD });
  ext = await start(["--snapshot", snapshot, "--policy", "gpk", "--telemetry-url", url, "--telemetry-interval", "1"]);
  blind = await start(["--snapshot", snapshot, "--policy", "gpk"]);
  await until(() => ext.cache.node("mixed")?.gpus[1]?.telemetry !== undefined, "the first scrape");
});
afterAll(async () => {
  await ext.close();
  await blind.close();
  await new Promise((r) => exporter.close(r));
});

const names = NODES.map((n) => n.metadata.name);

describe("telemetry-aware placement", () => {
  it("records per-GPU temperature and power cap from the exporter", () => {
    expect(scrapes).toBeGreaterThan(0);
    expect(ext.cache.node("hot-a")!.gpus.every((g) => g.telemetry?.temperatureC === 91)).toBe(true);
    expect(ext.cache.node("mixed")!.gpus.slice(0, 3).map((g) => g.telemetry)).toEqual([
      { temperatureC: 88, powerCapped: false },
      { temperatureC: 45, powerCapped: true },
      { temperatureC: 45, powerCapped: false },
    ]);
  });

  it("without telemetry prefers the first node; with it, gpk leaves the hot node out", async () => {
    const pod = k8sPod("w1", { gpus: 8 });
    const plain = await post(blind.port, "prioritize", { Pod: pod, NodeNames: names });
    expect(plain.body.find((h: any) => h.Score === 10).Host).toBe("hot-a");
    const aware = await post(ext.port, "prioritize", { Pod: pod, NodeNames: names });
    const top = aware.body.find((h: any) => h.Score === 10).Host;
    expect(top).not.toBe("hot-a");
    expect(aware.body.find((h: any) => h.Host === "hot-a").Score).toBeLessThan(10);
  });

  it("gives a pod on a partly hot node healthy GPUs and records their UUIDs", async () => {
    const pod = k8sPod("w2", { gpus: 2 });
    await post(ext.port, "filter", { Pod: pod, NodeNames: ["mixed"] });
    const res = await post(ext.port, "bind", { PodName: "w2", PodNamespace: "team-a", PodUID: pod.metadata.uid, Node: "mixed" });
    expect(res.body).toEqual({ Error: "" });
    const gpus = ext.cache.podOn(pod.metadata.uid)!.gpus;
    expect(gpus).toHaveLength(2);
    expect(gpus).not.toContain(0);
    expect(gpus).not.toContain(1);
    expect(ext.cache.gpuUuids("mixed", gpus)).toEqual(gpus.map((i) => uuid("mixed", i)));
  });
});

describe("TelemetryScraper.stop", () => {
  it("a stop() while a round is in flight is final: no further round is scheduled", async () => {
    let requests = 0;
    let release: () => void = () => {};
    const slow = createServer((_req, res) => {
      requests++;
      release = () => res.end(metricsText());
      res.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
    });
    await new Promise<void>((r) => slow.listen(0, "127.0.0.1", r));
    const slowUrl = `http://127.0.0.1:${(slow.address() as AddressInfo).port}/metrics`;
    const scraper = new TelemetryScraper({ cache: new ClusterCache(), urls: [slowUrl], intervalMs: 1, log: () => {} });
    try {
      scraper.start();
      await until(() => requests === 1, "the first request");
      scraper.stop();
      release();
      await until(() => scraper.rounds === 1, "the first round to finish");
      await new Promise((r) => setTimeout(r, 100));
      expect(requests).toBe(1);
      expect(scraper.rounds).toBe(1);
    } finally {
      scraper.stop();
      slow.closeAllConnections();
      await new Promise((r) => slow.close(r));
    }
  });
});
