/**
 * The replay with departures and the migration planner on a cluster made to fragment: two
 * 8-GPU nodes filled with 1-GPU pods, half of which (alternately) finish at once, so 8 GPUs are
 * free in total but 4 on each node, and then an 8-GPU pod arrives.
 */
import { describe, expect, it } from "vitest";
import type { TimedPod } from "../../runtime/cluster-sim/csv";
import { replay } from "../../runtime/cluster-sim/replay";
import { assign, createPolicy, makeNode, mulberry32, type NodeState, type PodRequest } from "../../runtime/scheduling";
import { planForPendingPod, type PlacedPod } from "../../runtime/scheduling/defrag";

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
