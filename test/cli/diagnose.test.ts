/**
 * `gpk diagnose`: the rules on handmade cluster states, then the real CLI against a
 * Kubernetes API protocol peer (list over HTTP with a bearer token) and a real DCGM-format
 * exporter (`gpk telemetry --source sim`).
 */
import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { diagnose } from "../../cli/diagnose/diagnosis";
import { freePort } from "../../cli/local/binaries/processes";
import { KIT_LABELS } from "../../gpu";
import type { GpuTelemetry } from "../../runtime/telemetry/parse";
import { ApiPeer } from "../scheduler-extender/api-peer";
import { k8sNode, k8sPod } from "../scheduler-extender/fixtures";
import { GPK, runGpk, runGpkAsync } from "./run-gpk";
import { expectJsonShape } from "./json-shape-assert";

function pooled(node: ReturnType<typeof k8sNode>, pool: string, taint?: { key: string; value: string }) {
  return {
    ...node,
    metadata: { ...node.metadata, labels: { ...node.metadata.labels, [KIT_LABELS.pool]: pool } },
    ...(taint ? { spec: { taints: [{ ...taint, effect: "NoSchedule" }] } } : {}),
  };
}

/** Two 8-GPU training nodes with 6 GPUs bound on each, and a dedicated node of another tenant. */
function cluster(dedicatedBusy: boolean) {
  const nodes = [pooled(k8sNode("n0"), "train"), pooled(k8sNode("n1"), "train"), pooled(k8sNode("d0"), "dedicated", { key: KIT_LABELS.tenant, value: "team-z" })];
  const bound = [k8sPod("b0", { gpus: 6, node: "n0" }), k8sPod("b1", { gpus: 6, node: "n1" }), ...(dedicatedBusy ? [k8sPod("bz", { gpus: 8, node: "d0", namespace: "team-z" })] : [])];
  return { nodes, bound };
}

const run = (pending: ReturnType<typeof k8sPod>[], opts: { dedicatedBusy?: boolean; extenderReachable?: boolean; telemetry?: GpuTelemetry[] } = {}) => {
  const { nodes, bound } = cluster(opts.dedicatedBusy ?? true);
  return diagnose({ nodes: nodes as any, pods: [...bound, ...pending] as any, hotTemperatureC: 83, extenderReachable: opts.extenderReachable, telemetry: opts.telemetry });
};

describe("diagnosis", () => {
  it("accounts each pool's GPUs", () => {
    const { pools } = run([]);
    expect(pools.map((p) => [p.pool, p.nodes, p.gpus, p.allocated, p.idle])).toEqual([["dedicated", 1, 8, 8, 0], ["train", 2, 16, 12, 4]]);
    const train = pools.find((p) => p.pool === "train")!;
    expect(train.fragmented).toBeGreaterThan(0);
    expect(train.fragmented).toBeLessThanOrEqual(train.idle);
  });

  it("names a pod that fits nowhere although enough GPUs are free fragmented, and one that asks for more than is free insufficient", () => {
    const { pending } = run([k8sPod("three", { gpus: 3 }), k8sPod("eight", { gpus: 8 })]);
    expect(pending).toEqual([
      { namespace: "team-a", name: "eight", gpus: 8, reason: "insufficient-gpus", detail: "needs 8 GPU(s); 4 whole GPU(s) free across 2 eligible node(s), at most 2 on one" },
      { namespace: "team-a", name: "three", gpus: 3, reason: "fragmented", detail: "needs 3 GPU(s) on one node; 4 whole GPU(s) free across 2 eligible node(s), at most 2 on one" },
    ]);
  });

  it("names taints or affinity when only nodes the pod may not use have room", () => {
    const [found] = run([k8sPod("eight", { gpus: 8 })], { dedicatedBusy: false }).pending;
    expect(found).toMatchObject({ reason: "taints-or-affinity" });
    expect(found!.detail).toContain("node d0 has the taint gpk.dev/tenant=team-z:NoSchedule, which the pod does not tolerate");
  });

  it("calls a pod fragmented within the nodes it may use even when a node it may not use has room", () => {
    const [found] = run([k8sPod("three", { gpus: 3 })], { dedicatedBusy: false }).pending;
    expect(found).toMatchObject({ reason: "fragmented", detail: "needs 3 GPU(s) on one node; 4 whole GPU(s) free across 2 eligible node(s), at most 2 on one" });
  });

  it("calls a pod with room schedulable, or extender-down when it uses gpk-scheduler and the extender does not answer", () => {
    expect(run([k8sPod("two", { gpus: 2 })]).pending[0]).toMatchObject({ reason: "schedulable", detail: "2 node(s) fit it now (n0, n1); it waits for the scheduler" });
    expect(run([k8sPod("two", { gpus: 2 })], { extenderReachable: false }).pending[0]).toMatchObject({ reason: "extender-down" });
  });

  it("lists GPUs that are hot, power-capped or slowing for heat", () => {
    const sample = (gpu: string, temp: number, powerCapped = false, thermalSlowdown = false): GpuTelemetry => ({ uuid: `GPU-${gpu}`, hostname: "n0", gpu, temp, powerCapped, thermalSlowdown });
    const { hotGpus } = run([], { telemetry: [sample("0", 60), sample("1", 83), sample("2", 70, true), sample("3", 75, false, true)] });
    expect(hotGpus.map((g) => [g.gpu, g.temperatureC, g.powerCapped, g.thermalSlowdown])).toEqual([["1", 83, false, false], ["2", 70, true, false], ["3", 75, false, true]]);
  });
});

