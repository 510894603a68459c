import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { OPENB_DIR } from "../../data/paths";
import { offlineBounds, patternUpperBound, sortedPolicyPacking } from "../../runtime/cluster-sim/offline-bound";
import { feedArrivals, isLearningPoint } from "../../runtime/cluster-sim/simulate";
import { ShareValue, maximalPatterns, solveLp } from "../../runtime/scheduling/share-value";
import { assign, createPolicy, makeNode, mulberry32, parsePolicyName, place, selectNode, type PlacementPolicy, type PodRequest } from "../../runtime/scheduling";
import { seeded } from "../property-seed";
import { policy, share, whole, workload } from "./fixtures";

const shares = (milli: number, n: number) => Array.from({ length: n }, () => share(milli));
/** Mix where 0.32 belongs next to 0.65 (gap 0.03), not next to 0.47 (gap 0.21); 0.47 pairs with itself. */
const mix = [...shares(650, 10), ...shares(320, 10), ...shares(470, 20)];
const oneGpu = (name: string, usedMilli: number, rank = 0) => {
  const node = makeNode({ name, cpuMilli: 64_000, memoryMiB: 262_144, gpuCount: 1, gpuModel: "G2", rank });
  node.gpus[0]!.usedMilli = usedMilli;
  return node;
};

describe("the LP and the patterns", () => {
  it("solves a small packing LP exactly", () => {
    // max x + y  s.t.  x + 2y ≤ 4,  3x + y ≤ 6  →  x = 1.6, y = 1.2
    const [x, y] = solveLp([[1, 2], [3, 1]], [4, 6], [1, 1])!;
    expect(x).toBeCloseTo(1.6, 9);
    expect(y).toBeCloseTo(1.2, 9);
    expect(() => solveLp([[1]], [-1], [1])).toThrow(/b\[0\] = -1 is negative/);
  });

  it("lists every maximal pattern once, and says when it stopped early", () => {
    const { patterns, complete } = maximalPatterns([81, 16], 100);
    expect(complete).toBe(true);
    expect(patterns).toEqual([[1, 1], [0, 6]]);
    expect(maximalPatterns([10, 7, 3], 100, 5)).toMatchObject({ complete: false });
    expect(() => maximalPatterns([0], 100)).toThrow(/at least 1/);
  });
});

describe("learned share prices", () => {
  it("prices sizes by how they pack: 0.47 at half a GPU, 0.65 + 0.32 at one GPU together", () => {
    const value = new ShareValue();
    expect(value.loss(530, 320)).toBe(0); // nothing learned: no opinion
    value.learn(mix);
    expect(value.learnedPods).toBe(40);
    expect(value.priceOf(470)).toBeCloseTo(0.5, 9);
    expect(value.priceOf(650) + value.priceOf(320)).toBeCloseTo(1, 9);
    // 0.32 next to 0.65 (0.35 left) follows the optimal pattern; next to 0.47 (0.53 left) it wastes the 0.47 pair.
    expect(value.loss(350, 320)).toBe(0);
    expect(value.loss(530, 320)).toBeGreaterThan(0.15);
  });

  it("never prices a GPU's worth above one GPU, and no placement gains value (loss ≥ 0)", () => {
    const sizes = fc.constantFrom(50, 110, 160, 230, 320, 370, 460, 470, 550, 590, 650, 810);
    fc.assert(
      fc.property(fc.array(fc.tuple(sizes, fc.integer({ min: 1, max: 30 })), { minLength: 1, maxLength: 6 }), (counts) => {
        const value = new ShareValue();
        value.learn(counts.flatMap(([milli, n]) => shares(milli, n)));
        expect(value.valueOf(1000)).toBeLessThanOrEqual(1 + 1e-9);
        for (const [milli] of counts) {
          expect(value.priceOf(milli)).toBeGreaterThanOrEqual(-1e-9);
          for (let left = milli; left <= 1000; left += 10) expect(value.loss(left, milli)).toBeGreaterThanOrEqual(0);
        }
      }),
      seeded({ numRuns: 40 }),
    );
  });
});

