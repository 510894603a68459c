/**
 * `gpk defrag`: the plan on handmade cluster states (what may move, where to, the budget, both
 * triggers), then the real CLI's --plan against a Kubernetes API protocol peer, and its
 * refusals. --apply runs against the real API server in test/e2e/39-defrag.e2e.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { planDefrag, selectorMatches, unmovableReason, type K8sPodDisruptionBudget } from "../../cli/defrag/plan";
import { KIT_ANNOTATIONS, KIT_LABELS } from "../../gpu";
import type { K8sPod } from "../../runtime/scheduler-extender/wire";
import type { GpuTelemetry } from "../../runtime/telemetry/parse";
import { ApiPeer } from "../scheduler-extender/api-peer";
import { k8sNode, k8sPod } from "../scheduler-extender/fixtures";
import { runGpk, runGpkAsync } from "./run-gpk";
import { expectJsonShape } from "./json-shape-assert";

const node = (name: string) => {
  const n = k8sNode(name);
  return { ...n, metadata: { ...n.metadata, labels: { ...n.metadata.labels, [KIT_LABELS.pool]: "train" } } };
};

/** A 1-GPU pod of ReplicaSet `rs-<name>` bound to `on`, holding GPU `gpu`. */
function worker(name: string, on: string, gpu: number, opts: { annotations?: Record<string, string>; labels?: Record<string, string>; owner?: object | null } = {}) {
  const pod = k8sPod(name, { gpus: 1, node: on, labels: opts.labels, annotations: { [KIT_ANNOTATIONS.gpuAssignment]: JSON.stringify({ node: on, gpus: [gpu] }), ...opts.annotations } });
  const owner = opts.owner === undefined ? { apiVersion: "apps/v1", kind: "ReplicaSet", name: `rs-${name}`, uid: `rs-uid-${name}`, controller: true } : opts.owner;
  return { ...pod, metadata: { ...pod.metadata, creationTimestamp: "2026-11-27T10:00:00Z", ...(owner ? { ownerReferences: [owner] } : {}) } };
}

/** Two 8-GPU nodes with GPUs 0-5 held by one 1-GPU pod each: 4 GPUs free in total, 2 per node. */
function fragmentedCluster(opts: { n0?: Parameters<typeof worker>[3]; n1?: (i: number) => Parameters<typeof worker>[3] } = {}) {
  const pods = [
    ...[0, 1, 2, 3, 4, 5].map((i) => worker(`a${i}`, "n0", i, opts.n0)),
    ...[0, 1, 2, 3, 4, 5].map((i) => worker(`b${i}`, "n1", i, opts.n1?.(i))),
  ];
  return { nodes: [node("n0"), node("n1")], pods };
}

const pending = (name: string, gpus: number) => ({ ...k8sPod(name, { gpus }), metadata: { ...k8sPod(name, { gpus }).metadata, creationTimestamp: "2026-11-27T11:00:00Z" } });
const plan = (cluster: { nodes: any[]; pods: any[] }, extra: any[] = [], opts: { pdbs?: K8sPodDisruptionBudget[]; budget?: number; telemetry?: GpuTelemetry[]; pool?: string } = {}) =>
  planDefrag({ nodes: cluster.nodes, pods: [...cluster.pods, ...extra] as K8sPod[], pdbs: opts.pdbs ?? [], budget: opts.budget ?? 4, hotTemperatureC: 83, telemetry: opts.telemetry, pool: opts.pool });

