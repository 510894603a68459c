/**
 * The one home of the GPU facts the kit shares between components, policies and the
 * in-cluster runtime: resource names, taints, labels, scheduler name and GPU products.
 * Pure data and tiny helpers that import nothing of the kit: it sits beneath `components/`,
 * `policies/` and `runtime/` (the in-cluster programs never import the Pulumi layer).
 */

/** Extended resource advertised by the NVIDIA device plugin (and by ours on kind). */
export const GPU_RESOURCE = "nvidia.com/gpu";

/** The ResourceQuota key that caps a namespace's GPU requests. */
export const GPU_QUOTA_KEY = `requests.${GPU_RESOURCE}`;

/** Taint on every GPU node, so only pods that ask for GPUs land there. */
export const GPU_TAINT = { key: GPU_RESOURCE, value: "present", effect: "NoSchedule" } as const;

/** Labels GPU Feature Discovery puts on GPU nodes; the kit sets the same ones on its pools. */
export const GFD_LABELS = {
  product: "nvidia.com/gpu.product",
  count: "nvidia.com/gpu.count",
  /** GPU memory in MiB, as GFD reports it. */
  memory: "nvidia.com/gpu.memory",
  replicas: "nvidia.com/gpu.replicas",
  /** "true" on every node GFD found a GPU on. */
  present: "nvidia.com/gpu.present",
} as const;

/** The kit's own labels. */
export const KIT_LABELS = {
  pool: "gpk.dev/pool",
  tenant: "gpk.dev/tenant",
  managedBy: "app.kubernetes.io/managed-by",
} as const;

export const MANAGED_BY = "gpu-platform-kit";

/**
 * Annotations the scheduler extender reads and writes (shared with the device plugin's hints).
 * - `gpuAssignment` (pod): JSON `{"node","gpus":[index...],"uuids":[...],"milliPerGpu"}` written
 *   through the Binding at bind time; GetPreferredAllocation hints may take `uuids` first.
 * - `gpuMilli` (pod): milli-GPU of ONE shared GPU (1..1000) for pods that share a GPU.
 * - `gpuNuma` (node): NUMA node / NVLink domain of each GPU in index order, e.g. "0,0,0,0,1,1,1,1".
 * - `runtimeHash`, `configHash` (pod template): SHA-256 of the runtime bundle or of a mounted
 *   configuration, so a change rolls the pods.
 */
export const KIT_ANNOTATIONS = {
  gpuAssignment: "gpk.dev/gpu-assignment",
  gpuMilli: "gpk.dev/gpu-milli",
  gpuNuma: "gpk.dev/gpu-numa",
  runtimeHash: "gpk.dev/runtime-sha256",
  configHash: "gpk.dev/config-sha256",
  /** SHA-256 over a pod's TLS certificates (components/scheduler-extender.ts): a new certificate rolls the pods. */
  certificateHash: "gpk.dev/certificate-sha256",
  /**
   * On a node, set by `gpk defrag --apply` while it moves pods: `reserved-for=<ns>/<name>` (only
   * that pod may be placed there) or `draining` (no pod may). The extender honours it at filter
   * and bind; `gpk defrag` removes it when done or stopped.
   */
  defragHold: "gpk.dev/defrag-hold",
  /** On a pod, `"true"`: `gpk defrag` never moves it. */
  noMigrate: "gpk.dev/no-migrate",
} as const;

/** Taint key of a pool dedicated to one tenant: `gpk.dev/tenant=<tenant>:NoSchedule`. */
export function dedicatedPoolTaint(tenant: string) {
  return { key: KIT_LABELS.tenant, value: tenant, effect: "NoSchedule" } as const;
}

/**
 * Kubernetes toleration matching (k8s.io/api core/v1 Toleration.ToleratesTaint): the effect
 * matches when the toleration names none or the same; an empty key with Exists tolerates every
 * taint; otherwise the keys match and Exists, or Equal (the default) with equal values.
 * One home for the policy packs and the scheduler extender's bind guard.
 */
export function toleratesTaint(t: { key?: string; operator?: string; value?: string; effect?: string }, taint: { key: string; value?: string; effect: string }): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  const operator = t.operator || "Equal";
  if (!t.key) return operator === "Exists";
  if (t.key !== taint.key) return false;
  return operator === "Exists" || (operator === "Equal" && (t.value ?? "") === (taint.value ?? ""));
}