describe("gpk-scarcity", () => {
  it("is gpk until it has learned; then keeps the gap beside a 0.47 share for the next 0.47", () => {
    const withHalf = oneGpu("with-0.47", 470, 1);
    const fresh = oneGpu("fresh", 0, 0);
    const p = policy("gpk-scarcity");
    const gpk = policy("gpk");
    const pod = share(320);
    for (const node of [withHalf, fresh]) expect(p.score(node, pod)).toBe(gpk.score(node, pod));
    // gpk fills the gap best-fit style (0.21 left, which no common size uses) ...
    expect(selectNode([withHalf, fresh], pod, gpk)?.name).toBe("with-0.47");
    const epoch = p.epoch;
    p.learn!(mix);
    expect(p.epoch).toBe(epoch! + 1);
    // ... the prices know 0.47 + 0.47 leaves 0.06 and 0.32 + 0.65 leaves 0.03: the 0.32 opens a GPU.
    expect(selectNode([withHalf, fresh], pod, p)?.name).toBe("fresh");
    expect(selectNode([withHalf, fresh], share(470), p)?.name).toBe("with-0.47");
    const withBig = oneGpu("with-0.65", 650, 2);
    expect(selectNode([withHalf, fresh, withBig], pod, p)?.name).toBe("with-0.65");
    expect(p.chooseGpus(withBig, pod)).toEqual([0]);
    // Whole-GPU pods are placed as gpk places them.
    const free = makeNode({ name: "free", cpuMilli: 96_000, memoryMiB: 393_216, gpuCount: 8, gpuModel: "G2" });
    expect(p.score(free, whole(2))).toBe(gpk.score(free, whole(2)));
    expect(p.chooseGpus(free, whole(2))).toEqual(gpk.chooseGpus(free, whole(2)));
  });

  it("picks the GPU with the least loss on a node, skipping GPUs of a model the pod does not accept", () => {
    const node = makeNode({ name: "n", cpuMilli: 96_000, memoryMiB: 393_216, gpuCount: 3, gpuModel: "G2" });
    assign(node, share(470), [0]);
    assign(node, share(650), [1]);
    const p = policy("gpk-scarcity");
    p.learn!(mix);
    expect(p.chooseGpus(node, share(320))).toEqual([1]);
    expect(p.chooseGpus(node, share(320, { gpuModels: ["T4"] }))).toEqual([]);
  });

  it("learns only from arrivals: the simulator feeds tasks[0..i) before task i, at 100 · 2^k", () => {
    expect([99, 100, 150, 200, 300, 400, 800, 1600].map(isLearningPoint)).toEqual([false, true, false, true, false, true, true, true]);
    const tasks = Array.from({ length: 900 }, (_, i) => share(100 + (i % 9) * 100, { name: `t${i}` }));
    const seen: { at: number; got: readonly PodRequest[] }[] = [];
    const spy: PlacementPolicy = { name: "spy", score: () => 0, chooseGpus: () => [], learn: (arrived) => seen.push({ at: -1, got: arrived }) };
    tasks.forEach((_, i) => {
      const before = seen.length;
      feedArrivals(spy, tasks, i);
      if (seen.length > before) seen[seen.length - 1]!.at = i;
    });
    expect(seen.map((s) => s.at)).toEqual([100, 200, 400, 800]);
    for (const { at, got } of seen) expect(got).toEqual(tasks.slice(0, at));
  });

  it("places a prefix the same whatever arrives after it (it cannot read the future)", () => {
    const rng = mulberry32(5);
    const sizes = [160, 230, 320, 470, 650, 810];
    const task = (i: number, r = rng) => share(sizes[Math.floor(r.next() * sizes.length)]!, { name: `t${i}`, cpuMilli: 2000 });
    const prefix = Array.from({ length: 450 }, (_, i) => task(i));
    const other = mulberry32(99);
    const futures = [
      Array.from({ length: 300 }, (_, i) => share(810, { name: `f${i}`, cpuMilli: 2000 })),
      Array.from({ length: 300 }, (_, i) => task(450 + i, other)),
    ];
    const run = (tasks: PodRequest[]) => {
      const nodes = Array.from({ length: 40 }, (_, i) => makeNode({ name: `n${i}`, cpuMilli: 96_000, memoryMiB: 393_216, gpuCount: 8, gpuModel: "G2", rank: (i * 17) % 40 }));
      const p = createPolicy(parsePolicyName("gpk-scarcity"), { workload, rng: mulberry32(1) });
      return tasks.map((t, i) => {
        feedArrivals(p, tasks, i);
        const placed = place(nodes, t, p);
        return placed ? `${placed.node.name}/${placed.gpus.join(",")}` : "failed";
      });
    };
    const [a, b] = futures.map((f) => run([...prefix, ...f]));
    expect(a!.slice(0, prefix.length)).toEqual(b!.slice(0, prefix.length));
    expect(a!.slice(prefix.length)).not.toEqual(b!.slice(prefix.length));
  });

  it("is accepted by name by the registry and by `gpk simulate --policy`", () => {
    expect(parsePolicyName("gpk-scarcity")).toBe("gpk-scarcity");
    expect(policy("gpk-scarcity").name).toBe("gpk-scarcity");
    const dir = mkdtempSync(path.join(tmpdir(), "gpk-scarcity-"));
    const head = (file: string, lines: number) => readFileSync(path.join(OPENB_DIR, file), "utf8").split("\n").slice(0, lines + 1).join("\n");
    writeFileSync(path.join(dir, "nodes.csv"), head("openb_node_list_gpu_node.csv", 60));
    writeFileSync(path.join(dir, "pods.csv"), head("openb_pod_list_gpushare40.csv", 500));
    const repoRoot = path.resolve(__dirname, "../..");
    const r = spawnSync(
      process.execPath,
      [path.join(repoRoot, "bin/gpk.js"), "simulate", "--nodes", path.join(dir, "nodes.csv"), "--pods", path.join(dir, "pods.csv"), "--policy", "gpk-scarcity", "--json"],
      { encoding: "utf8", cwd: repoRoot },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ policy: "gpk-scarcity", nodes: 60 });
    // With departures, and as the policy the gpk defragmenter re-places pods with.
    const replay = spawnSync(
      process.execPath,
      [path.join(repoRoot, "bin/gpk.js"), "simulate", "--mode", "replay", "--defrag", "gpk", "--nodes", path.join(dir, "nodes.csv"), "--pods", path.join(dir, "pods.csv"), "--policy", "gpk-scarcity", "--json"],
      { encoding: "utf8", cwd: repoRoot },
    );
    expect(replay.status, replay.stderr).toBe(0);
    expect(JSON.parse(replay.stdout)).toMatchObject({ policy: "gpk-scarcity", defrag: "gpk" });
  });
});

