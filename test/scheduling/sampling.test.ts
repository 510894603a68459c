/**
 * kube-scheduler's node sampling as the simulator replays it (runtime/scheduling/sampling.ts):
 * the count it looks for (numFeasibleNodesToFind, schedule_one.go v1.35.4) and the rotating start.
 */
import { describe, expect, it } from "vitest";
import { NodeSampler, feasibleNodesToFind, makeNode, type PodRequest } from "../../runtime/scheduling";

describe("feasibleNodesToFind", () => {
  it("follows kube-scheduler: every node below 100, adaptive 50 - n/125 down to 5%, at least 100", () => {
    expect(feasibleNodesToFind(0, 99)).toBe(99);
    expect(feasibleNodesToFind(10, 99)).toBe(99);
    // Adaptive: 1,523 openb nodes -> 38% -> 578; 5,000 -> 10% -> 500; 10,000 -> 5% floor -> 500.
    expect(feasibleNodesToFind(0, 1523)).toBe(578);
    expect(feasibleNodesToFind(0, 5000)).toBe(500);
    expect(feasibleNodesToFind(0, 10000)).toBe(500);
    expect(feasibleNodesToFind(0, 6000)).toBe(300);
    expect(feasibleNodesToFind(5, 1000)).toBe(100);
    expect(feasibleNodesToFind(30, 1523)).toBe(456);
    expect(feasibleNodesToFind(100, 1523)).toBe(1523);
  });
});

describe("NodeSampler", () => {
  const nodes = Array.from({ length: 300 }, (_, i) => makeNode({ name: `n${i}`, rank: i, cpuMilli: 96_000, memoryMiB: 1 << 20, gpuCount: i % 3 === 0 ? 0 : 8, gpuModel: "H100" }));
  const pod: PodRequest = { name: "p", cpuMilli: 1000, memoryMiB: 1024, numGpu: 1, gpuMilli: 1000, gpuModels: [] };

  it("returns the first feasible nodes from a start that moves on by the nodes it checked", () => {
    const sampler = new NodeSampler(10);
    const first = sampler.candidates(nodes, pod);
    // 10% of 300 is 30, below the floor of 100: 100 feasible nodes, two of every three nodes.
    expect(first).toHaveLength(100);
    expect(first[0]!.name).toBe("n1");
    expect(first[99]!.name).toBe("n149");
    const second = sampler.candidates(nodes, pod);
    expect(second[0]!.name).toBe("n151");
    // The search wraps around the list.
    expect(second[99]!.name).toBe("n299");
    expect(sampler.candidates(nodes, pod)[0]!.name).toBe("n1");
  });

  it("hands every feasible node over at 100, and refuses a percentage kube-scheduler would", () => {
    expect(new NodeSampler(100).candidates(nodes, pod)).toHaveLength(200);
    expect(() => new NodeSampler(101)).toThrow("percentageOfNodesToScore: expected an integer from 0 (adaptive) to 100, got 101");
  });
});
