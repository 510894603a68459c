/**
 * Rules of `gpk:ray` that span sections: the tenant exists, its pools are ones it may use,
 * the worker groups fit their pools (components/ray-checks.ts), and the cluster at max scale
 * fits the tenant's GPU, CPU and memory quotas. Called from stacks/config.ts.
 */
import type { z } from "zod";
import { EC2_GPU_INSTANCES } from "../gpu";
import { workerGroupProblems, type RayPoolView } from "../components/ray-checks";
import { rayJobProblems } from "../components/ray-job";
import { RAY_DEFAULTS } from "../components/ray-spec";
import type { RayConfig } from "./config-ray";

const UNITS: Record<string, number> = {
  m: 1e-3, "": 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};

/** A quantity already validated by `base.quantity()` as a number of base units (`500m` → 0.5, `1Gi` → 2^30). */
export function quantityValue(q: string): number {
  const match = /^([0-9]+(?:\.[0-9]+)?)([a-zA-Z]*)$/.exec(q);
  return match ? Number(match[1]) * (UNITS[match[2]!] ?? NaN) : NaN;
}

/** GPUs, CPU and memory the cluster may request at max scale, with a readable breakdown. */
export function rayMaxScale(ray: RayConfig, gpus: number[]) {
  const a = RAY_DEFAULTS.autoscaler;
  const redis = ray.gcsFaultTolerance.enabled && ray.gcsFaultTolerance.redis?.deploy;
  const sum = (pick: (q: { cpu: string; memory: string }) => string) => {
    let total = quantityValue(pick(ray.head)) + quantityValue(pick(a));
    for (const g of ray.workerGroups) total += g.maxReplicas * quantityValue(pick(g));
    if (redis) total += quantityValue(pick(RAY_DEFAULTS.redis));
    return total;
  };
  const detail = (pick: (q: { cpu: string; memory: string }) => string) =>
    [`head ${pick(ray.head)}`, `autoscaler ${pick(a)}`, ...ray.workerGroups.map((g) => `${g.maxReplicas} × ${pick(g)}`), ...(redis ? [`redis ${pick(RAY_DEFAULTS.redis)}`] : [])].join(" + ");
  return {
    gpus: ray.workerGroups.reduce((s, g, i) => s + g.maxReplicas * gpus[i]!, 0),
    gpuDetail: ray.workerGroups.map((g, i) => `${g.maxReplicas} × ${gpus[i]}`).join(" + "),
    cpu: sum((q) => q.cpu), cpuDetail: detail((q) => q.cpu),
    memory: sum((q) => q.memory), memoryDetail: detail((q) => q.memory),
  };
}

/**
 * The parts of the parsed stack config the Ray rules read. Declared here, not imported
 * from config.ts, so config.ts can call these rules without an import cycle.
 */
export interface RayCheckInput {
  ray?: RayConfig;
  tenants: { name: string; allowedPools: string[]; gpuQuota: number; cpuQuota: string; memoryQuota: string }[];
  nodePools: { name: string; gpusPerNode?: number; instanceType?: string; timeSlicingReplicas: number; maxNodes: number }[];
}

/** Cross-section rules of `gpk:ray`; paths are reported as `gpk:ray....`. */
export function checkRayConfig(config: RayCheckInput, ctx: z.RefinementCtx): void {
  const ray = config.ray;
  if (!ray?.enabled) return;
  const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: "custom", path: ["ray", ...path], message });
  const tenant = config.tenants.find((t) => t.name === ray.tenant);
  if (!tenant) {
    issue(["tenant"], `expected one of the tenants ${config.tenants.map((t) => t.name).join(", ")}, got "${ray.tenant}"`);
    return;
  }
  const pools: RayPoolView[] = config.nodePools.map((p) => ({
    poolName: p.name,
    gpusPerNode: p.gpusPerNode ?? (p.instanceType ? EC2_GPU_INSTANCES[p.instanceType]?.gpus : undefined) ?? NaN,
    timeSlicingReplicas: p.timeSlicingReplicas,
    maxNodes: p.maxNodes,
  }));
  ray.workerGroups.forEach((g, i) => {
    if (pools.some((p) => p.poolName === g.pool) && !tenant.allowedPools.includes(g.pool)) {
      issue(["workerGroups", i, "pool"], `expected a pool tenant "${tenant.name}" may use (${tenant.allowedPools.join(", ")}), got "${g.pool}"`);
    }
  });
  const jobNames = new Set<string>();
  ray.jobs.forEach((job, i) => {
    if (jobNames.has(job.name)) issue(["jobs", i, "name"], `expected a unique job name, got "${job.name}" twice`);
    jobNames.add(job.name);
    // The schema already refused a deadline that is not a positive integer.
    for (const p of rayJobProblems(job).filter((p) => p.key !== "activeDeadlineSeconds")) issue(["jobs", i, p.key], p.message);
  });
  const problems = workerGroupProblems(ray.workerGroups, pools.filter((p) => Number.isFinite(p.gpusPerNode)));
  for (const p of problems) issue(p.path, p.message);
  if (problems.length > 0) return;

  const ft = ray.gcsFaultTolerance;
  if (ft.enabled && !ft.redis) issue(["gcsFaultTolerance", "redis"], "expected {deploy: true, passwordSecret} or {address, passwordSecret} when enabled is true");
  if (ft.redis?.deploy && ft.redis.address) issue(["gcsFaultTolerance", "redis", "address"], "expected no address when deploy is true (the kit deploys Redis)");
  if (ft.redis && !ft.redis.deploy && !ft.redis.address) issue(["gcsFaultTolerance", "redis", "address"], "expected the host:port of an existing Redis (or deploy: true)");

  const gpus = ray.workerGroups.map((g) => g.gpusPerWorker ?? pools.find((p) => p.poolName === g.pool)!.gpusPerNode);
  const max = rayMaxScale(ray, gpus);
  if (max.gpus > tenant.gpuQuota) {
    issue(["workerGroups"], `expected at most tenant "${tenant.name}"'s gpuQuota of ${tenant.gpuQuota} GPUs at max scale, got ${max.gpus} (${max.gpuDetail})`);
  }
  if (max.cpu > quantityValue(tenant.cpuQuota) + 1e-9) {
    issue(["workerGroups"], `expected at most tenant "${tenant.name}"'s cpuQuota of ${tenant.cpuQuota} CPUs at max scale, got ${+max.cpu.toFixed(3)} (${max.cpuDetail})`);
  }
  if (max.memory > quantityValue(tenant.memoryQuota)) {
    issue(["workerGroups"], `expected at most tenant "${tenant.name}"'s memoryQuota of ${tenant.memoryQuota} at max scale, got ${+(max.memory / 2 ** 30).toFixed(2)}Gi (${max.memoryDetail})`);
  }
}