describe("offline bounds", () => {
  it("packs 0.81 + 0.16 on one GPU and bounds it exactly", () => {
    const nodes = [oneGpu("n", 0)];
    const tasks = [share(810), share(160), share(470)];
    expect(sortedPolicyPacking(nodes, tasks, "gpk")).toBe(970);
    expect(patternUpperBound(nodes, tasks)).toBeCloseTo(970, 6);
    expect(offlineBounds(nodes, tasks)).toMatchObject({ packedMilli: 970, capacityMilli: 1000 });
  });

  it("never packs more than the LP bound, nor the bound more than capacity", () => {
    const sizes = fc.constantFrom(160, 230, 320, 470, 650, 810, 1000);
    fc.assert(
      fc.property(fc.array(sizes, { minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 4 }), (milli, gpus) => {
        const nodes = [makeNode({ name: "n", cpuMilli: 1_000_000, memoryMiB: 1_000_000, gpuCount: gpus, gpuModel: "G2" })];
        const tasks = milli.map((m) => (m === 1000 ? whole(1, { cpuMilli: 1000 }) : share(m, { cpuMilli: 1000 })));
        const b = offlineBounds(nodes, tasks);
        expect(b.packedMilli).toBeLessThanOrEqual(b.upperBoundMilli + 1e-6);
        expect(b.upperBoundMilli).toBeLessThanOrEqual(gpus * 1000);
      }),
      seeded({ numRuns: 40 }),
    );
  });
});

describe("prices for a mix with too many patterns to list", () => {
  it("come from column generation, and are dual feasible and optimal like the full LP's", () => {
    // 20 sizes from 0.05 to 0.43: far more than 1000 maximal patterns.
    const sizes = Array.from({ length: 20 }, (_, i) => 50 + 20 * i);
    expect(maximalPatterns(sizes.map((s) => s / 10), 100, 1000).complete).toBe(false);
    const pods = sizes.flatMap((s, i) => shares(s, 5 + ((i * 7) % 11)));
    const value = new ShareValue();
    value.learn(pods);
    expect(value.valueOf(1000)).toBeLessThanOrEqual(1 + 1e-9); // no pattern is worth more than a GPU
    // Optimal: the priced demand equals the LP bound on GPUs, Σ n_s y_s = min GPUs (fractional).
    const priced = pods.reduce((sum, p) => sum + value.priceOf(p.gpuMilli), 0);
    const totalMilli = pods.reduce((sum, p) => sum + p.gpuMilli, 0);
    expect(priced).toBeGreaterThanOrEqual(totalMilli / 1000 - 1e-6); // at least the volume bound
  });
});