/** Toleration matching a taint exactly (operator Equal). */
export function tolerationFor(taint: { key: string; value: string; effect: string }) {
  return { key: taint.key, operator: "Equal", value: taint.value, effect: taint.effect };
}

/** Name of the second kube-scheduler profile that calls the gpk extender. */
export const GPK_SCHEDULER_NAME = "gpk-scheduler";

/** Namespace of the kit's cluster services (scheduler extender, second scheduler, operators): PSA `restricted`. */
export const SYSTEM_NAMESPACE = "gpk-system";

/**
 * Namespace of the per-node GPU agents (device plugin, GPU telemetry). Its PSA level is
 * `privileged` because the device plugin must mount the kubelet's device-plugin socket
 * directory from the host; nothing else runs there.
 */
export const NODE_AGENT_NAMESPACE = "gpk-node";

/**
 * Namespace of the metrics scrapers (Prometheus) by default: the only one the kit's
 * NetworkPolicies let reach its exporters, extender and scheduler (`gpk:telemetry.monitoringNamespace`).
 */
export const DEFAULT_MONITORING_NAMESPACE = "monitoring";

/** Namespaces that are not tenant workload namespaces. */
export const SYSTEM_NAMESPACES = [SYSTEM_NAMESPACE, NODE_AGENT_NAMESPACE, "kube-system", "kube-public", "kube-node-lease", "default"] as const;

/** Node label that selects which named device-plugin config a node uses (NVIDIA device plugin `config.map`). */
export const DEVICE_PLUGIN_CONFIG_LABEL = "nvidia.com/device-plugin.config";

/**
 * GPU products the kit knows, with the datasheet figures the simulators need.
 * - `gfdProduct`: the value GFD writes to `nvidia.com/gpu.product` (nvidia-smi's name, spaces as dashes).
 * - `memoryMiB`: framebuffer as nvidia-smi reports it (H100: 81559 MiB in data/h100/nvidia-smi-q.xml).
 * - `memBandwidthGBps`, `bf16DenseTflops`: NVIDIA datasheets (dense, without sparsity). A10G uses the A10 figures.
 * - `powerLimitW`, `maxSmClockMHz`, `maxMemClockMHz`: default power limit and max clocks
 *   (H100 from the capture: 700 W, 1980 MHz, 2619 MHz; others from datasheets / nvidia-smi -q on AWS instances).
 * - `interconnectGBps`: GPU-to-GPU bandwidth per direction, what a tensor-parallel all-reduce
 *   moves data over: NVLink for the SXM parts (H100 900 GB/s and A100 600 GB/s in total, both
 *   directions, per the datasheets), PCIe Gen4 x16 (32 GB/s each way) for the others.
 */
export const GPU_PRODUCTS = {
  h100: {
    smiName: "NVIDIA H100 80GB HBM3", gfdProduct: "NVIDIA-H100-80GB-HBM3", memoryMiB: 81559,
    memBandwidthGBps: 3350, bf16DenseTflops: 989, powerLimitW: 700, maxSmClockMHz: 1980, maxMemClockMHz: 2619, interconnectGBps: 450,
  },
  a100: {
    smiName: "NVIDIA A100-SXM4-80GB", gfdProduct: "NVIDIA-A100-SXM4-80GB", memoryMiB: 81920,
    memBandwidthGBps: 2039, bf16DenseTflops: 312, powerLimitW: 400, maxSmClockMHz: 1410, maxMemClockMHz: 1593, interconnectGBps: 300,
  },
  l40s: {
    smiName: "NVIDIA L40S", gfdProduct: "NVIDIA-L40S", memoryMiB: 46068,
    memBandwidthGBps: 864, bf16DenseTflops: 362, powerLimitW: 350, maxSmClockMHz: 2520, maxMemClockMHz: 9001, interconnectGBps: 32,
  },
  a10g: {
    smiName: "NVIDIA A10G", gfdProduct: "NVIDIA-A10G", memoryMiB: 23028,
    memBandwidthGBps: 600, bf16DenseTflops: 125, powerLimitW: 300, maxSmClockMHz: 1710, maxMemClockMHz: 6251, interconnectGBps: 32,
  },
  l4: {
    smiName: "NVIDIA L4", gfdProduct: "NVIDIA-L4", memoryMiB: 23034,
    memBandwidthGBps: 300, bf16DenseTflops: 121, powerLimitW: 72, maxSmClockMHz: 2040, maxMemClockMHz: 6251, interconnectGBps: 32,
  },
} as const;
export type GpuProduct = keyof typeof GPU_PRODUCTS;
export const GPU_PRODUCT_IDS = Object.keys(GPU_PRODUCTS) as GpuProduct[];

