/**
 * The replay with departures and the migration planner on a cluster made to fragment: two
 * 8-GPU nodes filled with 1-GPU pods, half of which (alternately) finish at once, so 8 GPUs are
 * free in total but 4 on each node, and then an 8-GPU pod arrives.
 */
import { describe, expect, it } from "vitest";
import type { TimedPod } from "../../runtime/cluster-sim/csv";
import { replay } from "../../runtime/cluster-sim/replay";
import { assign, createPolicy, makeNode, mulberry32, type NodeState, type PodRequest } from "../../runtime/scheduling";
import { maxOfferedLoad, offeredLoad, steadyArrivals, windowForLoad } from "../../runtime/cluster-sim/arrivals";
import { planForPendingPod, planOffNode, type PlacedPod } from "../../runtime/scheduling/defrag";

const gpuPod = (name: string, numGpu: number): PodRequest => ({ name, cpuMilli: 1000, memoryMiB: 1024, numGpu, gpuMilli: 1000, gpuModels: [] });
const cluster = () => [
  makeNode({ name: "a", cpuMilli: 64000, memoryMiB: 512 * 1024, gpuCount: 8, gpuModel: "G", rank: 0 }),
  makeNode({ name: "b", cpuMilli: 64000, memoryMiB: 512 * 1024, gpuCount: 8, gpuModel: "G", rank: 1 }),
];
const policy = () => createPolicy("gpk", { workload: { shapes: [{ cpuMilli: 1000, gpuMilli: 1000, numGpu: 1, gpuModels: [], weight: 1 }] }, rng: mulberry32(1) });

/** 16 one-GPU pods at t=0; the odd ones finish at t=10, the even ones at t=1000; an 8-GPU pod at t=20 for 100 s. */
function fragmentingTrace(): TimedPod[] {
  const fill = Array.from({ length: 16 }, (_, i): TimedPod => ({ request: gpuPod(`fill-${i}`, 1), creationS: 0, deletionS: i % 2 === 1 ? 10 : 1000 }));
  return [...fill, { request: gpuPod("big", 8), creationS: 20, deletionS: 120 }];
}

