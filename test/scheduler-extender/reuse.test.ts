/**
 * The extender remembers per pod shape what filter and prioritize computed for each node, until
 * the node changes (runtime/scheduler-extender/verdicts.ts). These tests run many pods of a few
 * shapes through filter → prioritize → bind over HTTP, so most answers come from remembered
 * verdicts, and check every answer against runtime/scheduling computed fresh on the same state
 * with a fresh policy.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPolicy, extenderScores, filterNodes, mulberry32, type NodeState } from "../../runtime/scheduling";
import type { RunningExtender } from "../../runtime/scheduler-extender/run";
import { podToRequest } from "../../runtime/scheduler-extender/translate";
import { L40S, WORKLOAD, k8sNode, k8sPod, post, start, writeSnapshot } from "./fixtures";

const NODES = Array.from({ length: 24 }, (_, i) =>
  k8sNode(`r${i}`, i % 4 === 3 ? { gpus: 4, product: L40S, cpu: "48" } : { gpus: 8, cpu: i % 5 === 0 ? "20" : "96", numa: "0,0,0,0,1,1,1,1" }),
);
const BOUND = [k8sPod("held-0", { gpus: 5, node: "r1" }), k8sPod("held-1", { gpus: 2, node: "r6", cpu: "60" })];
const SHAPES = [
  { gpus: 1, cpu: "8" },
  { gpus: 2, cpu: "16" },
  { gpus: 1, cpu: "2", milli: 500 },
  { gpus: 4, cpu: "32" },
  { gpus: 1, cpu: "8", product: L40S },
];

let ext: RunningExtender;
let picker: RunningExtender;
beforeAll(async () => {
  ext = await start(["--filter-answer", "all", "--snapshot", writeSnapshot({ nodes: NODES, pods: BOUND, workload: WORKLOAD }), "--policy", "gpk"]);
  picker = await start(["--snapshot", writeSnapshot({ nodes: NODES, pods: BOUND, workload: WORKLOAD }), "--policy", "gpk"]);
});
afterAll(async () => {
  await ext.close();
  await picker.close();
});

describe("remembered verdicts", () => {
  it("answer every filter and prioritize exactly as computing them fresh would, across 80 binds", async () => {
    const names = NODES.map((n) => n.metadata.name);
    let bound = 0;
    let reasons = 0;
    for (let i = 0; i < 120; i++) {
      const shape = SHAPES[i % SHAPES.length]!;
      const pod = k8sPod(`reuse-${i}`, shape);
      // Rotate the candidate order so the tie-break rank changes between pods.
      const order = [...names.slice(i % names.length), ...names.slice(0, i % names.length)];
      const filter = await post(ext.port, "filter", { Pod: pod, NodeNames: order });
      expect(filter.status).toBe(200);

      const request = podToRequest(pod);
      const nodes = order.map((n) => ext.cache.node(n)!);
      const fresh = filterNodes(nodes, request);
      expect(filter.body.NodeNames).toEqual(fresh.feasible.map((n) => n.name));
      expect({ ...filter.body.FailedNodes, ...filter.body.FailedAndUnresolvableNodes }).toEqual(fresh.failed);
      reasons += Object.keys(fresh.failed).length;
      if (fresh.feasible.length === 0) continue;

      const prio = await post(ext.port, "prioritize", { Pod: pod, NodeNames: filter.body.NodeNames });
      expect(prio.status).toBe(200);
      const candidates: NodeState[] = fresh.feasible;
      candidates.forEach((n, rank) => (n.rank = rank));
      const policy = createPolicy("gpk", { workload: ext.extender.policy.workload(), rng: mulberry32(42) });
      const expected = Array.from(extenderScores(candidates, request, policy), (s) => Math.max(0, s));
      expect((prio.body as { Score: number }[]).map((h) => h.Score)).toEqual(expected);

      const best = (prio.body as { Host: string; Score: number }[]).find((h) => h.Score === 10)!.Host;
      const bind = await post(ext.port, "bind", { PodName: pod.metadata.name, PodNamespace: "team-a", PodUID: pod.metadata.uid, Node: best });
      expect(bind.body).toEqual({ Error: "" });
      bound++;
    }
    // The run must have filled nodes (so verdicts went stale) and refused some.
    expect(bound).toBeGreaterThan(80);
    expect(reasons).toBeGreaterThan(100);
  });
});

describe("filter answering the pick (the default)", () => {
  it("passes exactly the node prioritize would score 10, with no reasons, and every reason when none fits, across 80 binds", async () => {
    const names = NODES.map((n) => n.metadata.name);
    let bound = 0;
    let unschedulable = 0;
    for (let i = 0; i < 120; i++) {
      const shape = SHAPES[i % SHAPES.length]!;
      const pod = k8sPod(`pick-${i}`, shape);
      const order = [...names.slice(i % names.length), ...names.slice(0, i % names.length)];
      // The state the filter sees (its answer books the pick, so read it before).
      const request = podToRequest(pod);
      const fresh = filterNodes(order.map((n) => picker.cache.node(n)!), request);
      const policy = createPolicy("gpk", { workload: picker.extender.policy.workload(), rng: mulberry32(42) });
      fresh.feasible.forEach((n, rank) => (n.rank = rank));
      const scores = extenderScores(fresh.feasible, request, policy);
      const filter = await post(picker.port, "filter", { Pod: pod, NodeNames: order });
      expect(filter.status).toBe(200);

      if (fresh.feasible.length === 0) {
        unschedulable++;
        expect(filter.body.NodeNames).toEqual([]);
        expect({ ...filter.body.FailedNodes, ...filter.body.FailedAndUnresolvableNodes }).toEqual(fresh.failed);
        continue;
      }
      // What the `all` answer followed by prioritize would have made kube-scheduler bind.
      const winner = fresh.feasible[scores.indexOf(10)]!.name;
      expect(filter.body.NodeNames).toEqual([winner]);
      expect(filter.body.FailedNodes).toEqual({});
      expect(filter.body.FailedAndUnresolvableNodes).toEqual({});
      // The bind guard takes the pick, and only the pick.
      const other = fresh.feasible.find((n) => n.name !== winner);
      if (other) {
        const refused = await post(picker.port, "bind", { PodName: pod.metadata.name, PodNamespace: "team-a", PodUID: pod.metadata.uid, Node: other.name });
        expect(refused.status).toBe(403);
      }
      const bind = await post(picker.port, "bind", { PodName: pod.metadata.name, PodNamespace: "team-a", PodUID: pod.metadata.uid, Node: winner });
      expect(bind.body).toEqual({ Error: "" });
      bound++;
    }
    expect(bound).toBeGreaterThan(80);
    expect(unschedulable).toBeGreaterThan(0);
  });
});
