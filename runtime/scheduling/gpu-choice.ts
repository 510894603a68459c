/**
 * GPU-level choice: which GPU(s) on the chosen node a pod gets. These are the artifact's
 * Open-Gpu-Share selection methods (`best`, `random`) and its exclusive-GPU rule; FGD and gpk
 * choose a shared GPU by their own score.
 */
import { deviceAccepted as accepts } from "./feasibility";
import type { Rng } from "./rng";
import { MILLI, type GpuAssignment, type NodeState, type PodRequest } from "./types";

/**
 * Whole GPUs: the first `numGpu` fully free GPUs in device-index order (artifact
 * `AllocateExclusiveGpuId`). Empty when the pod needs no GPU or the node lacks them.
 */
export function firstFreeGpus(node: NodeState, pod: PodRequest): GpuAssignment {
  const out: number[] = [];
  for (let i = 0; i < node.gpus.length && out.length < pod.numGpu; i++) {
    const g = node.gpus[i]!;
    if (g.usedMilli === 0 && accepts(pod, g)) out.push(i);
  }
  return out.length === pod.numGpu ? out : [];
}

/** Shared GPU, best fit: the GPU with the least milli-GPU left that still fits (lowest index on ties). */
export function bestFitShareGpu(node: NodeState, pod: PodRequest): number {
  let best = -1;
  let bestLeft = Infinity;
  for (let i = 0; i < node.gpus.length; i++) {
    const g = node.gpus[i]!;
    const left = MILLI - g.usedMilli;
    if (left >= pod.gpuMilli && left < bestLeft && accepts(pod, g)) {
      best = i;
      bestLeft = left;
    }
  }
  return best;
}

/** Shared GPU, uniformly random among the GPUs it fits (reservoir sampling, as the artifact). */
export function randomShareGpu(node: NodeState, pod: PodRequest, rng: Rng): number {
  let chosen = -1;
  let seen = 0;
  for (let i = 0; i < node.gpus.length; i++) {
    const g = node.gpus[i]!;
    if (MILLI - g.usedMilli >= pod.gpuMilli && accepts(pod, g)) {
      seen++;
      if (rng.int(seen) === 0) chosen = i;
    }
  }
  return chosen;
}

/** The artifact's `best` selection: best-fit shared GPU, first free whole GPUs. */
export function bestFitGpus(node: NodeState, pod: PodRequest): GpuAssignment {
  if (pod.numGpu === 0) return [];
  if (pod.gpuMilli < MILLI) {
    const i = bestFitShareGpu(node, pod);
    return i < 0 ? [] : [i];
  }
  return firstFreeGpus(node, pod);
}
