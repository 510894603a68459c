import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseNodes, parsePods } from "../../runtime/cluster-sim/csv";
import { simulate } from "../../runtime/cluster-sim/simulate";
import {
  assign,
  makeNode,
  selectNode,
} from "../../runtime/scheduling";
import { g2, policy, pod, share, whole, workload } from "./fixtures";
import { cpuPerGpuMilli, strandedGpuMilli } from "../../runtime/scheduling/stranding";
import { OPENB_DIR } from "../../data/paths";

/** A CPU-rich 2-GPU node, like openb's T4 nodes (104 cores for 2 GPUs). */
const rich = (name: string, rank = 0) => makeNode({ name, cpuMilli: 104_000, memoryMiB: 393_216, gpuCount: 2, gpuModel: "G2", rank });
// ρ = (0.5 × 4000 + 0.5 × 8000) / (0.5 × 500 + 0.5 × 1000) = 8 milli-cores per milli-GPU.

describe("CPU stranding", () => {
  it("ρ is the workload's demand-weighted CPU per milli-GPU; stranded GPU is what CPU left / ρ cannot carry", () => {
    expect(cpuPerGpuMilli(workload)).toBe(8);
    expect(cpuPerGpuMilli({ shapes: [{ cpuMilli: 4000, gpuMilli: 0, numGpu: 0, gpuModels: [], weight: 1 }] })).toBe(0);
    expect(strandedGpuMilli(8000, 48_000, 8)).toBe(2000);
    expect(strandedGpuMilli(8000, 96_000, 8)).toBe(0);
    expect(strandedGpuMilli(2000, -4000, 8)).toBe(2000);
    expect(strandedGpuMilli(2000, 0, 0)).toBe(0);
  });

  it("sends a CPU-heavy CPU-only pod to the CPU-rich node, where FGD sees a tie and takes the rank", () => {
    const big = g2("g2", 0);
    const spare = rich("rich", 1);
    const cpuOnly = pod({ cpuMilli: 48_000 });
    expect(policy("fgd").score(big, cpuOnly)).toBe(50);
    expect(selectNode([big, spare], cpuOnly, policy("fgd"))?.name).toBe("g2");
    const p = policy("gpk");
    // g2: stranded 0 → 8000 − 48000/8 = 2000, so ΔF + ΔS = −2000: trunc(100σ(−2)) = 11
    expect(p.score(big, cpuOnly)).toBe(11);
    expect(p.score(spare, cpuOnly)).toBe(50);
    expect(selectNode([big, spare], cpuOnly, p)?.name).toBe("rich");
  });

  it("sends a GPU pod that brings too much CPU away from the node it would strand", () => {
    const heavy = whole(1, { cpuMilli: 60_000 });
    // g2 after: 7000 idle, 36000 CPU carries 4500 → 2500 stranded: trunc(100σ(−2.5)) = 7
    expect(policy("gpk").score(g2("g2", 0), heavy)).toBe(7);
    expect(selectNode([g2("g2", 0), rich("rich", 1)], heavy, policy("gpk"))?.name).toBe("rich");
    expect(selectNode([g2("g2", 0), rich("rich", 1)], heavy, policy("fgd"))?.name).toBe("g2");
  });

  it("prefers selling GPUs the CPU would otherwise strand", () => {
    const stranded = g2("stranded", 1);
    assign(stranded, whole(4, { cpuMilli: 80_000 }), [0, 1, 2, 3]); // 4 idle GPUs, 16 cores: 2000 stranded
    const light = whole(2, { cpuMilli: 2000 });
    // after: 2000 idle, 14 cores carry 1750 → 250 stranded; ΔS = +1750: trunc(100σ(1.75)) = 85
    expect(policy("gpk").score(stranded, light)).toBe(85);
    expect(selectNode([g2("fresh", 0), stranded], light, policy("gpk"))?.name).toBe("stranded");
    expect(selectNode([g2("fresh", 0), stranded], light, policy("fgd"))?.name).toBe("fresh");
  });
});