describe("migration planner", () => {
  /** a and b each hold 4 one-GPU pods on GPUs 0..3; 4 GPUs free on each. */
  function halfFull(movable: (node: string) => boolean) {
    const nodes = cluster();
    const placed: PlacedPod[] = [];
    for (const node of nodes) {
      for (let g = 0; g < 4; g++) {
        const pod = gpuPod(`${node.name}-${g}`, 1);
        assign(node, pod, [g]);
        placed.push({ pod, node: node.name, gpus: [g], movable: movable(node.name) });
      }
    }
    return { nodes, placed };
  }

  it("moves the fewest pods that free a node for the pending pod, each onto a node with room", () => {
    const { nodes, placed } = halfFull(() => true);
    const plan = planForPendingPod(nodes, placed, gpuPod("big", 8), policy(), { budget: 4 });
    expect(plan).not.toBeNull();
    expect(plan!.moves).toHaveLength(4);
    const to = new Set(plan!.moves.map((m) => m.to));
    expect(to.size).toBe(1);
    expect(to.has(plan!.target)).toBe(false);
    expect(plan!.moves.every((m) => m.from === plan!.target)).toBe(true);
    // The plan left the state as it found it.
    expect(nodes.map((n) => n.gpus.map((g) => g.usedMilli).join(","))).toEqual(["1000,1000,1000,1000,0,0,0,0", "1000,1000,1000,1000,0,0,0,0"]);
  });

  it("never moves a pod marked unmovable, and stays within the budget", () => {
    const pinnedA = halfFull((node) => node !== "a");
    expect(planForPendingPod(pinnedA.nodes, pinnedA.placed, gpuPod("big", 8), policy(), { budget: 4 })!.target).toBe("b");
    const pinnedBoth = halfFull(() => false);
    expect(planForPendingPod(pinnedBoth.nodes, pinnedBoth.placed, gpuPod("big", 8), policy(), { budget: 4 })).toBeNull();
    const free = halfFull(() => true);
    expect(planForPendingPod(free.nodes, free.placed, gpuPod("big", 8), policy(), { budget: 3 })).toBeNull();
  });

  it("moves pods only where mayRun allows, and places the pending pod only where it may run", () => {
    const { nodes, placed } = halfFull(() => true);
    // b's pods may not go to a: the only plan empties a onto b.
    const onlyB = planForPendingPod(nodes, placed, gpuPod("big", 8), policy(), { budget: 4, mayRun: (pod, node) => !(pod.name.startsWith("b-") && node.name === "a") });
    expect(onlyB).toMatchObject({ target: "a" });
    expect(onlyB!.moves.every((m) => m.pod.startsWith("a-") && m.to === "b")).toBe(true);
    // The pending pod may not use a, and a's pods may not go to b: nothing works.
    expect(planForPendingPod(nodes, placed, gpuPod("big", 8), policy(), { budget: 4, mayRun: (pod, node) => !(pod.name === "big" && node.name === "b") && !(pod.name.startsWith("a-") && node.name === "b") })).toBeNull();
  });

  it("sheds a hot node's movable pods onto the others, largest first, within the budget, and leaves the state as it was", () => {
    const { nodes, placed } = halfFull((node) => node === "a");
    placed[0]!.movable = false; // a-0 is pinned
    const plan = planOffNode(nodes, placed, "a", policy(), { budget: 2 });
    expect(plan.moves.map((m) => [m.pod, m.from, m.to])).toEqual([["a-1", "a", "b"], ["a-2", "a", "b"]]);
    expect(plan.staying).toEqual(["a-0", "a-3"]);
    expect(nodes.map((n) => n.gpus.map((g) => g.usedMilli).join(","))).toEqual(["1000,1000,1000,1000,0,0,0,0", "1000,1000,1000,1000,0,0,0,0"]);
    // A node in `avoid` takes nothing.
    expect(planOffNode(nodes, placed, "a", policy(), { budget: 4, avoid: new Set(["b"]) }).moves).toEqual([]);
  });
});

describe("steady arrivals", () => {
  const timed = (name: string, numGpu: number, durationS: number): TimedPod => ({ request: gpuPod(name, numGpu), creationS: 0, deletionS: durationS });
  // Two long pods (1,000,000 s) and 100 short ones of 100 s, on a 16-GPU cluster.
  const pods = [timed("long-0", 4, 1e6), timed("long-1", 4, 1e6), ...Array.from({ length: 100 }, (_, i) => timed(`short-${i}`, 1, 100))];

  it("offers the asked load over the window it finds, and refuses one beyond the whole request", () => {
    expect(maxOfferedLoad(pods, 16)).toBeCloseTo(108 / 16, 9);
    // Long pods hold 8 of 16 GPUs for the whole window; the short ones add 100·100/(16·W).
    const w = windowForLoad(pods, 16, 0.75);
    expect(offeredLoad(pods, 16, w)).toBeCloseTo(0.75, 6);
    expect(w).toBeCloseTo(10_000 / (16 * 0.25), 3);
    expect(() => windowForLoad(pods, 16, 7)).toThrow("load 7 is out of reach: these pods offer at most 6.750 of the GPU capacity (all at once)");
  });

  it("starts the long-lived pods at 0 and spreads the others over the window, seeded", () => {
    const w = windowForLoad(pods, 16, 0.75);
    const arrivals = steadyArrivals(pods, 16, 0.75, mulberry32(3));
    expect(arrivals.slice(0, 2).map((a) => [pods[a.index]!.request.name.startsWith("long"), a.arrivalS])).toEqual([[true, 0], [true, 0]]);
    const times = arrivals.slice(2).map((a) => a.arrivalS);
    expect(times.every((t, i) => t > 0 && (i === 0 || t >= times[i - 1]!))).toBe(true);
    // A Poisson process of 100 arrivals at rate 100/W ends near W (the mean gap is W/100).
    expect(times.at(-1)! / w).toBeGreaterThan(0.7);
    expect(times.at(-1)! / w).toBeLessThan(1.3);
    expect(new Set(arrivals.map((a) => a.index)).size).toBe(pods.length);
    expect(steadyArrivals(pods, 16, 0.75, mulberry32(3))).toEqual(arrivals);
    expect(steadyArrivals(pods, 16, 0.75, mulberry32(4))).not.toEqual(arrivals);
  });

  it("replays at that load: allocation near it, the result carries the load, and it is deterministic", () => {
    const nodes = cluster();
    const result = replay({ nodes, pods, policy: "gpk", defrag: "none", load: 0.75, seed: 5 });
    expect(result.load).toBe(0.75);
    expect(result.allocationTimeWeighted).toBeGreaterThan(60);
    expect(result.allocationTimeWeighted).toBeLessThan(85);
    const strip = ({ wallSeconds: _w, ...rest }: typeof result) => rest;
    expect(strip(replay({ nodes: cluster(), pods, policy: "gpk", defrag: "none", load: 0.75, seed: 5 }))).toEqual(strip(result));
    expect("load" in replay({ nodes: cluster(), pods, policy: "gpk", defrag: "none", seed: 5 })).toBe(false);
  });
});

