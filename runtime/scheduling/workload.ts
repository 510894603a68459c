/**
 * The target workload FGD measures fragmentation against: the popular task shapes of a trace
 * and their frequencies (FGD paper §4; artifact `GetTypicalPods`). A shape is
 * (CPU, milli-GPU per GPU, GPU count, acceptable models); memory is not part of it.
 *
 * The artifact's experiments count every task, CPU-only ones included, sort shapes by count
 * (ties: the larger shape first), keep the most popular ones until they cover 95% of tasks,
 * and renormalise their frequencies to sum to 1.
 */
import type { PodRequest } from "./types";

export interface TaskShape {
  cpuMilli: number;
  gpuMilli: number;
  numGpu: number;
  gpuModels: readonly string[];
  /** Frequency in the target workload; all shapes sum to 1. */
  weight: number;
}

export interface TargetWorkload {
  shapes: readonly TaskShape[];
}

export interface TargetWorkloadOptions {
  /** Share of tasks the kept shapes must cover, 0..1 (artifact experiments: 0.95). */
  popularity?: number;
  /** Whether CPU-only tasks count (artifact experiments: true). */
  includeCpuOnly?: boolean;
}

/** Cache key of a pod's shape. */
export function shapeKey(pod: Pick<PodRequest, "cpuMilli" | "gpuMilli" | "numGpu" | "gpuModels" | "migProfile">): string {
  return `${pod.cpuMilli}/${pod.gpuMilli}/${pod.numGpu}/${pod.gpuModels.join("|")}${pod.migProfile ? `/mig-${pod.migProfile}` : ""}`;
}

/** Go's string order (bytes), which the artifact's tie-break uses. */
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The artifact's `PodResource.Less`: by CPU, then milli-GPU, then GPU count, then model string. */
function shapeLess(a: TaskShape, b: TaskShape): number {
  if (a.cpuMilli !== b.cpuMilli) return a.cpuMilli - b.cpuMilli;
  if (a.gpuMilli !== b.gpuMilli) return a.gpuMilli - b.gpuMilli;
  if (a.numGpu !== b.numGpu) return a.numGpu - b.numGpu;
  return compareStrings(a.gpuModels.join("|"), b.gpuModels.join("|"));
}

export function targetWorkload(pods: readonly PodRequest[], options: TargetWorkloadOptions = {}): TargetWorkload {
  const popularity = options.popularity ?? 0.95;
  const includeCpuOnly = options.includeCpuOnly ?? true;
  const counts = new Map<string, TaskShape>();
  let total = 0;
  for (const pod of pods) {
    if (!includeCpuOnly && pod.numGpu === 0) continue;
    const key = shapeKey(pod);
    const shape = counts.get(key);
    if (shape) shape.weight++;
    else counts.set(key, { cpuMilli: pod.cpuMilli, gpuMilli: pod.gpuMilli, numGpu: pod.numGpu, gpuModels: [...pod.gpuModels], weight: 1 });
    total++;
  }
  if (total === 0) return { shapes: [] };
  // Most popular first; equal counts: the "larger" shape first (sort.Reverse of Less).
  const sorted = [...counts.values()].sort((a, b) => b.weight - a.weight || shapeLess(b, a));
  const kept: TaskShape[] = [];
  let covered = 0;
  for (const shape of sorted) {
    if (covered >= popularity * total) break;
    kept.push(shape);
    covered += shape.weight;
  }
  return { shapes: kept.map((s) => ({ ...s, weight: s.weight / covered })) };
}
