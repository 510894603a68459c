import { describe, expect, it } from "vitest";
import { assign, clusterFragmentationRate, Fragmenter, makeNode, targetWorkload, type PodRequest } from "../../runtime/scheduling";

const task = (name: string, cpu: number, numGpu: number, gpuMilli: number, gpuModels: string[] = []): PodRequest => ({
  name,
  cpuMilli: cpu,
  memoryMiB: 1024,
  numGpu,
  gpuMilli,
  gpuModels,
});

describe("target workload (popular task shapes)", () => {
  it("keeps the most popular shapes until they cover 95% of tasks and renormalises", () => {
    const tasks = [
      ...Array.from({ length: 60 }, (_, i) => task(`a${i}`, 4000, 1, 1000)),
      ...Array.from({ length: 36 }, (_, i) => task(`b${i}`, 2000, 1, 500)),
      ...Array.from({ length: 3 }, (_, i) => task(`c${i}`, 8000, 0, 0)),
      task("d", 1000, 8, 1000),
    ];
    const w = targetWorkload(tasks);
    expect(w.shapes.map((s) => [s.cpuMilli, s.numGpu, s.gpuMilli])).toEqual([
      [4000, 1, 1000],
      [2000, 1, 500],
    ]);
    expect(w.shapes.map((s) => s.weight)).toEqual([60 / 96, 36 / 96]);
  });

  it("breaks count ties toward the larger shape", () => {
    const w = targetWorkload([task("x", 1000, 1, 1000), task("y", 2000, 1, 1000)], { popularity: 0.5 });
    expect(w.shapes.map((s) => s.cpuMilli)).toEqual([2000]);
  });
});

describe("fragmentation (FGD definition)", () => {
  const workload = {
    shapes: [
      { cpuMilli: 1000, gpuMilli: 0, numGpu: 0, gpuModels: [], weight: 0.2 },
      { cpuMilli: 4000, gpuMilli: 500, numGpu: 1, gpuModels: [], weight: 0.4 },
      { cpuMilli: 8000, gpuMilli: 1000, numGpu: 2, gpuModels: ["V100M32"], weight: 0.4 },
    ],
  };
  const f = new Fragmenter(workload);

  it("counts idle GPU a shape cannot use, weighted by the shape's frequency", () => {
    // left [300, 1000, 1000], CPU ample, model T4:
    //   CPU-only shape: all 2300 idle → 0.2 × 2300 = 460
    //   500-milli shape fits; the 300 left on GPU 0 is below it → 0.4 × 300 = 120
    //   2-GPU V100M32 shape: no access on T4 → 0.4 × 2300 = 920
    expect(f.fragOf("T4", 32_000, [300, 1000, 1000], 3)).toBeCloseTo(1500, 9);
    // same on V100M32: the 2-GPU shape fits on GPUs 1-2, GPU 0's 300 is below 1000 → 0.4 × 300
    expect(f.fragOf("V100M32", 32_000, [300, 1000, 1000], 3)).toBeCloseTo(460 + 120 + 120, 9);
    // CPU too short for every GPU shape: all idle counts for each of them
    expect(f.fragOf("V100M32", 2000, [300, 1000, 1000], 3)).toBeCloseTo(2300, 9);
    expect(f.fragOf("T4", 32_000, [0, 0], 2)).toBe(0);
  });

  it("the cluster rate is fragment / idle in percent", () => {
    const node = makeNode({ name: "n", cpuMilli: 32_000, memoryMiB: 65_536, gpuCount: 3, gpuModel: "T4" });
    assign(node, task("p", 1000, 1, 700), [0]);
    expect(clusterFragmentationRate([node], f)).toBeCloseTo((100 * 1500) / 2300, 9);
  });
});