/**
 * EC2 GPU instance types: product and GPUs per instance (AWS accelerated-computing
 * instance pages). Used to derive GFD labels and pool capacity from `instanceType`.
 */
export const EC2_GPU_INSTANCES: Record<string, { product: GpuProduct; gpus: number }> = {
  "p5.4xlarge": { product: "h100", gpus: 1 },
  "p5.48xlarge": { product: "h100", gpus: 8 },
  "p4de.24xlarge": { product: "a100", gpus: 8 },
  "g6e.xlarge": { product: "l40s", gpus: 1 },
  "g6e.2xlarge": { product: "l40s", gpus: 1 },
  "g6e.4xlarge": { product: "l40s", gpus: 1 },
  "g6e.8xlarge": { product: "l40s", gpus: 1 },
  "g6e.16xlarge": { product: "l40s", gpus: 1 },
  "g6e.12xlarge": { product: "l40s", gpus: 4 },
  "g6e.24xlarge": { product: "l40s", gpus: 4 },
  "g6e.48xlarge": { product: "l40s", gpus: 8 },
  "g5.xlarge": { product: "a10g", gpus: 1 },
  "g5.2xlarge": { product: "a10g", gpus: 1 },
  "g5.4xlarge": { product: "a10g", gpus: 1 },
  "g5.8xlarge": { product: "a10g", gpus: 1 },
  "g5.16xlarge": { product: "a10g", gpus: 1 },
  "g5.12xlarge": { product: "a10g", gpus: 4 },
  "g5.24xlarge": { product: "a10g", gpus: 4 },
  "g5.48xlarge": { product: "a10g", gpus: 8 },
  "g6.xlarge": { product: "l4", gpus: 1 },
  "g6.2xlarge": { product: "l4", gpus: 1 },
  "g6.4xlarge": { product: "l4", gpus: 1 },
  "g6.8xlarge": { product: "l4", gpus: 1 },
  "g6.16xlarge": { product: "l4", gpus: 1 },
  "g6.12xlarge": { product: "l4", gpus: 4 },
  "g6.24xlarge": { product: "l4", gpus: 4 },
  "g6.48xlarge": { product: "l4", gpus: 8 },
};

/** How tenants share the platform's GPUs: `strict` never shares a GPU with another tenant's pods. */
export const TENANT_ISOLATION = ["shared", "strict"] as const;
export type TenantIsolation = (typeof TENANT_ISOLATION)[number];

/**
 * Why a `strict` tenant may not use a pool, or undefined when it may. Only time-slicing puts
 * two tenants' pods on one device (NVIDIA: time-sliced replicas share memory and faults, with
 * no isolation between them), a whole GPU or a MIG device alike (MIG devices can be
 * time-sliced too). A pool dedicated to the tenant, or one without time-slicing (whole GPUs,
 * or MIG's hardware partitions handed out whole), never does. One home for config validation
 * and the tenancy pack.
 */
export function strictTenantPoolProblem(pool: { name: string; timeSlicingReplicas: number; dedicatedTenant?: string }, tenant: string): string | undefined {
  if (pool.dedicatedTenant === tenant || pool.timeSlicingReplicas === 1) return undefined;
  return `pool "${pool.name}" time-slices each device ${pool.timeSlicingReplicas} ways for ${pool.dedicatedTenant === undefined ? "every tenant" : `tenant "${pool.dedicatedTenant}"`}`;
}

/** The kit's ValidatingAdmissionPolicies (components/admission-guards.ts) by name; the tenancy pack requires them. */
export const ADMISSION_GUARDS = {
  requestsEqualLimits: "gpk-gpu-requests-equal-limits",
  tolerationScope: "gpk-gpu-toleration-scope",
  dedicatedPools: "gpk-dedicated-pool-tolerations",
} as const;

export type ValidationAction = "Deny" | "Warn" | "Audit";

/** `gpk:admission` defaults: refuse a pod when a guard cannot be evaluated, and deny violations. */
export const ADMISSION_DEFAULTS = {
  failurePolicy: "Fail" as "Fail" | "Ignore",
  validationActions: ["Deny"] as readonly ValidationAction[],
};

/** The admission policy that keeps a strict tenant's GPU pods on its pools. */
export function strictPoolsGuardName(namespace: string): string {
  return `gpk-strict-tenant-pools-${namespace}`;
}