describe("replay with departures", () => {
  const run = (defrag: "none" | "high-node-utilization" | "gpk", seed = 42) => replay({ nodes: cluster(), pods: fragmentingTrace(), policy: "gpk", defrag, seed });

  it("without defragmentation the 8-GPU pod waits for the long pods although 8 GPUs are free", () => {
    const result = run("none");
    expect(result.queueDelaySeconds["8"]).toEqual({ p50: 980, p99: 980, count: 1 });
    expect(result.queueDelaySeconds["1"]).toEqual({ p50: 0, p99: 0, count: 16 });
    expect(result.migrations).toBe(0);
    expect(result.waitingAtEnd).toBe(0);
    // 16 GPUs busy for 10 s, 8 for the next 10: (16×10 + 8×10) / (16 × 20).
    expect(result.allocationTimeWeighted).toBe(75);
  });

  it("gpk moves 4 pods and places it at once; HighNodeUtilization (nodes half used) evicts nothing", () => {
    const gpk = run("gpk");
    expect(gpk.queueDelaySeconds["8"]).toEqual({ p50: 0, p99: 0, count: 1 });
    expect(gpk.migrations).toBe(4);
    const hnu = run("high-node-utilization");
    expect(hnu.queueDelaySeconds["8"]!.p99).toBe(980);
    expect(hnu.migrations).toBe(0);
  });

  it("is deterministic: same inputs and seed, same result", () => {
    const strip = ({ wallSeconds: _w, ...rest }: ReturnType<typeof run>) => rest;
    expect(strip(run("gpk", 7))).toEqual(strip(run("gpk", 7)));
  });

  it("HighNodeUtilization evicts every pod of a node below 20% and the scheduler places them again", () => {
    // One long 1-GPU pod (1/8 of its node, below 20%): at each 300 s run its node qualifies and
    // the other has room, so it is evicted and placed again wherever the policy says (3 runs
    // before the last arrival at 900 s). Its run time continues; nothing is left waiting.
    const trace: TimedPod[] = [
      { request: gpuPod("x", 1), creationS: 0, deletionS: 1000 },
      { request: gpuPod("z", 1), creationS: 900, deletionS: 901 },
    ];
    const nodes: NodeState[] = cluster();
    const result = replay({ nodes, pods: trace, policy: "gpk", defrag: "high-node-utilization", seed: 1 });
    expect(result.migrations).toBe(3);
    expect(result.waitingAtEnd).toBe(0);
    expect(result.queueDelaySeconds["1"]).toEqual({ p50: 0, p99: 0, count: 2 });
  });
});
