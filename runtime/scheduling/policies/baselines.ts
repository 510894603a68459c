/**
 * The FGD paper's baseline policies, scored exactly as the artifact's kube-scheduler score
 * plugins do (github.com/hkust-adsl/kubernetes-scheduler-simulator, pkg/simulator/plugin),
 * integer truncation included, because the truncation creates the ties that the random
 * tie-break then spreads. GPU choice follows the artifact's experiment scripts: `random`
 * picks a random fitting shared GPU, all others use best fit; whole GPUs are the first free ones.
 */
import { deviceAccepted } from "../feasibility";
import { bestFitGpus, firstFreeGpus, randomShareGpu } from "../gpu-choice";
import type { PlacementPolicy, PolicyContext } from "../policy";
import { MILLI, fullyFreeGpus, gpuClassOf, nodeGpuLeft, podGpuMilli, type NodeState, type PodRequest } from "../types";

/** Normalisers of the artifact (`MaxSpecCpu`, `MaxSpecGpu`): the largest node it expects. */
export const MAX_SPEC_CPU_MILLI = 128_000;
export const MAX_SPEC_GPU_MILLI = 8_000;
/** kube-scheduler's MaxNodeScore. */
const MAX = 100;

/** Random: every feasible node equally likely (the artifact draws one node per pod). */
export function randomPolicy(ctx: PolicyContext): PlacementPolicy {
  return {
    name: "random",
    score: () => ctx.rng.next(),
    chooseGpus(node, pod) {
      if (pod.numGpu === 0) return [];
      if (pod.gpuMilli < MILLI) {
        const i = randomShareGpu(node, pod, ctx.rng);
        return i < 0 ? [] : [i];
      }
      return firstFreeGpus(node, pod);
    },
  };
}

/**
 * DotProd (Tetris-style alignment, artifact config `merge`/`max`): node free vector
 * [CPU left, GPU left] and pod vector [CPU, GPU], both divided by the max spec; score
 * 100 × (1 − dot/2), so the node whose free resources align least with the pod wins.
 */
export function dotProductScore(node: NodeState, pod: PodRequest): number {
  const nodeCpu = (node.cpuMilli - node.cpuUsedMilli) / MAX_SPEC_CPU_MILLI;
  const nodeGpu = nodeGpuLeft(node) / MAX_SPEC_GPU_MILLI;
  const podCpu = pod.cpuMilli / MAX_SPEC_CPU_MILLI;
  const podGpu = podGpuMilli(pod) / MAX_SPEC_GPU_MILLI;
  const dot = (nodeCpu * podCpu + nodeGpu * podGpu) / 2;
  return Math.trunc(MAX * (1 - dot));
}

export function dotProductPolicy(): PlacementPolicy {
  return { name: "dotprod", score: dotProductScore, chooseGpus: bestFitGpus };
}

/**
 * GPU clustering: pack pods of the same GPU class (share / 1-gpu / 2-gpu ...) together.
 * (75,100]: node hosts only this class; (50,75]: this class among others; (25,50]: node has no
 * GPU pods; (0,25]: other classes only. Within a band, fuller nodes score higher. CPU-only: 0.
 */
export function gpuClusteringScore(node: NodeState, pod: PodRequest): number {
  const cls = gpuClassOf(pod);
  if (cls === "no-gpu") return 0;
  const used = Math.trunc(((MAX / 4) * (MAX_SPEC_GPU_MILLI - nodeGpuLeft(node))) / MAX_SPEC_GPU_MILLI);
  const classes = Object.keys(node.gpuPodClasses).length;
  if ((node.gpuPodClasses[cls] ?? 0) > 0) return used + (classes === 1 ? (MAX * 3) / 4 : MAX / 2);
  return used + (classes === 0 ? MAX / 4 : 0);
}

export function gpuClusteringPolicy(): PlacementPolicy {
  return { name: "gpu-clustering", score: gpuClusteringScore, chooseGpus: bestFitGpus };
}

/**
 * GPU packing: prefer (1) shared GPUs already in use, the fuller the better, [50,100];
 * then (2) free GPUs on a node already in use, [33,50]; then (3) a fully idle node, [0,33].
 * CPU-only pods score 0 everywhere.
 */
export function gpuPackingScore(node: NodeState, pod: PodRequest): number {
  if (podGpuMilli(pod) <= 0) return 0;
  const free = fullyFreeGpus(node);
  if (free === node.gpus.length) return Math.max(Math.trunc(MAX / 3) - free, free);
  // GPUs it would use: the fitting ones with the least left first (stable by index).
  const order = node.gpus.map((_, i) => i).sort((a, b) => node.gpus[b]!.usedMilli - node.gpus[a]!.usedMilli);
  let need = pod.numGpu;
  let freeUsed = 0;
  let leftPct = 0;
  for (const i of order) {
    if (need === 0) break;
    const left = MILLI - node.gpus[i]!.usedMilli;
    if (pod.gpuMilli <= left && deviceAccepted(pod, node.gpus[i]!)) {
      need--;
      if (left === MILLI) freeUsed++;
      leftPct += Math.trunc((left * 100) / MILLI);
    }
  }
  if (need !== 0) return 0;
  if (freeUsed > 0) return Math.max(MAX / 2 - freeUsed, Math.trunc(MAX / 3));
  return Math.max(MAX - Math.trunc(leftPct / 10), MAX / 2);
}

export function gpuPackingPolicy(): PlacementPolicy {
  return { name: "gpu-packing", score: gpuPackingScore, chooseGpus: bestFitGpus };
}

/**
 * Best fit: the node with the least weighted free CPU and GPU left after placement,
 * 100 × (1 − ½·CPUleft'/maxCPU − ½·GPUleft'/maxGPU). (The artifact then min-max normalises
 * the scores; with raw scores in 0..100 that map is monotone and injective, so order and
 * ties are unchanged and it is left out.)
 */
export function bestFitScore(node: NodeState, pod: PodRequest): number {
  const cpuAfter = node.cpuMilli - node.cpuUsedMilli - pod.cpuMilli;
  const gpuAfter = nodeGpuLeft(node) - podGpuMilli(pod);
  const waste = (cpuAfter / MAX_SPEC_CPU_MILLI) * 0.5 + (gpuAfter / MAX_SPEC_GPU_MILLI) * 0.5;
  return Math.trunc((1 - waste) * MAX);
}

export function bestFitPolicy(): PlacementPolicy {
  return { name: "best-fit", score: bestFitScore, chooseGpus: bestFitGpus };
}
