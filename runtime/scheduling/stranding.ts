/**
 * CPU stranding: idle GPU a node cannot sell because the CPU that would have to come with it
 * is gone. gpk adds it to FGD's fragmentation (see policies/gpk.ts, docs/placement.md).
 *
 * FGD's fragmentation checks whether the NEXT task of each popular shape still fits a node.
 * It does not see that a node which keeps 3 idle GPUs but only 10 cores will, in practice,
 * sell at most one of them: the workload's GPU tasks bring about 11 cores per GPU along
 * (openb traces). Stranding measures that directly:
 *
 *   S(node) = max(0, idle milli-GPU − CPU left / ρ),
 *
 * where ρ is the target workload's CPU per milli-GPU, demand-weighted: Σ w·cpu / Σ w·GPU over
 * its GPU shapes (milli-cores per milli-GPU). On openb, ρ ≈ 10.9 cores per GPU, close to the
 * 12 cores per GPU of the 8-GPU G2 nodes that hold most of the GPUs, which is why a few
 * CPU-heavy tasks placed there strand GPUs for the rest of the run.
 */
import type { TargetWorkload } from "./workload";

/** ρ: milli-cores per milli-GPU the workload's GPU tasks carry; 0 when it has no GPU shapes. */
export function cpuPerGpuMilli(workload: TargetWorkload): number {
  let cpu = 0;
  let gpu = 0;
  for (const s of workload.shapes) {
    if (s.numGpu === 0 || s.gpuMilli === 0) continue;
    cpu += s.weight * s.cpuMilli;
    gpu += s.weight * s.numGpu * s.gpuMilli;
  }
  return gpu > 0 ? cpu / gpu : 0;
}

/** Idle milli-GPU the CPU left cannot carry at `rho` milli-cores per milli-GPU (0 when rho is 0). */
export function strandedGpuMilli(idleGpuMilli: number, cpuLeftMilli: number, rho: number): number {
  if (rho <= 0) return 0;
  return Math.max(0, idleGpuMilli - Math.max(0, cpuLeftMilli) / rho);
}
