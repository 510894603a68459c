/**
 * `gpk:ray`: one KubeRay cluster for a tenant, with a GPU worker group per pool it uses.
 * Defaults come from components/ray-spec.ts (RAY_DEFAULTS). `checkRayConfig` holds the
 * rules that span sections: the tenant exists, its pools are ones it may use, and the
 * cluster at max scale fits the tenant's GPU, CPU and memory quotas.
 */
import { z } from "zod";
import { EC2_GPU_INSTANCES } from "../components/gpu";
import { workerGroupProblems, type RayPoolView } from "../components/ray-checks";
import { RAY_DEFAULTS } from "../components/ray-spec";
import type { StackConfig } from "./config";
// stacks/config.ts imports this module; its helpers are only read when the lazy schema is built.
import * as base from "./config";

const secretKeyRef = () =>
  z.object({
    /** Secret name, in the cluster's namespace. */
    name: base.dnsLabel(),
    /** Key of the password inside the Secret. */
    key: z.string(base.expect("a Secret key")).regex(/^[-._a-zA-Z0-9]+$/, base.expect("a Secret key (letters, digits, '-', '_', '.')")),
  }).strict();

function buildRaySchema() {
  const workerGroup = z.object({
    /** Pool the group runs on; the tenant must be allowed on it. */
    pool: base.dnsLabel(),
    /** Worker group name. Default: the pool name. */
    groupName: base.dnsLabel().optional(),
    /** GPUs per worker pod. Default: the pool's GPUs per node (one worker per node). */
    gpusPerWorker: base.positiveInt().optional(),
    /** CPU per worker (requests = limits). */
    cpu: base.quantity(),
    /** Memory per worker (requests = limits). */
    memory: base.quantity(),
    /** Fewest workers kept. Default 0. */
    minReplicas: base.nonNegativeInt().default(RAY_DEFAULTS.worker.minReplicas),
    /** Most workers the autoscaler may create. */
    maxReplicas: base.positiveInt(),
    /** Idle seconds before a worker is removed. Default 600. */
    idleTimeoutSeconds: base.positiveInt().default(RAY_DEFAULTS.worker.idleTimeoutSeconds),
  }).strict();

  const redis = z.object({
    /** Deploy a Redis StatefulSet beside the cluster. Default false. */
    deploy: z.boolean(base.expect("true or false")).default(false),
    /** `host:port` of an existing Redis (when `deploy` is false). */
    address: z.string(base.expect("a host:port")).regex(/^[^\s:]+:[0-9]{1,5}$/, base.expect("a host:port such as \"redis.example:6379\"")).optional(),
    /** Secret holding the Redis password; create it in the tenant namespace before `pulumi up`. */
    passwordSecret: secretKeyRef(),
    /** Volume of the deployed Redis. Default "8Gi". */
    storage: base.quantity().default(RAY_DEFAULTS.redis.storage),
    /** StorageClass of that volume. Default: the cluster's default class. */
    storageClassName: base.dnsLabel().optional(),
  }).strict();

  return z.object({
    /** Deploy the cluster. Default true. */
    enabled: z.boolean(base.expect("true or false")).default(true),
    /** RayCluster name. Default "ray". */
    name: base.dnsLabel().default(RAY_DEFAULTS.name),
    /** Tenant whose namespace the cluster runs in. */
    tenant: base.dnsLabel(),
    /** Head pod; it runs no Ray work. Default cpu "4", memory "16Gi". */
    head: z.object({
      cpu: base.quantity().default(RAY_DEFAULTS.head.cpu),
      memory: base.quantity().default(RAY_DEFAULTS.head.memory),
    }).strict().prefault({}),
    workerGroups: z.array(workerGroup, base.expect("a list of worker groups")).min(1, base.expect("at least one worker group")),
    /** Autoscaler v2. Default upscalingMode "Conservative", idleTimeoutSeconds 300. */
    autoscaler: z.object({
      upscalingMode: base.oneOf(["Conservative", "Default", "Aggressive"]).default(RAY_DEFAULTS.autoscaler.upscalingMode),
      idleTimeoutSeconds: base.positiveInt().default(RAY_DEFAULTS.autoscaler.idleTimeoutSeconds),
    }).strict().prefault({}),
    /** GCS fault tolerance on Redis. Default off. */
    gcsFaultTolerance: z.object({
      enabled: z.boolean(base.expect("true or false")).default(false),
      redis: redis.optional(),
      /** Key prefix of this cluster in Redis. Default: the RayCluster's UID (set by KubeRay). */
      externalStorageNamespace: z.string().min(1).optional(),
    }).strict().prefault({}),
    /** Pause before Ray retries a failed task (`RAY_task_retry_delay_ms`). Default 5000. */
    taskRetryDelayMs: base.nonNegativeInt().default(RAY_DEFAULTS.taskRetryDelayMs),
  }).strict();
}

let built: ReturnType<typeof buildRaySchema> | undefined;

/** The `gpk:ray` section; optional (no key, no Ray cluster). */
export const raySchema = z.lazy(() => (built ??= buildRaySchema())).optional();

export type RayConfig = z.output<ReturnType<typeof buildRaySchema>>;

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

/** Cross-section rules of `gpk:ray`; paths are reported as `gpk:ray....`. */
export function checkRayConfig(config: StackConfig, ctx: z.RefinementCtx): void {
  const ray = (config as { ray?: RayConfig }).ray;
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