describe("gpk health and topology", () => {
  it("steers away from power-capped or hot GPUs", () => {
    const hot = makeNode({ name: "hot", cpuMilli: 32_000, memoryMiB: 65_536, gpuCount: 2, gpuModel: "T4", rank: 0 });
    hot.gpus[0]!.telemetry = { powerCapped: true };
    hot.gpus[1]!.telemetry = { temperatureC: 90 };
    const cool = makeNode({ name: "cool", cpuMilli: 32_000, memoryMiB: 65_536, gpuCount: 2, gpuModel: "T4", rank: 1 });
    cool.gpus[0]!.telemetry = { temperatureC: 60, powerCapped: false };
    const p = policy("gpk");
    expect(selectNode([hot, cool], whole(1), p)?.name).toBe("cool");
    expect(selectNode([hot, cool], share(500), p)?.name).toBe("cool");
    const mixed = makeNode({ name: "mixed", cpuMilli: 32_000, memoryMiB: 65_536, gpuCount: 2, gpuModel: "T4" });
    mixed.gpus[0]!.telemetry = { powerCapped: true };
    expect(p.chooseGpus(mixed, whole(1))).toEqual([1]);
    expect(p.chooseGpus(mixed, share(500))).toEqual([1]);
  });

  it("counts a GPU as hot from the default 83 °C up: 82.9 °C is not hot, 83 and 83.1 °C are", () => {
    // 83 °C written out (the documented default hot threshold), so the boundary is tested at the
    // value operators read in docs/placement.md and not at whatever the constant becomes.
    const p = policy("gpk");
    const pickAt = (temperatureC: number) => {
      const node = makeNode({ name: `t-${temperatureC}`, cpuMilli: 32_000, memoryMiB: 65_536, gpuCount: 2, gpuModel: "T4" });
      node.gpus[0]!.telemetry = { temperatureC };
      node.gpus[1]!.telemetry = { temperatureC: 40 };
      return p.chooseGpus(node, whole(1));
    };
    expect(pickAt(82.9)).toEqual([0]); // not hot: the lower index wins
    expect(pickAt(83)).toEqual([1]); // hot at exactly the threshold: the cool GPU goes first
    expect(pickAt(83.1)).toEqual([1]);
  });

  it("keeps a multi-GPU pod inside one NUMA node, the fullest that fits", () => {
    const node = makeNode({ name: "n", cpuMilli: 64_000, memoryMiB: 262_144, gpuCount: 8, gpuModel: "G2", numaNodes: [0, 0, 0, 0, 1, 1, 1, 1] });
    assign(node, whole(1), [4]);
    assign(node, whole(1), [5]);
    const p = policy("gpk");
    expect(p.chooseGpus(node, whole(2))).toEqual([6, 7]);
    expect(p.chooseGpus(node, whole(3))).toEqual([0, 1, 2]);
    const split = makeNode({ name: "split", cpuMilli: 64_000, memoryMiB: 262_144, gpuCount: 2, gpuModel: "G2", numaNodes: [0, 1], rank: 0 });
    const joined = makeNode({ name: "joined", cpuMilli: 64_000, memoryMiB: 262_144, gpuCount: 2, gpuModel: "G2", numaNodes: [0, 0], rank: 1 });
    expect(selectNode([split, joined], whole(2), p)?.name).toBe("joined");
  });
});

describe("gpk on the openb default trace", () => {
  const data = OPENB_DIR;
  const read = (f: string) => readFileSync(path.join(data, f), "utf8");
  /** The published allocation at 130% arrival (mean of 10 seeds), from the committed ANCHORS.md table ("100% / 130%" cells). */
  const publishedAt130 = (trace: string, policyName: string) => {
    const rows = read("ANCHORS.md").split("\n").filter((l) => l.startsWith("|")).map((l) => l.split("|").slice(1, -1).map((c) => c.trim()));
    const column = rows[0]!.indexOf(policyName);
    const row = rows.find((r) => r[0] === trace);
    if (!row || column < 1) throw new Error(`data/openb/ANCHORS.md has no ${policyName} figure for trace ${trace}`);
    return Number(row[column]!.split(" / ")[1]);
  };
  // Both tests read the same two simulations; whichever runs first computes them.
  let allocations: { fgd: number; gpk: number } | undefined;
  const seed42 = () => {
    if (!allocations) {
      const nodes = parseNodes("nodes", read("openb_node_list_gpu_node.csv"));
      const pods = parsePods("pods", read("openb_pod_list_default.csv"));
      const run = (policy: "fgd" | "gpk") => simulate({ nodes, pods, policy, seed: 42, now: () => 0 }).allocation["130"]!;
      allocations = { fgd: run("fgd"), gpk: run("gpk") };
    }
    return allocations;
  };

  it("FGD at 130% arrival, seed 42, lands within 0.5 points of the paper's 10-seed mean; gpk allocates more than both", () => {
    const paperFgd = publishedAt130("default", "FGD"); // 95.39 in the committed table
    const { fgd, gpk } = seed42();
    // One seed of ten: the published figure is a mean, so one run may sit a little off it.
    expect(Math.abs(fgd - paperFgd)).toBeLessThanOrEqual(0.5);
    expect(gpk).toBeGreaterThan(fgd + 0.3);
    expect(gpk).toBeGreaterThan(paperFgd);
  }, 120_000);

  it("regression snapshot: FGD, seed 42, allocates 95.47% at 130% arrival (this code's own earlier output, not a published figure)", () => {
    expect(seed42().fgd).toBeCloseTo(95.47, 2);
  }, 120_000);
});
