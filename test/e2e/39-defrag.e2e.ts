/**
 * `gpk diagnose` and `gpk defrag --apply` against the real control plane of `gpk local up`: the
 * API server (Eviction API, PodDisruptionBudgets), kube-controller-manager (ReplicaSets recreate
 * evicted pods, the disruption controller fills in the budget's status), kube-scheduler as
 * gpk-scheduler calling `gpk extender` (which honours the defrag hold), and KWOK nodes.
 *
 * Two 8-GPU nodes are filled with sixteen 1-GPU pods of sixteen Deployments; two pods per node
 * are then deleted for good (their Deployments go), so a 4-GPU pod pends with 4 GPUs free.
 * Among the pods, one is opted out (gpk.dev/no-migrate) and one is protected by a
 * PodDisruptionBudget that allows no disruption; neither may be evicted. Then a node reported
 * hot by a DCGM exporter (`gpk telemetry --source sim`) has its pods moved off it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../cli/local/binaries/processes";
import { GFD_LABELS, GPK_SCHEDULER_NAME, GPU_PRODUCTS, GPU_RESOURCE, KIT_ANNOTATIONS, KIT_LABELS } from "../../gpu";
import { GPK, cluster, createNamespace, createObject, gpk, gpuPod, kubectl, kubectlOk, podJson, waitUntil } from "./cluster";
import { expectJsonShape } from "../cli/json-shape-assert";

const NS = "e2e-defrag";
const NODES = ["e2e-defrag-0", "e2e-defrag-1"];
const POOL = "e2e-defrag";
const MARK = { key: "e2e.gpk.dev/defrag", value: "true", effect: "NoSchedule" } as const;
const PLACEMENT = {
  schedulerName: GPK_SCHEDULER_NAME,
  nodeSelector: { [MARK.key]: MARK.value },
  tolerations: [{ key: MARK.key, operator: "Equal", value: MARK.value, effect: MARK.effect }],
};
const OPTED_OUT = "w00";
const GUARDED = "w01";

let exporter: ChildProcess | undefined;

beforeAll(async () => {
  await createNamespace(NS, { gpu: true });
  for (const name of NODES) {
    const resources = { cpu: "64", memory: "512Gi", pods: "110", [GPU_RESOURCE]: "8" };
    kubectlOk(["apply", "--server-side", "--field-manager=e2e", "-f", "-"], JSON.stringify({
      apiVersion: "v1", kind: "Node",
      metadata: { name, labels: { [MARK.key]: MARK.value, [KIT_LABELS.pool]: POOL, [GFD_LABELS.product]: GPU_PRODUCTS.h100.gfdProduct, "kubernetes.io/hostname": name, type: "kwok" }, annotations: { "kwok.x-k8s.io/node": "fake" } },
      spec: { taints: [MARK] },
    }));
    kubectlOk(["patch", "node", name, "--subresource=status", "--type=merge", "-p", JSON.stringify({ status: { capacity: resources, allocatable: resources } })]);
  }
  await waitUntil("defrag nodes Ready", () => {
    const nodes = kubectlOk(["get", "nodes", "-l", `${MARK.key}=${MARK.value}`, "-o", "json"]).items as any[];
    return nodes.length === NODES.length && nodes.every((n) => n.status.conditions?.some((c: any) => c.type === "Ready" && c.status === "True") && !(n.spec.taints ?? []).some((t: any) => t.key === "node.kubernetes.io/not-ready"));
  }, 60_000);
});

afterAll(() => {
  exporter?.kill();
  kubectl(["delete", "namespace", NS, "--wait=false"]);
  kubectl(["delete", "nodes", ...NODES, "--wait=false"]);
});

function deployment(name: string, annotations: Record<string, string> = {}) {
  const pod = gpuPod(name, NS, 1, { ...PLACEMENT, labels: { app: name } });
  return {
    apiVersion: "apps/v1", kind: "Deployment",
    metadata: { name, namespace: NS },
    spec: { replicas: 1, selector: { matchLabels: { app: name } }, template: { metadata: { labels: pod.metadata.labels, annotations }, spec: pod.spec } },
  };
}

const workerPods = () => (kubectlOk(["get", "pods", "-n", NS, "-l", "app", "-o", "json"]).items as any[]).filter((p) => !p.metadata.deletionTimestamp);
const appOf = (pod: any): string => pod.metadata.labels.app;
const holdOf = (node: string) => kubectlOk(["get", "node", node, "-o", "json"]).metadata.annotations?.[KIT_ANNOTATIONS.defragHold];

/** No GPU of the defrag nodes is booked twice, and each bound pod's assignment names its node. */
function expectNoGpuBookedTwice(): void {
  const held = new Set<string>();
  for (const pod of (kubectlOk(["get", "pods", "-n", NS, "-o", "json"]).items as any[]).filter((p) => p.spec.nodeName && !p.metadata.deletionTimestamp)) {
    const a = JSON.parse(pod.metadata.annotations[KIT_ANNOTATIONS.gpuAssignment]);
    expect(a.node).toBe(pod.spec.nodeName);
    for (const g of a.gpus) {
      const key = `${a.node}/${g}`;
      expect(held.has(key), `GPU ${key} booked twice`).toBe(false);
      held.add(key);
    }
  }
}

