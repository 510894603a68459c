/**
 * The rules a Ray cluster's worker groups must follow against the GPU pools they run on,
 * in one place: the stack config reports them under `gpk:ray.workerGroups[i]...` and the
 * RayCluster component under `workerGroups[i]...`. Messages read "expected ..., got ...".
 */
import type { GpuPoolSummary } from "./summaries";
import { RAY_DEFAULTS, type RayWorkerGroupArgs } from "./ray-spec";

/** What the rules need to know about a pool. */
export type RayPoolView = Pick<GpuPoolSummary, "poolName" | "gpusPerNode" | "timeSlicingReplicas" | "maxNodes">;

export interface RayProblem {
  /** Path below the worker groups' owner, e.g. `["workerGroups", 0, "gpusPerWorker"]`. */
  path: (string | number)[];
  message: string;
}

/** Schedulable GPU units of one node of the pool (time-sliced GPUs count once per slice). */
function unitsPerNode(pool: RayPoolView): number {
  return pool.gpusPerNode * pool.timeSlicingReplicas;
}

/** Most workers of `gpusPerWorker` GPUs the pool holds at max scale. */
export function workersPoolHolds(pool: RayPoolView, gpusPerWorker: number): number {
  return pool.maxNodes * Math.floor(unitsPerNode(pool) / gpusPerWorker);
}

export function workerGroupProblems(groups: readonly RayWorkerGroupArgs[], pools: readonly RayPoolView[]): RayProblem[] {
  const problems: RayProblem[] = [];
  const byName = new Map(pools.map((p) => [p.poolName, p]));
  const names = new Set<string>();
  const gpusOnPool = new Map<string, { total: number; first: number; reported: boolean }>();
  groups.forEach((group, i) => {
    const at = (key: string) => ["workerGroups", i, key];
    const groupName = group.groupName ?? group.pool;
    if (names.has(groupName)) {
      problems.push({ path: at(group.groupName ? "groupName" : "pool"), message: `expected a unique worker group name, got "${groupName}" twice (set \`groupName\`)` });
    }
    names.add(groupName);
    const minReplicas = group.minReplicas ?? RAY_DEFAULTS.worker.minReplicas;
    if (minReplicas > group.maxReplicas) {
      problems.push({ path: at("minReplicas"), message: `expected minReplicas ≤ maxReplicas, got ${minReplicas} > ${group.maxReplicas}` });
    }
    const pool = byName.get(group.pool);
    if (!pool) {
      problems.push({ path: at("pool"), message: `expected one of the pools ${[...byName.keys()].join(", ")}, got "${group.pool}"` });
      return;
    }
    const gpus = group.gpusPerWorker ?? pool.gpusPerNode;
    if (pool.timeSlicingReplicas > 1 && gpus !== 1) {
      // The device plugin refuses pods that ask for more than one time-sliced GPU (failRequestsGreaterThanOne).
      problems.push({ path: at("gpusPerWorker"), message: `expected 1 on time-sliced pool "${pool.poolName}" (a pod may hold one shared GPU), got ${gpus}` });
      return;
    }
    if (gpus > unitsPerNode(pool)) {
      problems.push({ path: at("gpusPerWorker"), message: `expected at most ${unitsPerNode(pool)} (the GPUs of one node of pool "${pool.poolName}"), got ${gpus}` });
      return;
    }
    const holds = workersPoolHolds(pool, gpus);
    const tooMany = group.maxReplicas > holds;
    if (tooMany) {
      problems.push({
        path: at("maxReplicas"),
        message: `expected at most ${holds} (pool "${pool.poolName}" holds ${pool.maxNodes} nodes × ${Math.floor(unitsPerNode(pool) / gpus)} workers of ${gpus} GPUs), got ${group.maxReplicas}`,
      });
    }
    const seen = gpusOnPool.get(pool.poolName);
    gpusOnPool.set(pool.poolName, { total: (seen?.total ?? 0) + gpus * group.maxReplicas, first: seen?.first ?? i, reported: (seen?.reported ?? false) || tooMany });
  });
  // Groups sharing a pool must fit it together (each one alone was checked above).
  for (const [poolName, { total, first, reported }] of gpusOnPool) {
    const pool = byName.get(poolName)!;
    const capacity = pool.maxNodes * unitsPerNode(pool);
    if (!reported && total > capacity) {
      problems.push({ path: ["workerGroups", first, "maxReplicas"], message: `expected the groups on pool "${poolName}" to need at most its ${capacity} GPUs at max scale, got ${total}` });
    }
  }
  return problems;
}