describe("what may move", () => {
  const pdb = (name: string, selector: object, allowed: number): K8sPodDisruptionBudget => ({ metadata: { name, namespace: "team-a" }, spec: { selector }, status: { disruptionsAllowed: allowed } });

  it("label selectors: matchLabels and every expression, an empty selector matches all", () => {
    const labels = { app: "train", tier: "gpu" };
    expect(selectorMatches({}, labels)).toBe(true);
    expect(selectorMatches({ matchLabels: { app: "train" } }, labels)).toBe(true);
    expect(selectorMatches({ matchLabels: { app: "serve" } }, labels)).toBe(false);
    expect(selectorMatches({ matchExpressions: [{ key: "tier", operator: "In", values: ["gpu", "cpu"] }, { key: "zone", operator: "DoesNotExist" }] }, labels)).toBe(true);
    expect(selectorMatches({ matchExpressions: [{ key: "tier", operator: "NotIn", values: ["gpu"] }] }, labels)).toBe(false);
    expect(selectorMatches({ matchExpressions: [{ key: "app", operator: "Exists" }, { key: "app", operator: "Bogus" }] }, labels)).toBe(false);
  });

  it("a controller's pod placed by gpk-scheduler, unless opted out, a DaemonSet's, static, or held by its PodDisruptionBudget", () => {
    const p = (opts: Parameters<typeof worker>[3]) => worker("p", "n0", 0, { labels: { app: "train" }, ...opts }) as unknown as K8sPod;
    expect(unmovableReason(p({}), [])).toBeUndefined();
    expect(unmovableReason(p({ annotations: { [KIT_ANNOTATIONS.noMigrate]: "true" } }), [])).toBe('opted out (gpk.dev/no-migrate: "true")');
    expect(unmovableReason(p({ annotations: { [KIT_ANNOTATIONS.noMigrate]: "false" } }), [])).toBeUndefined();
    expect(unmovableReason(p({ owner: null }), [])).toBe("no controller would recreate it");
    expect(unmovableReason(p({ owner: { kind: "DaemonSet", name: "ds", uid: "u", controller: true } }), [])).toBe("a DaemonSet's pod comes back on the same node");
    expect(unmovableReason(p({ owner: { kind: "ReplicaSet", name: "rs", uid: "u" } }), [])).toBe("no controller would recreate it"); // an owner, not a controller
    expect(unmovableReason(p({ annotations: { "kubernetes.io/config.mirror": "x" } }), [])).toBe("a static (mirror) pod");
    const defaultScheduled = { ...p({}), spec: { ...p({}).spec, schedulerName: "default-scheduler" } } as K8sPod;
    expect(unmovableReason(defaultScheduled, [])).toBe("scheduled by default-scheduler, which does not honour gpk defrag's hold");
    expect(unmovableReason(p({}), [pdb("guard", { matchLabels: { app: "train" } }, 0)])).toBe("PodDisruptionBudget guard allows no disruption now");
    expect(unmovableReason(p({}), [pdb("guard", { matchLabels: { app: "train" } }, 1)])).toBeUndefined();
    expect(unmovableReason(p({}), [pdb("other", { matchLabels: { app: "serve" } }, 0)])).toBeUndefined();
    expect(unmovableReason(p({}), [{ ...pdb("elsewhere", {}, 0), metadata: { name: "elsewhere", namespace: "team-b" } }])).toBeUndefined();
  });
});