describe("gpk diagnose", () => {
  const peer = new ApiPeer();
  let telemetryPort = 0;
  let exporter: ReturnType<typeof spawn>;

  beforeAll(async () => {
    const { nodes, bound } = cluster(true);
    peer.objects.nodes.push(...nodes);
    peer.objects.pods.push(...bound, k8sPod("three", { gpus: 3 }));
    await peer.start();
    peer.releaseLists();
    telemetryPort = await freePort();
    exporter = spawn(process.execPath, [GPK, "telemetry", "--source", "sim", "--host", "127.0.0.1", "--port", String(telemetryPort), "--hostname", "n0"], { env: { ...process.env, GPK_SIM_GPUS: "2" }, stdio: "ignore" });
    for (let i = 0; i < 100; i++) {
      if (await fetch(`http://127.0.0.1:${telemetryPort}/metrics`).then((r) => r.ok, () => false)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  });
  afterAll(async () => {
    exporter?.kill();
    await peer.close();
  });

  it("reads the cluster through a kubeconfig and prints the documented JSON", async () => {
    const closed = await freePort();
    const result = await runGpkAsync(["diagnose", "--kubeconfig", peer.kubeconfig(), "--json", "--telemetry-url", `http://127.0.0.1:${telemetryPort}/metrics`, "--extender-url", `http://127.0.0.1:${closed}/healthz`]);
    expect(result.status, result.stderr).toBe(0);
    const doc = expectJsonShape("diagnose", "diagnose", result.stdout);
    expect(Object.keys(doc)).toEqual(["pools", "pending", "hotGpus", "telemetry", "extender"]);
    expect(doc.pools.map((p: any) => p.pool)).toEqual(["dedicated", "train"]);
    expect(doc.pending).toEqual([expect.objectContaining({ name: "three", reason: "fragmented" })]);
    expect(doc.telemetry).toEqual([{ url: `http://127.0.0.1:${telemetryPort}/metrics`, ok: true }]);
    expect(doc.extender).toMatchObject({ ok: false, error: "ECONNREFUSED" });
    expect(peer.unauthorized).toBe(0);
  });

  it("exits 2 with one line for a cluster it cannot reach, and for a bad flag", async () => {
    const down = new ApiPeer();
    await down.start();
    const kubeconfig = down.kubeconfig();
    await down.close();
    const result = runGpk(["diagnose", "--kubeconfig", kubeconfig, "--json"]);
    expect(result.status).toBe(2);
    expect(result.stdout).toBe("");
    const lines = result.stderr.trim().split("\n").filter((l) => l.startsWith("gpk diagnose:"));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^gpk diagnose: cannot read the cluster through ${kubeconfig.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: connect ECONNREFUSED 127\\.0\\.0\\.1:\\d+$`));
    expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
    const bad = runGpk(["diagnose", "--hot-temperature", "hot"]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--hot-temperature: expected degrees C between 0 and 150, got "hot"');
  });
});