describe("gpk defrag on the live cluster", () => {
  let protectedBefore: Map<string, { uid: string; node: string }>;
  let target: string;

  it("fills both nodes, frees two GPUs on each, and gpk diagnose calls the pending 4-GPU pod fragmented", async () => {
    const names = Array.from({ length: 16 }, (_, i) => `w${String(i).padStart(2, "0")}`);
    const objects = names.map((n) => deployment(n, n === OPTED_OUT ? { [KIT_ANNOTATIONS.noMigrate]: "true" } : {}));
    objects.push({ apiVersion: "policy/v1", kind: "PodDisruptionBudget", metadata: { name: "guard", namespace: NS }, spec: { minAvailable: 1, selector: { matchLabels: { app: GUARDED } } } } as any);
    kubectlOk(["apply", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "List", items: objects }));
    await waitUntil("16 worker pods bound and Running", () => {
      const pods = workerPods();
      return pods.length === 16 && pods.every((p) => p.spec.nodeName && p.status.phase === "Running") && pods;
    }, 180_000);
    await waitUntil("the disruption controller's status of the budget", () => kubectlOk(["get", "pdb", "guard", "-n", NS, "-o", "json"]).status?.currentHealthy === 1, 60_000);
    const byNode = new Map(NODES.map((n) => [n, workerPods().filter((p) => p.spec.nodeName === n)]));
    for (const n of NODES) expect(byNode.get(n), n).toHaveLength(8);
    // Delete two unprotected Deployments per node: each node keeps 6 pods and 2 free GPUs.
    const gone = NODES.flatMap((n) => byNode.get(n)!.map(appOf).filter((a) => a !== OPTED_OUT && a !== GUARDED).slice(0, 2));
    kubectlOk(["delete", "deployment", "-n", NS, ...gone, "--wait=true", "--timeout=60s"]);
    await waitUntil("12 worker pods left", () => workerPods().length === 12, 60_000);
    protectedBefore = new Map(workerPods().filter((p) => [OPTED_OUT, GUARDED].includes(appOf(p))).map((p) => [appOf(p), { uid: p.metadata.uid, node: p.spec.nodeName }]));
    expect(protectedBefore.size).toBe(2);

    expect(createObject(gpuPod("big", NS, 4, PLACEMENT)).status).toBe(0);
    await waitUntil("the scheduler to report big unschedulable", () =>
      podJson(NS, "big")?.status.conditions?.some((c: any) => c.type === "PodScheduled" && c.status === "False"), 60_000);
    const run = gpk(["diagnose", "--kubeconfig", cluster().kubeconfig, "--json"]);
    expect(run.status, run.stderr).toBe(0);
    const big = expectJsonShape("diagnose", "diagnose", run.stdout).pending.find((p: any) => p.name === "big");
    expect(big).toMatchObject({ namespace: NS, gpus: 4, reason: "fragmented" });
    expect(big.detail).toContain("4 whole GPU(s) free across");
  });

  it("plans two moves and applies them through the Eviction API: big binds, the protected pods stay, the hold is gone", () => {
    // --pool keeps the run to this test's nodes, whatever the other files left pending elsewhere.
    const planned = gpk(["defrag", "--kubeconfig", cluster().kubeconfig, "--pool", POOL, "--plan", "--json"]);
    expect(planned.status, planned.stderr).toBe(0);
    const plan = expectJsonShape("defrag", "plan", planned.stdout);
    const step = plan.plans.find((p: any) => p.trigger.kind === "fragmented" && p.trigger.name === "big");
    expect(step, planned.stdout).toBeDefined();
    expect(step.moves).toHaveLength(2);
    target = step.node;
    const planTargets = new Set(step.moves.map((m: any) => m.to));
    expect([...planTargets]).toEqual(NODES.filter((n) => n !== target));

    const applied = gpk(["defrag", "--kubeconfig", cluster().kubeconfig, "--pool", POOL, "--apply", "--timeout", "120", "--json"]);
    expect(applied.status, `${applied.stdout}\n${applied.stderr}`).toBe(0);
    const report = expectJsonShape("defrag", "apply", applied.stdout);
    expect(report.ok).toBe(true);
    const done = report.applied.find((a: any) => a.trigger.kind === "fragmented");
    expect(done).toMatchObject({ node: target, bound: target, error: null });
    expect(done.moved).toHaveLength(2);
    for (const m of done.moved) expect(m).toMatchObject({ from: target, to: NODES.find((n) => n !== target) });

    expect(podJson(NS, "big").spec.nodeName).toBe(target);
    for (const [app, before] of protectedBefore) {
      const now = workerPods().find((p) => appOf(p) === app)!;
      expect({ uid: now.metadata.uid, node: now.spec.nodeName }, app).toEqual(before);
    }
    for (const n of NODES) expect(holdOf(n), n).toBeUndefined();
    expect(workerPods()).toHaveLength(12);
    expectNoGpuBookedTwice();
  });

  it("moves pods off a node whose GPU runs hot, but not the protected ones", async () => {
    kubectlOk(["delete", "pod", "big", "-n", NS, "--wait=true", "--timeout=60s"]);
    const hot = NODES.find((n) => n !== target)!;
    const port = await freePort();
    exporter = spawn(process.execPath, [GPK, "telemetry", "--source", "sim", "--host", "127.0.0.1", "--port", String(port), "--hostname", hot], { env: { ...process.env, GPK_SIM_GPUS: "8" }, stdio: "ignore" });
    const url = `http://127.0.0.1:${port}/metrics`;
    for (let i = 0; i < 100 && !(await fetch(url).then((r) => r.ok, () => false)); i++) await new Promise((r) => setTimeout(r, 300));
    // GPU 3 loses its cooling in a 60 °C room (the sim's warmest); wait until the exporter reports it above 40 °C.
    const post = await fetch(`http://127.0.0.1:${port}/sim/cooling`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ gpu: 3, airflow: 0.05, ambientC: 60 }) });
    expect(post.status).toBe(200);
    let hotNow = false;
    for (let i = 0; i < 240 && !hotNow; i++) {
      const text = await (await fetch(url)).text();
      hotNow = /DCGM_FI_DEV_GPU_TEMP\{[^}]*gpu="3"[^}]*\} (4[1-9]|[5-9]\d|1\d\d)(\.\d+)?/.test(text);
      if (!hotNow) await new Promise((r) => setTimeout(r, 500));
    }
    expect(hotNow, "GPU 3 above 40 °C").toBe(true);

    const applied = gpk(["defrag", "--kubeconfig", cluster().kubeconfig, "--pool", POOL, "--apply", "--telemetry-url", url, "--hot-temperature", "40", "--timeout", "120", "--json"]);
    expect(applied.status, `${applied.stdout}\n${applied.stderr}`).toBe(0);
    const report = JSON.parse(applied.stdout);
    const step = report.plans.find((p: any) => p.trigger.kind === "hot-node");
    expect(step).toMatchObject({ node: hot, hold: "draining", trigger: { node: hot, gpus: ["3"] } });
    const protectedOnHot = [...protectedBefore].filter(([, b]) => b.node === hot).map(([app]) => app);
    const stayingApps = step.staying.map((s: any) => workerPodsByName().get(s.name));
    for (const app of protectedOnHot) expect(stayingApps, app).toContain(app);
    const done = report.applied.find((a: any) => a.trigger.kind === "hot-node");
    expect(done.error).toBeNull();
    expect(done.moved).toHaveLength(4); // the budget; the cool node had exactly 4 GPUs free
    for (const m of done.moved) expect(m).toMatchObject({ from: hot, to: target });
    for (const [app, before] of protectedBefore) {
      const now = workerPods().find((p) => appOf(p) === app)!;
      expect({ uid: now.metadata.uid, node: now.spec.nodeName }, app).toEqual(before);
    }
    expect(workerPods().filter((p) => p.spec.nodeName === target)).toHaveLength(8);
    for (const n of NODES) expect(holdOf(n), n).toBeUndefined();
    expectNoGpuBookedTwice();
  });
});

/** Pod name → its app, for the pods that exist now (staying pods are not moved, so they still exist). */
function workerPodsByName(): Map<string, string> {
  return new Map(workerPods().map((p) => [p.metadata.name, appOf(p)]));
}
