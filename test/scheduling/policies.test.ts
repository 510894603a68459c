import { describe, expect, it } from "vitest";
import {
  assign,
  createPolicy,
  makeNode,
  mulberry32,
  parsePolicyName,
  POLICY_NAMES,
  scoreNodes,
  selectNode,
  type NodeState,
} from "../../runtime/scheduling";
import { g2, policy, pod, share, whole, workload } from "./fixtures";

function withShare(node: NodeState, gpu: number, milli: number): NodeState {
  assign(node, share(milli, { cpuMilli: 4000 }), [gpu]);
  return node;
}

describe("baseline scores (artifact formulas, integer truncation)", () => {
  it("dotprod: 100 × (1 − dot/2) of max-spec-normalised free and requested vectors", () => {
    // node (0.75, 1.0) · pod (0.03125, 0.0625) / 2 = 0.04296875 → trunc(95.70) = 95
    expect(policy("dotprod").score(g2("a"), share(500))).toBe(95);
  });

  it("best-fit: 100 × (1 − ½ CPU left'/128 cores − ½ GPU left'/8 GPUs)", () => {
    // (92000/128000 + 7500/8000) / 2 = 0.828125 → trunc(17.19) = 17
    expect(policy("best-fit").score(g2("a"), share(500))).toBe(17);
  });

  it("gpu-packing: idle node, used node, shared GPU bands", () => {
    const p = policy("gpu-packing");
    expect(p.score(g2("idle"), share(500))).toBe(25); // max(33 − 8 free, 8)
    const used = withShare(g2("used"), 0, 500);
    expect(p.score(used, share(500))).toBe(95); // 100 − (50% left on the GPU it would share)/10
    expect(p.score(used, whole(1))).toBe(49); // 50 − 1 free GPU taken
    expect(p.score(used, pod({}))).toBe(0); // CPU-only
  });

  it("gpu-clustering: same-class node > mixed > idle > other classes", () => {
    const p = policy("gpu-clustering");
    expect(p.score(g2("idle"), share(500))).toBe(25);
    const sameOnly = withShare(g2("s"), 0, 500);
    expect(p.score(sameOnly, share(500))).toBe(76); // trunc(25 × 500/8000) + 75
    const other = g2("o");
    assign(other, whole(1), [0]);
    expect(p.score(other, share(500))).toBe(3); // trunc(25 × 1000/8000) + 0
    assign(other, share(500), [1]);
    expect(p.score(other, share(500))).toBe(54); // trunc(25 × 1500/8000) + 50
  });

  it("best-fit GPU choice: the fullest GPU that still fits, lowest index on ties", () => {
    const node = withShare(withShare(g2("a"), 3, 300), 5, 600);
    expect(policy("best-fit").chooseGpus(node, share(300))).toEqual([5]);
    expect(policy("best-fit").chooseGpus(node, share(500))).toEqual([3]);
    expect(policy("dotprod").chooseGpus(node, whole(2))).toEqual([0, 1]);
  });
});

describe("fgd", () => {
  it("scores trunc(100 × sigmoid(ΔF/1000)) against the target workload", () => {
    const fresh = makeNode({ name: "fresh", cpuMilli: 32_000, memoryMiB: 65_536, gpuCount: 2, gpuModel: "T4" });
    const half = withShare(makeNode({ name: "half", cpuMilli: 32_000, memoryMiB: 65_536, gpuCount: 2, gpuModel: "T4" }), 0, 500);
    const p = policy("fgd");
    // fresh: F 0 → 250 (the 1-GPU shape can no longer use the half GPU): trunc(100σ(−0.25)) = 43
    expect(p.score(fresh, share(500))).toBe(43);
    // half: F 250 → 0 when the pod fills GPU 0: trunc(100σ(0.25)) = 56
    expect(p.score(half, share(500))).toBe(56);
    expect(p.chooseGpus(half, share(500))).toEqual([0]);
    expect(selectNode([fresh, half], share(500), p)?.name).toBe("half");
  });

  it("picks the shared GPU that fragments least, not the first that fits", () => {
    const node = withShare(makeNode({ name: "n", cpuMilli: 32_000, memoryMiB: 65_536, gpuCount: 2, gpuModel: "T4" }), 1, 500);
    expect(policy("fgd").chooseGpus(node, share(500))).toEqual([1]);
  });
});

// gpk: test/scheduling/gpk.test.ts

describe("extender scores", () => {
  it("maps raw scores to 0..10 with exactly one 10: the node the simulator would pick", () => {
    const nodes = [g2("a", 2), g2("b", 0), withShare(g2("c", 1), 0, 500)];
    for (const name of POLICY_NAMES) {
      const p = createPolicy(name, { workload, rng: mulberry32(1) });
      const picked = selectNode(nodes, share(500), createPolicy(name, { workload, rng: mulberry32(1) }));
      const scores = scoreNodes(nodes, share(500), p);
      expect(scores.filter((s) => s.score === 10).map((s) => s.node), name).toEqual([picked!.name]);
      for (const s of scores) expect(s.score >= 0 && s.score <= 10 && Number.isInteger(s.score)).toBe(true);
    }
  });

  it("leaves infeasible nodes out and names unknown policies with the valid ones", () => {
    const tiny = makeNode({ name: "tiny", cpuMilli: 1000, memoryMiB: 1024, gpuCount: 1, gpuModel: "T4" });
    expect(scoreNodes([tiny, g2("a")], share(500), policy("fgd")).map((s) => s.node)).toEqual(["a"]);
    expect(() => parsePolicyName("tetris")).toThrow(/unknown placement policy "tetris"; valid policies: random, dotprod, gpu-clustering, gpu-packing, best-fit, fgd, gpk, gpk-scarcity/);
  });
});
