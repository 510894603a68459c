/**
 * Where a pool's GPUs stand, in GPUs, by the same measures placement uses: allocated and idle
 * GPU; of the idle, what FGD's fragmentation counts as unusable by the target workload
 * (./fragmentation.ts) and what the CPU left cannot carry (./stranding.ts). The extender
 * exports it per pool; the two "unusable" shares are measured independently and may overlap.
 */
import { Fragmenter } from "./fragmentation";
import { cpuPerGpuMilli, strandedGpuMilli } from "./stranding";
import { MILLI, type NodeState } from "./types";
import type { TargetWorkload } from "./workload";

export interface PoolGpus {
  allocated: number;
  idle: number;
  fragmented: number;
  cpuStranded: number;
}

/** Sums per pool; nodes come with the pool they belong to. */
export function poolGpuAccounts(nodes: Iterable<{ pool: string; node: NodeState }>, workload: TargetWorkload): Map<string, PoolGpus> {
  const fragmenter = new Fragmenter(workload);
  const rho = cpuPerGpuMilli(workload);
  const pools = new Map<string, PoolGpus>();
  const scratch: number[] = [];
  for (const { pool, node } of nodes) {
    let account = pools.get(pool);
    if (!account) pools.set(pool, (account = { allocated: 0, idle: 0, fragmented: 0, cpuStranded: 0 }));
    let idleMilli = 0;
    for (const gpu of node.gpus) idleMilli += MILLI - gpu.usedMilli;
    account.allocated += (node.gpus.length * MILLI - idleMilli) / MILLI;
    account.idle += idleMilli / MILLI;
    account.fragmented += fragmenter.nodeFrag(node, scratch) / MILLI;
    account.cpuStranded += strandedGpuMilli(idleMilli, node.cpuMilli - node.cpuUsedMilli, rho) / MILLI;
  }
  return pools;
}