describe("the plan for a fragmented pending pod", () => {
  it("moves the fewest pods off one node onto the other, and reserves that node for the pod", () => {
    const result = plan(fragmentedCluster(), [pending("big", 4)]);
    expect(result.unplanned).toEqual([]);
    expect(result.plans).toHaveLength(1);
    const [step] = result.plans;
    expect(step!.trigger).toEqual({ kind: "fragmented", namespace: "team-a", name: "big", gpus: 4 });
    expect(step!.hold).toBe("reserved-for=team-a/big");
    expect(step!.moves).toHaveLength(2);
    const other = step!.node === "n0" ? "n1" : "n0";
    for (const m of step!.moves) expect(m).toMatchObject({ from: step!.node, to: other });
    // The two moved pods take the two free GPUs of the other node, one each.
    expect(step!.moves.flatMap((m) => m.gpus).sort()).toEqual([6, 7]);
  });

  it("leaves opted-out and PDB-protected pods where they are", () => {
    const guard: K8sPodDisruptionBudget = { metadata: { name: "guard", namespace: "team-a" }, spec: { selector: { matchLabels: { guarded: "yes" } } }, status: { disruptionsAllowed: 0 } };
    const cluster = fragmentedCluster({
      n0: { annotations: { [KIT_ANNOTATIONS.noMigrate]: "true" } },
      n1: (i) => (i < 4 ? { labels: { guarded: "yes" } } : {}),
    });
    const [step] = plan(cluster, [pending("big", 4)], { pdbs: [guard] }).plans;
    expect(step!.node).toBe("n1");
    expect(step!.moves.map((m) => m.name).sort()).toEqual(["b4", "b5"]);
  });

  it("says why there is no plan: nothing movable, or a budget too small", () => {
    const stuck = plan(fragmentedCluster({ n0: { owner: null }, n1: () => ({ owner: null }) }), [pending("big", 4)]);
    expect(stuck.plans).toEqual([]);
    expect(stuck.unplanned).toEqual([{ trigger: { kind: "fragmented", namespace: "team-a", name: "big", gpus: 4 }, reason: "no plan of at most 4 move(s) frees 4 GPU(s) on one node it may use: the pods in the way are unmovable or have nowhere to go" }]);
    expect(plan(fragmentedCluster(), [pending("big", 4)], { budget: 1 }).unplanned[0]!.reason).toContain("no plan of at most 1 move(s)");
    // A pod that asks for more than is free in total is not fragmented: no trigger at all.
    expect(plan(fragmentedCluster(), [pending("huge", 6)])).toMatchObject({ plans: [], unplanned: [] });
  });

  it("spends the budget across pods, oldest first, each plan seeing the moves before it", () => {
    const cluster = fragmentedCluster();
    const first = pending("first", 4);
    const second = { ...pending("second", 4), metadata: { ...pending("second", 4).metadata, creationTimestamp: "2026-11-27T12:00:00Z" } };
    const result = plan(cluster, [second, first], { budget: 2 });
    expect(result.plans.map((p) => p.trigger.kind === "fragmented" && p.trigger.name)).toEqual(["first"]);
    expect(result.unplanned).toEqual([{ trigger: { kind: "fragmented", namespace: "team-a", name: "second", gpus: 4 }, reason: "the budget of 2 move(s) is spent" }]);
  });
});

describe("the plan for a hot node", () => {
  const hot = (hostname: string, gpu: string, temp: number): GpuTelemetry => ({ uuid: `GPU-${hostname}-${gpu}`, hostname, gpu, temp, powerCapped: false, thermalSlowdown: false });

  it("drains what fits elsewhere and says why the rest stays", () => {
    const cluster = fragmentedCluster({ n0: {}, n1: (i) => (i === 0 ? { annotations: { [KIT_ANNOTATIONS.noMigrate]: "true" } } : {}) });
    const result = plan(cluster, [], { telemetry: [hot("n1", "3", 88), hot("n0", "0", 60)] });
    expect(result.plans).toHaveLength(1);
    const [step] = result.plans;
    expect(step).toMatchObject({ trigger: { kind: "hot-node", node: "n1", gpus: ["3"] }, node: "n1", hold: "draining" });
    expect(step!.moves).toHaveLength(2);
    for (const m of step!.moves) expect(m).toMatchObject({ from: "n1", to: "n0" });
    expect(step!.staying).toHaveLength(4);
    expect(step!.staying.find((s) => s.name === "b0")!.reason).toBe('opted out (gpk.dev/no-migrate: "true")');
    expect(step!.staying.filter((s) => s.name !== "b0").every((s) => s.reason === "no other node it may run on has room")).toBe(true);
  });

  it("with a pool, plans for its nodes only and moves nothing out of it", () => {
    const cluster = fragmentedCluster();
    const spare = k8sNode("s0");
    cluster.nodes.push({ ...spare, metadata: { ...spare.metadata, labels: { ...spare.metadata.labels, [KIT_LABELS.pool]: "spare" } } });
    const telemetry = [hot("n0", "1", 90)];
    // Without the pool, n0's pods may go to the empty spare node once n1's two free GPUs are taken.
    expect(plan(cluster, [], { telemetry }).plans.map((p) => [p.node, new Set(p.moves.map((m) => m.to))])).toEqual([["n0", new Set(["n1", "s0"])]]);
    const scoped = plan(cluster, [], { telemetry, pool: "train" });
    expect(scoped.plans.map((p) => p.node)).toEqual(["n0"]);
    expect(scoped.plans[0]!.moves.map((m) => m.to)).toEqual(["n1", "n1"]);
    expect(plan(cluster, [], { telemetry, pool: "spare" })).toEqual({ budget: 4, plans: [], unplanned: [] });
  });

  it("moves nothing onto another hot node", () => {
    const result = plan(fragmentedCluster(), [], { telemetry: [hot("n0", "1", 90), hot("n1", "1", 90)] });
    expect(result.plans).toEqual([]);
    expect(result.unplanned.map((u) => u.reason)).toEqual([
      "none of its 6 pod(s) can move: team-a/a0: no other node it may run on has room",
      "none of its 6 pod(s) can move: team-a/b0: no other node it may run on has room",
    ]);
  });
});

