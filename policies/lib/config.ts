/**
 * Policy configuration: every threshold is a `configSchema` property with a default, and
 * policies read it through `args.getConfig()` merged over those defaults. The engine fills
 * schema defaults in itself, but a policy must behave the same when it is handed no config
 * at all (unit tests, older CLIs), so the defaults are applied here too, from one place.
 */
import type { PolicyConfigSchema } from "@pulumi/policy";
import { NODE_AGENT_NAMESPACE, SYSTEM_NAMESPACES } from "../../gpu";

type JsonSchema = PolicyConfigSchema["properties"][string];

/** The config properties policies share, one definition each (keys = the stack config's `policy` keys). */
export const CONFIG = {
  headroomPercent: {
    type: "number", minimum: 0, maximum: 100, default: 20,
    description: "Share of each GPU pool's capacity (percent) that must stay unallocated by tenant quotas and node-group scaling.",
  },
  maxGpuMemoryUtilization: {
    type: "number", exclusiveMinimum: 0, maximum: 1, default: 0.9,
    description: "Highest `--gpu-memory-utilization` a serving engine may use; the rest is padding for CUDA graphs, activations and fragmentation.",
  },
  maxGpuTempC: {
    type: "number", minimum: 40, maximum: 110, default: 85,
    description: "GPU temperature (°C) at or above which an alert must fire.",
  },
  thermalAwareAboveGpus: {
    type: "integer", minimum: 0, default: 16,
    description: "Pools with more GPUs than this must schedule GPU workloads through the thermal-aware gpk-scheduler.",
  },
  checkpointRetentionDays: {
    type: "integer", minimum: 1, default: 30,
    description: "Days a checkpoint bucket must keep a replaced or deleted version (noncurrent version expiration), so an overwrite can be undone.",
  },
  maxRayWorkerReplicas: {
    type: "integer", minimum: 1, default: 64,
    description: "Largest `maxReplicas` a Ray worker group may declare.",
  },
  maxRayJobBackoffLimit: {
    type: "integer", minimum: 0, default: 3,
    description: "Most resubmissions (`backoffLimit`) a RayJob may declare; each one reruns the whole entrypoint on the cluster's GPUs.",
  },
  systemNamespaces: {
    type: "array", items: { type: "string" }, default: [...SYSTEM_NAMESPACES],
    description: "Namespaces that belong to the platform rather than to a tenant.",
  },
  privilegedNamespaces: {
    type: "array", items: { type: "string" }, default: [NODE_AGENT_NAMESPACE, "kube-system"],
    description: "Namespaces whose node agents (device plugin, telemetry) may run privileged or use host paths and namespaces.",
  },
  allowedRegistries: {
    type: "array", items: { type: "string" },
    default: ["nvcr.io/nvidia/", "docker.io/library/", "docker.io/vllm/", "docker.io/rayproject/", "registry.k8s.io/"],
    description: "Image reference prefixes (registry host and path, e.g. `nvcr.io/nvidia/`) that workloads may pull from. Images without a host are read as `docker.io/` (and `docker.io/library/` without a path).",
  },
} as const satisfies Record<string, JsonSchema>;

export type ConfigKey = keyof typeof CONFIG;

type Widen<T> = T extends number ? number : T extends string ? string : T extends readonly (infer U)[] ? Widen<U>[] : T;
export type ConfigValues<K extends ConfigKey> = { [P in K]: Widen<(typeof CONFIG)[P]["default"]> };

/** A `configSchema` holding the named shared properties. */
export function configSchema<K extends ConfigKey>(...keys: K[]): PolicyConfigSchema {
  const properties: Record<string, JsonSchema> = {};
  for (const key of keys) properties[key] = CONFIG[key] as JsonSchema;
  return { properties };
}

/** The policy's config: what `getConfig()` returns, over the schema defaults. */
export function readConfig<K extends ConfigKey>(args: { getConfig<T extends object>(): T }, ...keys: K[]): ConfigValues<K> {
  const given = args.getConfig<Record<string, unknown>>() ?? {};
  const out: Record<string, unknown> = {};
  for (const key of keys) out[key] = given[key] ?? CONFIG[key].default;
  return out as ConfigValues<K>;
}
