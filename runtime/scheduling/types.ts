/**
 * Cluster state and pod requests the placement policies work on. Plain data, no I/O:
 * the scheduler extender builds it from the Kubernetes API, the simulator from CSV traces.
 *
 * Units follow the FGD artifact (github.com/hkust-adsl/kubernetes-scheduler-simulator):
 * CPU in milli-cores, memory in MiB, GPU in milli-GPU (1000 = one whole GPU).
 */

/** One whole GPU in milli-GPU. */
export const MILLI = 1000;

/** Optional per-GPU telemetry (DCGM exporter figures). Absent means "unknown, assume healthy". */
export interface GpuTelemetry {
  /** GPU temperature in °C (DCGM_FI_DEV_GPU_TEMP). */
  temperatureC?: number;
  /** True while the driver holds the clocks down for power (clock-event reason 0x4, SW power cap). */
  powerCapped?: boolean;
}

export interface GpuState {
  /** GPU model as the trace or GFD names it, e.g. `V100M32` or `NVIDIA-H100-80GB-HBM3`. */
  model: string;
  /** Framebuffer in MiB, when known. Placement does not use it; it is carried for the extender. */
  memoryMiB?: number;
  /** Milli-GPU already allocated on this GPU, 0..1000. */
  usedMilli: number;
  /** NUMA node / NVLink domain of the GPU, when the topology is known. */
  numaNode?: number;
  telemetry?: GpuTelemetry;
  /**
   * Set on a MIG device the node advertises as its own resource (`nvidia.com/mig-<profile>`,
   * MIG `mixed` strategy): only pods asking for that profile take it, and they take it whole.
   * Absent on a whole GPU (and on a `single`-strategy MIG device, which is an `nvidia.com/gpu`).
   */
  migProfile?: string;
}

export interface NodeState {
  name: string;
  /** Allocatable CPU in milli-cores. */
  cpuMilli: number;
  /** Allocatable memory in MiB. */
  memoryMiB: number;
  cpuUsedMilli: number;
  memoryUsedMiB: number;
  /** GPUs in device-index order (index i is GPU i on the node). */
  gpus: GpuState[];
  /**
   * Count of GPU pods on the node per GPU class (`share-gpu`, `1-gpu`, `2-gpu`, ...);
   * the gpu-clustering baseline scores by it.
   */
  gpuPodClasses: Record<string, number>;
  /**
   * Bumped on every change to the node (see `assign`). Policies cache per-node work keyed
   * by it, so anything that mutates a node must bump it.
   */
  version: number;
  /**
   * Tie-break rank: among equal scores the lowest rank wins. The artifact breaks ties by the
   * smallest node name after prefixing names with a random permutation; the simulator draws a
   * seeded permutation, the extender uses the node's position in the request.
   */
  rank: number;
}

export interface ClusterState {
  nodes: NodeState[];
}

export interface PodRequest {
  name: string;
  cpuMilli: number;
  memoryMiB: number;
  /** Number of GPUs, 0..8. */
  numGpu: number;
  /** Milli-GPU per GPU: below 1000 only for a shared GPU (then numGpu is 1). 0 when numGpu is 0. */
  gpuMilli: number;
  /** Acceptable GPU models; empty means any. */
  gpuModels: readonly string[];
  /** MIG profile of the devices the pod asks for (`nvidia.com/mig-<profile>`); absent for whole GPUs. */
  migProfile?: string;
}

/** The GPU(s) a placement gives a pod: device indices on the node. */
export type GpuAssignment = number[];

/** Total milli-GPU a pod requests. */
export function podGpuMilli(pod: PodRequest): number {
  return pod.numGpu * pod.gpuMilli;
}

/** True for a pod that shares one GPU with others (the artifact's "share-gpu" class). */
export function isSharePod(pod: PodRequest): boolean {
  return pod.numGpu === 1 && pod.gpuMilli < MILLI;
}

/** The pod's GPU class as the gpu-clustering baseline groups pods. */
export function gpuClassOf(pod: PodRequest): string {
  if (pod.numGpu === 0) return "no-gpu";
  return isSharePod(pod) ? "share-gpu" : `${pod.numGpu}-gpu`;
}

/** Builds an idle node; `gpuCount` GPUs of one model. */
export function makeNode(args: {
  name: string;
  cpuMilli: number;
  memoryMiB: number;
  gpuCount?: number;
  gpuModel?: string;
  rank?: number;
  numaNodes?: number[];
}): NodeState {
  const count = args.gpuCount ?? 0;
  const gpus: GpuState[] = [];
  for (let i = 0; i < count; i++) {
    const gpu: GpuState = { model: args.gpuModel ?? "", usedMilli: 0 };
    if (args.numaNodes) gpu.numaNode = args.numaNodes[i];
    gpus.push(gpu);
  }
  return {
    name: args.name,
    cpuMilli: args.cpuMilli,
    memoryMiB: args.memoryMiB,
    cpuUsedMilli: 0,
    memoryUsedMiB: 0,
    gpus,
    gpuPodClasses: {},
    version: 0,
    rank: args.rank ?? 0,
  };
}

/** Milli-GPU left on GPU i. */
export function gpuLeft(node: NodeState, i: number): number {
  return MILLI - node.gpus[i]!.usedMilli;
}

/** Total milli-GPU left on the node. */
export function nodeGpuLeft(node: NodeState): number {
  let total = 0;
  for (const g of node.gpus) total += MILLI - g.usedMilli;
  return total;
}

/** Number of GPUs with nothing allocated. */
export function fullyFreeGpus(node: NodeState): number {
  let free = 0;
  for (const g of node.gpus) if (g.usedMilli === 0) free++;
  return free;
}

/** Model of the node's GPUs ("" for a CPU-only node); nodes are homogeneous in practice. */
export function nodeGpuModel(node: NodeState): string {
  return node.gpus.length > 0 ? node.gpus[0]!.model : "";
}