describe("gpk defrag", () => {
  const peer = new ApiPeer();
  beforeAll(async () => {
    const { nodes, pods } = fragmentedCluster({ n1: (i) => (i < 4 ? { labels: { guarded: "yes" } } : {}) });
    peer.objects.nodes.push(...nodes);
    peer.objects.pods.push(...pods, pending("big", 4));
    peer.pdbs.push({ metadata: { name: "guard", namespace: "team-a" }, spec: { selector: { matchLabels: { guarded: "yes" } } }, status: { disruptionsAllowed: 0 } });
    await peer.start();
    peer.releaseLists();
  });
  afterAll(() => peer.close());

  it("--plan --json reads nodes, pods and PodDisruptionBudgets through a kubeconfig and prints the documented shape", async () => {
    const result = await runGpkAsync(["defrag", "--kubeconfig", peer.kubeconfig(), "--plan", "--json"]);
    expect(result.status, result.stderr).toBe(0);
    const doc = expectJsonShape("defrag", "plan", result.stdout);
    expect(Object.keys(doc)).toEqual(["budget", "plans", "unplanned", "telemetry"]);
    expect(doc.plans).toHaveLength(1);
    // n1's guarded pods leave only two movable there: moving two off n0 is as cheap, and n1's two as well; either way no guarded pod moves.
    const moved: string[] = doc.plans[0].moves.map((m: any) => m.name);
    expect(moved).toHaveLength(2);
    expect(moved.filter((n) => ["b0", "b1", "b2", "b3"].includes(n))).toEqual([]);
    expect(peer.bindings).toEqual([]);
  });

  it("prints the plan as text by default", async () => {
    const result = await runGpkAsync(["defrag", "--kubeconfig", peer.kubeconfig()]);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^Plan: 2 move\(s\) of a budget of 4\n {2}pending team-a\/big \(4 GPU, fragmented\): hold n[01] \(reserved-for=team-a\/big\)\n {4}move /);
  });

  it("exits 2 with one line for a cluster it cannot reach and for bad flags", async () => {
    const down = new ApiPeer();
    await down.start();
    const kubeconfig = down.kubeconfig();
    await down.close();
    const unreachable = runGpk(["defrag", "--kubeconfig", kubeconfig, "--json"]);
    expect(unreachable.status).toBe(2);
    expect(unreachable.stdout).toBe("");
    expect(unreachable.stderr).toMatch(/gpk defrag: cannot read the cluster through .*: connect ECONNREFUSED/);
    expect(unreachable.stderr).not.toMatch(/\n\s+at /);
    for (const [args, message] of [
      [["--plan", "--apply"], "--plan and --apply exclude each other"],
      [["--budget", "0"], "--budget"],
      [["--budget", "two"], '--budget: expected an integer, got "two"'],
      [["--timeout", "-1"], "--timeout"],
      [["--telemetry-url", "localhost:9400"], 'expected an http(s) URL, got "localhost:9400"'],
    ] as const) {
      const bad = runGpk(["defrag", ...args]);
      expect(bad.status, args.join(" ")).toBe(2);
      expect(bad.stderr).toContain(message);
    }
    // The peer answers in this process, so this one runs asynchronously.
    const noPool = await runGpkAsync(["defrag", "--kubeconfig", peer.kubeconfig(), "--pool", "nosuch"]);
    expect(noPool.status).toBe(2);
    expect(noPool.stderr).toContain("gpk defrag: --pool: no node has the label gpk.dev/pool=nosuch");
  });
});
