/**
 * Feasibility filter and the one function that changes a node when a pod lands on it.
 *
 * The filter is the artifact's: kube-scheduler's NodeResourcesFit (CPU and memory) plus the
 * Open-Gpu-Share filter (the node's GPU model is acceptable and enough GPUs have the pod's
 * milli-GPU free). CPU-only pods may land on any node that has the CPU and memory.
 */
import { MILLI, gpuClassOf, podGpuMilli, type GpuAssignment, type GpuState, type NodeState, type PodRequest } from "./types";

/**
 * True when the device is of the kind the pod asks for (a whole GPU, or a MIG device of its
 * profile) and of a model it accepts (an empty list accepts any model). The one device test of
 * every filter, chooser and score.
 */
export function deviceAccepted(pod: PodRequest, gpu: GpuState): boolean {
  return gpu.migProfile === pod.migProfile && (pod.gpuModels.length === 0 || pod.gpuModels.includes(gpu.model));
}

/** Number of GPUs on the node that could take `milli` of the pod (model accepted, enough left). */
export function gpusThatFit(node: NodeState, pod: PodRequest): number {
  let count = 0;
  for (const g of node.gpus) {
    if (MILLI - g.usedMilli >= pod.gpuMilli && deviceAccepted(pod, g)) count++;
  }
  return count;
}

/** Why a node cannot take the pod, or null when it can. Messages go into the extender's FailedNodes. */
export function unfitReason(node: NodeState, pod: PodRequest): string | null {
  if (node.cpuUsedMilli + pod.cpuMilli > node.cpuMilli) {
    return `Insufficient cpu: requested ${pod.cpuMilli}m, free ${node.cpuMilli - node.cpuUsedMilli}m`;
  }
  if (node.memoryUsedMiB + pod.memoryMiB > node.memoryMiB) {
    return `Insufficient memory: requested ${pod.memoryMiB}Mi, free ${node.memoryMiB - node.memoryUsedMiB}Mi`;
  }
  if (pod.numGpu === 0) return null;
  if (node.gpus.length === 0) return "Node has no GPUs";
  if (pod.migProfile !== undefined && !node.gpus.some((g) => g.migProfile === pod.migProfile)) {
    return `Node has no MIG ${pod.migProfile} devices`;
  }
  if (pod.gpuModels.length > 0 && !node.gpus.some((g) => deviceAccepted(pod, g))) {
    return `GPU model ${node.gpus[0]!.model} is not one of ${pod.gpuModels.join("|")}`;
  }
  if (gpusThatFit(node, pod) < pod.numGpu) {
    return `Insufficient GPUs: needs ${pod.numGpu} x ${pod.gpuMilli} milli-GPU`;
  }
  return null;
}

/** Fast feasibility check for the simulator's hot loop (same rules as `unfitReason`). */
export function fits(node: NodeState, pod: PodRequest): boolean {
  if (node.cpuUsedMilli + pod.cpuMilli > node.cpuMilli) return false;
  if (node.memoryUsedMiB + pod.memoryMiB > node.memoryMiB) return false;
  const need = pod.numGpu;
  if (need === 0) return true;
  const gpus = node.gpus;
  if (gpus.length < need) return false;
  const maxUsed = MILLI - pod.gpuMilli;
  let found = 0;
  for (let i = 0; i < gpus.length; i++) {
    const g = gpus[i]!;
    if (g.usedMilli <= maxUsed && deviceAccepted(pod, g) && ++found === need) return true;
  }
  return false;
}

export interface FilterResult {
  /** Nodes that can take the pod, in input order. */
  feasible: NodeState[];
  /** Node name -> reason, for the nodes that cannot. */
  failed: Record<string, string>;
}

/** Splits the nodes into those that can take the pod and those that cannot (with a reason). */
export function filterNodes(nodes: readonly NodeState[], pod: PodRequest): FilterResult {
  const feasible: NodeState[] = [];
  const failed: Record<string, string> = {};
  for (const node of nodes) {
    const reason = unfitReason(node, pod);
    if (reason === null) feasible.push(node);
    else failed[node.name] = reason;
  }
  return { feasible, failed };
}

/**
 * Places the pod on the node with the given GPUs and bumps the node's version.
 * Throws when the placement would over-allocate anything: callers pick GPUs through a policy,
 * so an error here is a bug, never a user input problem.
 */
export function assign(node: NodeState, pod: PodRequest, gpus: GpuAssignment): void {
  if (node.cpuUsedMilli + pod.cpuMilli > node.cpuMilli || node.memoryUsedMiB + pod.memoryMiB > node.memoryMiB) {
    throw new Error(`pod ${pod.name} does not fit the CPU/memory of node ${node.name}`);
  }
  if (gpus.length !== pod.numGpu || new Set(gpus).size !== gpus.length) {
    throw new Error(`pod ${pod.name} needs ${pod.numGpu} distinct GPU(s), got [${gpus.join(",")}]`);
  }
  for (const i of gpus) {
    const gpu = node.gpus[i];
    if (!gpu || gpu.usedMilli + pod.gpuMilli > MILLI || !deviceAccepted(pod, gpu)) {
      throw new Error(`GPU ${i} of node ${node.name} cannot take ${pod.gpuMilli} milli-GPU of pod ${pod.name}`);
    }
  }
  node.cpuUsedMilli += pod.cpuMilli;
  node.memoryUsedMiB += pod.memoryMiB;
  for (const i of gpus) node.gpus[i]!.usedMilli += pod.gpuMilli;
  if (podGpuMilli(pod) > 0) {
    const cls = gpuClassOf(pod);
    node.gpuPodClasses[cls] = (node.gpuPodClasses[cls] ?? 0) + 1;
  }
  node.version++;
}

/**
 * The inverse of `assign`: takes the pod off the node (a departure, an eviction, a migration)
 * and bumps the node's version. Throws when the node does not hold that much: callers remove
 * only what they placed, so an error here is a bug.
 */
export function unassign(node: NodeState, pod: PodRequest, gpus: GpuAssignment): void {
  if (node.cpuUsedMilli < pod.cpuMilli || node.memoryUsedMiB < pod.memoryMiB) {
    throw new Error(`pod ${pod.name} holds more CPU/memory than node ${node.name} has in use`);
  }
  for (const i of gpus) {
    const gpu = node.gpus[i];
    if (!gpu || gpu.usedMilli < pod.gpuMilli) throw new Error(`GPU ${i} of node ${node.name} does not hold ${pod.gpuMilli} milli-GPU of pod ${pod.name}`);
  }
  node.cpuUsedMilli -= pod.cpuMilli;
  node.memoryUsedMiB -= pod.memoryMiB;
  for (const i of gpus) node.gpus[i]!.usedMilli -= pod.gpuMilli;
  if (podGpuMilli(pod) > 0) {
    const cls = gpuClassOf(pod);
    node.gpuPodClasses[cls] = (node.gpuPodClasses[cls] ?? 1) - 1;
  }
  node.version++;
}
