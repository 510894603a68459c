/**
 * What each kit component registers as its outputs (`registerOutputs`). Policy packs read
 * these from the component resources in `AnalyzeStack` (the engine hands stack policies a
 * component's registered outputs as its properties), so these shapes are a contract
 * between components/ and policies/. Plain JSON values only.
 */
import type { GpuProduct, TenantIsolation } from "../gpu";

export type Target = "kind" | "eks";

/** Outputs of `gpk:index:GpuNodeGroup`. */
export interface GpuPoolSummary {
  poolName: string;
  target: Target;
  product: GpuProduct;
  /** `nvidia.com/gpu.product` value of the pool's nodes. */
  gfdProduct: string;
  gpusPerNode: number;
  /** Time-slicing replicas per physical GPU (1 = no sharing). */
  timeSlicingReplicas: number;
  migStrategy: "none" | "single" | "mixed";
  /** The MIG layout of every GPU (absent: whole GPUs). */
  mig?: { strategy: "single" | "mixed"; configName: string; devicesPerGpu: Record<string, number> };
  /** Extended resources one node advertises, e.g. `{"nvidia.com/mig-1g.10gb": 56}`. */
  nodeResources: Record<string, number>;
  /** MIG `mixed` devices at max scale, by resource (`nvidia.com/mig-<profile>`): nodeResources × maxNodes. */
  migCapacity: Record<string, number>;
  minNodes: number;
  desiredNodes: number;
  maxNodes: number;
  /**
   * Schedulable `nvidia.com/gpu` units at max scale: maxNodes × gpusPerNode × timeSlicingReplicas,
   * × MIG devices per GPU under MIG `single`; 0 under MIG `mixed` (see migCapacity).
   */
  gpuCapacity: number;
  /** Tenant the pool is dedicated to (tainted `gpk.dev/tenant=<name>:NoSchedule`), if any. */
  dedicatedTenant?: string;
  nodeLabels: Record<string, string>;
  nodeTaints: { key: string; value: string; effect: string }[];
}

/** Outputs of `gpk:index:Tenant`. */
export interface TenantSummary {
  tenantName: string;
  namespace: string;
  /** `requests.nvidia.com/gpu` in the tenant's ResourceQuota. */
  gpuQuota: number;
  /** `requests.nvidia.com/mig-<profile>` caps, by resource, on every MIG resource of the platform (0 where not granted). */
  migQuota: Record<string, number>;
  /** Pools the tenant may schedule onto. */
  allowedPools: string[];
  /** IAM/OIDC group bound to the tenant's Role. */
  group: string;
  /** `strict`: shares no GPU with another tenant's pods. */
  isolation: TenantIsolation;
}

/** Outputs of `gpk:index:NvidiaDevicePlugin`. */
export interface DevicePluginSummary {
  target: Target;
  namespace: string;
  /** Pools whose nodes the plugin's pods are scheduled on. */
  pools: string[];
}

/** Outputs of `gpk:index:GpuTelemetry`. */
export interface GpuTelemetrySummary {
  target: Target;
  namespace: string;
  /** Pools whose nodes run an exporter pod. */
  pools: string[];
}

/** Outputs of `gpk:index:SchedulerExtender`. */
export interface SchedulerExtenderSummary {
  schedulerName: string;
  namespace: string;
  /** Whether placement avoids power-capped / hot GPUs using telemetry. */
  thermalAware: boolean;
}

/** One worker group of a `gpk:index:RayCluster`. */
export interface RayWorkerGroupSummary {
  groupName: string;
  pool: string;
  /** The worker container's `nvidia.com/gpu` limit, which KubeRay passes to Ray as `--num-gpus`. */
  gpusPerWorker: number;
  minReplicas: number;
  maxReplicas: number;
}

/** Outputs of `gpk:index:RayCluster`. */
export interface RayClusterSummary {
  clusterName: string;
  /** Tenant namespace the RayCluster runs in. */
  namespace: string;
  /** Namespace of the KubeRay operator, and the namespaces it watches. */
  operatorNamespace: string;
  watchNamespaces: string[];
  workerGroups: RayWorkerGroupSummary[];
  /** GPUs the cluster holds at max scale: Σ gpusPerWorker × maxReplicas. */
  maxGpus: number;
  /** Whether the head keeps its GCS state in Redis (and where). */
  gcsFaultTolerance: boolean;
  redisAddress?: string;
  /** Scheduler of the worker pods. */
  schedulerName: string;
}

/** Outputs of `gpk:index:VllmServing`. */
export interface ServingSummary {
  name: string;
  namespace: string;
  pool: string;
  model: string;
  gpusPerReplica: number;
  minReplicas: number;
  maxReplicas: number;
  maxWaiting: number;
  /** What serves its autoscaler's metric: `prometheus-adapter`, `keda` or `external`. */
  metricsSource: string;
  gpuMemoryUtilization: number;
  url: string;
  /** What the serving-capacity policy sizes; present only when the entry declares `traffic` and `slo`. */
  capacity?: ServingCapacitySummary;
}

/** A serving entry's traffic, SLO and the engine configuration that serves it, for the serving-capacity policy. */
export interface ServingCapacitySummary {
  /** The entry's key path in the stack config, e.g. `gpk:serving[0]`. */
  keyPath: string;
  model: string;
  gpu: GpuProduct;
  tensorParallelSize: number;
  maxNumSeqs: number;
  /** The entry's `maxNumBatchedTokens`, or null for the engine's default. */
  maxNumBatchedTokens: number | null;
  maxModelLen: number | null;
  gpuMemoryUtilization: number;
  blockSize: number;
  kvCacheDtype: string;
  enablePrefixCaching: boolean;
  /** The pool's EC2 instance type (eks), or null (kind: priced as the product's instance type with the pool's GPUs per node). */
  instanceType: string | null;
  gpusPerNode: number;
  minReplicas: number;
  maxReplicas: number;
  traffic: { peakRequestsPerSecond: number; workload: string };
  slo: { ttftP99Ms?: number; tpotP99Ms?: number; e2eP99Ms?: number };
}

/** Outputs of `gpk:index:CheckpointStore`. */
export interface CheckpointStoreSummary {
  target: Target;
  tenant: string;
  bucket: string;
  /** What the tenant's Ray pods get as GPK_CHECKPOINT_STORAGE. */
  storageUri: string;
  /** True when the kit creates the bucket (eks); false for a store the tenant runs (kind). */
  managed: boolean;
  noncurrentVersionDays: number;
  objectLockDays: number | null;
}

/** Outputs of `gpk:index:Platform`. */
export interface PlatformSummary {
  stack: string;
  target: Target;
  pools: GpuPoolSummary[];
  tenants: TenantSummary[];
  totalGpuCapacity: number;
}
