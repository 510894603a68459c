/** Small hand-built pods, nodes and workload shared by the policy tests. */
import { createPolicy, makeNode, mulberry32, parsePolicyName, type PodRequest, type TargetWorkload } from "../../runtime/scheduling";

export const pod = (p: Partial<PodRequest>): PodRequest => ({ name: "p", cpuMilli: 4000, memoryMiB: 1024, numGpu: 0, gpuMilli: 0, gpuModels: [], ...p });
/** A GPU-sharing pod asking for `milli` of one GPU. */
export const share = (milli: number, extra: Partial<PodRequest> = {}) => pod({ numGpu: 1, gpuMilli: milli, ...extra });
/** A pod asking for `n` whole GPUs. */
export const whole = (n: number, extra: Partial<PodRequest> = {}) => pod({ numGpu: n, gpuMilli: 1000, cpuMilli: 8000, ...extra });
/** An 8-GPU node like openb's G2 nodes. */
export const g2 = (name: string, rank = 0) => makeNode({ name, cpuMilli: 96_000, memoryMiB: 393_216, gpuCount: 8, gpuModel: "G2", rank });

/** Half the tasks ask for half a GPU and 4 cores, half for a whole GPU and 8 cores. */
export const workload: TargetWorkload = {
  shapes: [
    { cpuMilli: 4000, gpuMilli: 500, numGpu: 1, gpuModels: [], weight: 0.5 },
    { cpuMilli: 8000, gpuMilli: 1000, numGpu: 1, gpuModels: [], weight: 0.5 },
  ],
};

export const policy = (name: string) => createPolicy(parsePolicyName(name), { workload, rng: mulberry32(7) });
