/**
 * The bind guard (runtime/scheduler-extender/bind-guard.ts): each rule's matching on both
 * sides, the ledger's freshness, and over HTTP every refusal a 403 with its reason, counted in
 * gpk_extender_refusals_total, while the guarded-for bind still goes through.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import parsePrometheus from "parse-prometheus-text-format";
import { FILTER_TTL_MS, FilterLedger, defragHoldOf, nodeSelectorMismatch, placementRefusal, requiredAffinityHolds, untoleratedTaint } from "../../runtime/scheduler-extender/bind-guard";
import type { RunningExtender } from "../../runtime/scheduler-extender/run";
import type { K8sNode, K8sPod } from "../../runtime/scheduler-extender/wire";
import { KIT_ANNOTATIONS, KIT_LABELS } from "../../gpu";
import { WORKLOAD, k8sNode, k8sPod, post, start, writeSnapshot } from "./fixtures";

const GPU_TAINT = { key: "nvidia.com/gpu", value: "present", effect: "NoSchedule" };

function node(name: string, opts: { labels?: Record<string, string>; taints?: object[]; annotations?: Record<string, string> } = {}): K8sNode {
  const n = k8sNode(name, { gpus: 8 });
  return { ...n, metadata: { ...n.metadata, labels: { ...n.metadata.labels, ...opts.labels }, annotations: { ...n.metadata.annotations, ...opts.annotations } }, spec: { taints: opts.taints ?? [] } } as K8sNode;
}

function pod(name: string, spec: object = {}, namespace = "team-a"): K8sPod {
  const p = k8sPod(name, { gpus: 1, namespace });
  return { ...p, spec: { ...p.spec, ...spec } } as K8sPod;
}

describe("taints", () => {
  it("needs a toleration for every NoSchedule and NoExecute taint, and ignores PreferNoSchedule", () => {
    const taints = [GPU_TAINT, { key: "soft", effect: "PreferNoSchedule" }, { key: "gone", value: "x", effect: "NoExecute" }];
    expect(untoleratedTaint([], taints)).toEqual(GPU_TAINT);
    expect(untoleratedTaint([{ key: "nvidia.com/gpu", operator: "Exists" }], taints)?.key).toBe("gone");
    expect(untoleratedTaint([{ key: "nvidia.com/gpu", operator: "Exists" }, { key: "gone", value: "x" }], taints)).toBeUndefined();
    // Equal compares values; a toleration for another effect does not count.
    expect(untoleratedTaint([{ key: "nvidia.com/gpu", value: "absent" }], [GPU_TAINT])).toEqual(GPU_TAINT);
    expect(untoleratedTaint([{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoExecute" }], [GPU_TAINT])).toEqual(GPU_TAINT);
    // An empty key with Exists tolerates everything; an empty key with Equal nothing.
    expect(untoleratedTaint([{ operator: "Exists" }], taints)).toBeUndefined();
    expect(untoleratedTaint([{ value: "present" }], [GPU_TAINT])).toEqual(GPU_TAINT);
  });
});

describe("node selector and required affinity", () => {
  it("nodeSelector: every label equal", () => {
    expect(nodeSelectorMismatch({ pool: "a" }, { pool: "a", zone: "z" })).toBeUndefined();
    expect(nodeSelectorMismatch({ pool: "a", zone: "y" }, { pool: "a", zone: "z" })).toBe("zone");
    expect(nodeSelectorMismatch({ pool: "a" }, {})).toBe("pool");
  });

  it("affinity: terms ORed, requirements ANDed, every operator, an empty term matches nothing", () => {
    const n = { name: "n1", labels: { pool: "a", cores: "16" } };
    const holds = (...terms: object[]) => requiredAffinityHolds(terms as never, n);
    expect(holds({ matchExpressions: [{ key: "pool", operator: "In", values: ["a", "b"] }] })).toBe(true);
    expect(holds({ matchExpressions: [{ key: "pool", operator: "NotIn", values: ["a"] }] })).toBe(false);
    expect(holds({ matchExpressions: [{ key: "absent", operator: "NotIn", values: ["a"] }] })).toBe(true);
    expect(holds({ matchExpressions: [{ key: "pool", operator: "Exists" }, { key: "absent", operator: "DoesNotExist" }] })).toBe(true);
    expect(holds({ matchExpressions: [{ key: "pool", operator: "Exists" }, { key: "pool", operator: "DoesNotExist" }] })).toBe(false);
    expect(holds({ matchExpressions: [{ key: "cores", operator: "Gt", values: ["8"] }] })).toBe(true);
    expect(holds({ matchExpressions: [{ key: "cores", operator: "Lt", values: ["8"] }] })).toBe(false);
    expect(holds({ matchExpressions: [{ key: "pool", operator: "Gt", values: ["8"] }] })).toBe(false); // not an integer
    expect(holds({ matchFields: [{ key: "metadata.name", operator: "In", values: ["n1"] }] })).toBe(true);
    expect(holds({ matchFields: [{ key: "metadata.labels", operator: "In", values: ["n1"] }] })).toBe(false);
    expect(holds({})).toBe(false);
    expect(holds({ matchExpressions: [{ key: "pool", operator: "In", values: ["b"] }] }, { matchExpressions: [{ key: "pool", operator: "In", values: ["a"] }] })).toBe(true);
  });
});

describe("placementRefusal", () => {
  const tolerant = { tolerations: [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }] };
  it("names the rule a pod breaks, and lets a pod that breaks none through", () => {
    const gpuNode = node("g1", { labels: { pool: "a" }, taints: [GPU_TAINT] });
    expect(placementRefusal(pod("p"), gpuNode)?.reason).toBe("taint");
    expect(placementRefusal(pod("p", { ...tolerant, nodeSelector: { pool: "b" } }), gpuNode)?.message).toBe("node g1 does not match the pod's nodeSelector pool=b");
    const affinity = { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: "pool", operator: "In", values: ["b"] }] }] } } };
    expect(placementRefusal(pod("p", { ...tolerant, affinity }), gpuNode)?.reason).toBe("node-affinity");
    expect(placementRefusal(pod("p", { ...tolerant, nodeSelector: { pool: "a" } }), gpuNode)).toBeUndefined();
  });

  it("keeps a dedicated pool to its tenant's namespace, even for a pod that tolerates the tenant taint", () => {
    const dedicated = node("d1", { labels: { [KIT_LABELS.tenant]: "team-b" }, taints: [{ key: KIT_LABELS.tenant, value: "team-b", effect: "NoSchedule" }] });
    const tolerates = { tolerations: [{ key: KIT_LABELS.tenant, operator: "Exists" }] };
    expect(placementRefusal(pod("p", tolerates, "team-a"), dedicated)?.message).toBe("node d1 is in a pool dedicated to tenant team-b; namespace team-a may not use it");
    expect(placementRefusal(pod("p", tolerates, "team-b"), dedicated)).toBeUndefined();
  });
});

describe("gpk defrag's hold on a node", () => {
  const held = (value: string) => node("h1", { annotations: { [KIT_ANNOTATIONS.defragHold]: value } });
  it("reads both forms and nothing else", () => {
    expect(defragHoldOf(held("draining"))).toEqual({ kind: "draining" });
    expect(defragHoldOf(held("reserved-for=team-a/big"))).toEqual({ kind: "reserved-for", pod: "team-a/big" });
    for (const bad of ["", "reserved-for=big", "reserved-for=a/b/c", "Draining"]) expect(defragHoldOf(held(bad)), bad).toBeUndefined();
    expect(defragHoldOf(node("plain"))).toBeUndefined();
  });

  it("takes only the pod a node is reserved for, and no pod while it drains", () => {
    expect(placementRefusal(pod("big"), held("reserved-for=team-a/big"))).toBeUndefined();
    expect(placementRefusal(pod("big", {}, "team-b"), held("reserved-for=team-a/big"))?.message).toBe("node h1 is reserved for pod team-a/big by gpk defrag (annotation gpk.dev/defrag-hold)");
    expect(placementRefusal(pod("small"), held("reserved-for=team-a/big"))?.reason).toBe("defrag-hold");
    expect(placementRefusal(pod("big"), held("draining"))?.message).toBe("node h1 is being drained (hot) by gpk defrag (annotation gpk.dev/defrag-hold)");
  });
});

describe("FilterLedger", () => {
  it("forgets an answer after the TTL, and the oldest beyond its capacity", () => {
    let now = 0;
    const ledger = new FilterLedger(() => now, FILTER_TTL_MS, 2);
    const request = { name: "p", cpuMilli: 1, memoryMiB: 1, numGpu: 1, gpuMilli: 1000, gpuModels: [] };
    ledger.record("a", pod("a"), request, ["n1"]);
    now = FILTER_TTL_MS;
    expect(ledger.get("a")?.passing).toEqual(["n1"]);
    now = FILTER_TTL_MS + 1;
    expect(ledger.get("a")).toBeUndefined();
    ledger.record("b", pod("b"), request, ["n1"]);
    ledger.record("c", pod("c"), request, ["n1"]);
    ledger.record("d", pod("d"), request, ["n1"]);
    expect([ledger.get("b"), ledger.get("c")?.pod.metadata.name, ledger.get("d")?.pod.metadata.name]).toEqual([undefined, "c", "d"]);
  });
});

describe("over HTTP", () => {
  const NODES = [
    node("pool-a", { labels: { [KIT_LABELS.pool]: "a" }, taints: [GPU_TAINT] }),
    node("pool-b", { labels: { [KIT_LABELS.pool]: "b" }, taints: [GPU_TAINT] }),
    node("dedicated", { labels: { [KIT_LABELS.pool]: "d", [KIT_LABELS.tenant]: "team-b" }, taints: [GPU_TAINT, { key: KIT_LABELS.tenant, value: "team-b", effect: "NoSchedule" }] }),
    node("reserved", { labels: { [KIT_LABELS.pool]: "r" }, annotations: { [KIT_ANNOTATIONS.defragHold]: "reserved-for=team-a/big" } }),
    node("draining", { labels: { [KIT_LABELS.pool]: "r" }, annotations: { [KIT_ANNOTATIONS.defragHold]: "draining" } }),
  ];
  /** The nodes no hold keeps from any pod. */
  const ALL = ["pool-a", "pool-b", "dedicated"];
  const tolerateAll = { tolerations: [{ operator: "Exists" }] };
  let ext: RunningExtender;
  beforeAll(async () => {
    ext = await start(["--filter-answer", "all", "--snapshot", writeSnapshot({ nodes: NODES, workload: WORKLOAD })]);
  });
  afterAll(() => ext.close());

  const bind = (p: K8sPod, nodeName: string) => post(ext.port, "bind", { PodName: p.metadata.name, PodNamespace: p.metadata.namespace, PodUID: p.metadata.uid, Node: nodeName });
  const filter = async (p: K8sPod, names = ALL) => (await post(ext.port, "filter", { Pod: p, NodeNames: names })).body.NodeNames;

  async function refusals(): Promise<Record<string, number>> {
    const text = await (await fetch(`http://127.0.0.1:${ext.healthPort}/metrics`)).text();
    const family = parsePrometheus(text).find((f) => f.name === "gpk_extender_refusals_total");
    return Object.fromEntries((family?.metrics ?? []).map((m: any) => [m.labels.reason, Number(m.value)]));
  }

  it("refuses each kind of bind the scheduler would not make with 403, counts it, and binds the one it would", async () => {
    const before = await refusals();
    const cases: [string, () => Promise<{ status: number; body: any }>, string][] = [];
    // Never filtered.
    const ghost = pod("ghost", tolerateAll);
    cases.push(["not-filtered", () => bind(ghost, "pool-a"), "pod team-a/ghost (uid-ghost) was not filtered by this extender in the last 5 minutes; only a pod it filtered may be bound"]);
    // Filtered onto pool-a only, bound to pool-b.
    const narrow = pod("narrow", tolerateAll);
    expect(await filter(narrow, ["pool-a"])).toEqual(["pool-a"]);
    cases.push(["node-not-passed", () => bind(narrow, "pool-b"), "node pool-b was not among the 1 node(s) the filter passed for pod team-a/narrow"]);
    // A UID the filter saw, claimed for another pod's name.
    cases.push(["not-filtered", () => post(ext.port, "bind", { PodName: "other", PodNamespace: "team-a", PodUID: narrow.metadata.uid, Node: "pool-a" }), "pod team-a/other (uid-narrow) was not filtered by this extender in the last 5 minutes; only a pod it filtered may be bound"]);
    // The extender's filter checks GPUs only; the scheduler's own filters would have dropped these nodes.
    const untolerating = pod("untolerating");
    expect(await filter(untolerating)).toEqual(ALL);
    cases.push(["taint", () => bind(untolerating, "pool-a"), "node pool-a has the taint nvidia.com/gpu=present:NoSchedule, which the pod does not tolerate"]);
    const selective = pod("selective", { ...tolerateAll, nodeSelector: { [KIT_LABELS.pool]: "a" } });
    expect(await filter(selective)).toEqual(ALL);
    cases.push(["node-selector", () => bind(selective, "pool-b"), "node pool-b does not match the pod's nodeSelector gpk.dev/pool=a"]);
    const affine = pod("affine", { ...tolerateAll, affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: KIT_LABELS.pool, operator: "NotIn", values: ["b"] }] }] } } } });
    expect(await filter(affine)).toEqual(ALL);
    cases.push(["node-affinity", () => bind(affine, "pool-b"), "node pool-b matches none of the pod's required node affinity terms"]);
    const intruder = pod("intruder", tolerateAll);
    expect(await filter(intruder)).toEqual(ALL);
    cases.push(["dedicated-pool", () => bind(intruder, "dedicated"), "node dedicated is in a pool dedicated to tenant team-b; namespace team-a may not use it"]);
    // gpk defrag's holds: the filter already drops the nodes, and a bind onto them is refused.
    const other = pod("other-pod", tolerateAll);
    const heldFailures = (await post(ext.port, "filter", { Pod: other, NodeNames: ["reserved", "draining", "pool-a"] })).body;
    expect(heldFailures.NodeNames).toEqual(["pool-a"]);
    expect(heldFailures.FailedNodes).toEqual({
      reserved: "node reserved is reserved for pod team-a/big by gpk defrag (annotation gpk.dev/defrag-hold)",
      draining: "node draining is being drained (hot) by gpk defrag (annotation gpk.dev/defrag-hold)",
    });
    // A hold placed between filter and bind refuses the bind.
    const late = pod("late", tolerateAll);
    expect(await filter(late, ["pool-b"])).toEqual(["pool-b"]);
    cases.push(["defrag-hold", async () => {
      ext.cache.upsertNode({ ...NODES[1]!, metadata: { ...NODES[1]!.metadata, resourceVersion: "held", annotations: { [KIT_ANNOTATIONS.defragHold]: "draining" } } });
      try {
        return await bind(late, "pool-b");
      } finally {
        ext.cache.upsertNode({ ...NODES[1]!, metadata: { ...NODES[1]!.metadata, resourceVersion: "released" } });
      }
    }, "node pool-b is being drained (hot) by gpk defrag (annotation gpk.dev/defrag-hold)"]);

    const expected: Record<string, number> = {};
    for (const [reason, call, message] of cases) {
      expect(await call()).toEqual({ status: 403, body: { Error: message } });
      expected[reason] = (expected[reason] ?? 0) + 1;
    }
    const after = await refusals();
    for (const [reason, n] of Object.entries(expected)) expect(after[reason] ?? 0, reason).toBe((before[reason] ?? 0) + n);
    // Nothing refused was booked.
    for (const p of [ghost, narrow, untolerating, selective, affine, intruder, other, late]) expect(ext.cache.podOn(p.metadata.uid!)).toBeUndefined();
    // The pod a node is reserved for passes the filter there and binds.
    const big = pod("big", tolerateAll);
    expect(await filter(big, ["reserved", "draining"])).toEqual(["reserved"]);
    expect(await bind(big, "reserved")).toEqual({ status: 200, body: { Error: "" } });
    // The binds the scheduler would make go through.
    expect(await bind(selective, "pool-a")).toEqual({ status: 200, body: { Error: "" } });
    const owner = pod("owner", tolerateAll, "team-b");
    expect(await filter(owner)).toEqual(ALL);
    expect(await bind(owner, "dedicated")).toEqual({ status: 200, body: { Error: "" } });
    expect(ext.cache.podOn(owner.metadata.uid!)?.nodeName).toBe("dedicated");
    // A filter answer is good for one bind: the same UID again is idempotent only where it landed.
    expect(await bind(owner, "dedicated")).toEqual({ status: 200, body: { Error: "" } });
    expect((await bind(owner, "pool-a")).status).toBe(403);
  });
});
