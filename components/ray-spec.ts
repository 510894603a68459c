/**
 * Pure functions that render a KubeRay `ray.io/v1` RayCluster for GPU pools. No Pulumi
 * import: the stack config imports the defaults from here, and the tests call these
 * functions directly. Field names follow the KubeRay v1.7.0 CRD in
 * data/schemas/kuberay-v1.7.0/ray.io_rayclusters.yaml.
 */
import { GPK_SCHEDULER_NAME, GPU_PRODUCTS, GPU_RESOURCE, KIT_LABELS, MANAGED_BY, tolerationFor } from "../gpu";
import { CHECKPOINT_STORAGE_ENV } from "./checkpoint-store";
import { IMAGES, imageRef, type ImagePin } from "./pins";
import { restrictedContainerSecurity, restrictedPodSecurity } from "./pod-security";
import type { GpuPoolSummary, Target } from "./summaries";

/** Every default of the Ray cluster, in one place (the stack config and the component both read it). */
export const RAY_DEFAULTS = {
  /** RayCluster name. */
  name: "ray",
  head: { cpu: "4", memory: "16Gi" },
  worker: { minReplicas: 0, idleTimeoutSeconds: 600 },
  autoscaler: {
    /**
     * `Conservative` caps pending worker pods at the cluster's current size, so a burst of
     * retries after a node loss asks for a few nodes at a time rather than the whole pool.
     */
    upscalingMode: "Conservative",
    /** Idle seconds before a worker is removed, for groups that set no `idleTimeoutSeconds`. */
    idleTimeoutSeconds: 300,
    /** The autoscaler sidecar's requests = limits (KubeRay's own defaults, stated so quotas can count them). */
    cpu: "500m",
    memory: "512Mi",
  },
  /**
   * `RAY_task_retry_delay_ms`: pause before Ray retries a failed task. Ray's default is 0,
   * so every task of a lost node is resubmitted at once; a delay spreads the retries out.
   */
  taskRetryDelayMs: 5000,
  redis: { storage: "8Gi", cpu: "500m", memory: "1Gi" },
  /** Worker pods of one group that a voluntary disruption (node drain) may take at a time. */
  workerMaxUnavailable: 1,
} as const;

export type UpscalingMode = "Default" | "Aggressive" | "Conservative";

/** Custom Ray resource every worker pod offers once: `@ray.remote(resources={"gpk-node-slot": 1})` spreads tasks one per worker. */
export const NODE_SLOT_RESOURCE = "gpk-node-slot";

/** Labels KubeRay puts on the pods it creates (ray-operator/controllers/ray/utils/constant.go). */
export const KUBERAY_POD_LABELS = { cluster: "ray.io/cluster", nodeType: "ray.io/node-type", group: "ray.io/group" } as const;

/** The rayproject images run as user `ray`: uid 1000, gid 100 (`users`). */
export const RAY_IMAGE_USER = { uid: 1000, gid: 100 } as const;

/** Ray version of an image pin: the release part of its tag (`2.55.1-py310-gpu` → `2.55.1`). */
export function rayVersionOf(pin: ImagePin): string {
  return pin.tag.split("-")[0]!;
}

export interface SecretKeyRef {
  name: string;
  key: string;
}

/** One Ray worker group on one GPU pool. */
export interface RayWorkerGroupArgs {
  /** Pool the group runs on (selected by its `gpk.dev/pool` label). */
  pool: string;
  /** Worker group name. Default: the pool name. */
  groupName?: string;
  /** GPUs per worker pod. Default: the pool's GPUs per node, i.e. one worker per node. */
  gpusPerWorker?: number;
  /** CPU of each worker pod (requests = limits). Ray's `num-cpus` follows it. */
  cpu: string;
  /** Memory of each worker pod (requests = limits). */
  memory: string;
  /** Fewest workers the autoscaler keeps. Default 0. */
  minReplicas?: number;
  /** Most workers the autoscaler may create. */
  maxReplicas: number;
  /** Idle seconds before the autoscaler removes a worker of this group. Default 600. */
  idleTimeoutSeconds?: number;
}

/** Redis for GCS fault tolerance: deployed beside the cluster, or an existing one by address. */
export type RayRedisArgs =
  | {
      deploy: true;
      /** Secret (in the cluster's namespace) holding the password Redis requires and Ray sends. */
      passwordSecret: SecretKeyRef;
      /** Size of Redis's append-only-file volume. Default "8Gi". */
      storage?: string;
      /** StorageClass of that volume. Default: the cluster's default class. */
      storageClassName?: string;
    }
  | {
      deploy?: false;
      /** `host:port` of an existing Redis. */
      address: string;
      /** Secret (in the cluster's namespace) holding that Redis's password. */
      passwordSecret: SecretKeyRef;
    };

export interface RayGcsFaultToleranceArgs {
  /** Whether the head keeps the GCS state in Redis and can restart without losing it. Default false. */
  enabled?: boolean;
  /** The Redis the GCS state goes to: one the kit deploys, or an external one. Required. */
  redis: RayRedisArgs;
  /** Key prefix of this cluster's state in Redis. Default: KubeRay uses the RayCluster's UID. */
  externalStorageNamespace?: string;
}

/** A worker group with every default applied and its pool resolved. */
export interface ResolvedWorkerGroup {
  groupName: string;
  pool: GpuPoolSummary;
  gpusPerWorker: number;
  cpu: string;
  memory: string;
  minReplicas: number;
  maxReplicas: number;
  idleTimeoutSeconds: number;
}

export interface RayClusterSpecInput {
  /** RayCluster name. */
  name: string;
  /** kind workers run the CPU image (simulated GPUs need no CUDA); eks workers the CUDA image. */
  target: Target;
  head: { cpu: string; memory: string };
  workerGroups: ResolvedWorkerGroup[];
  autoscaler: { upscalingMode: UpscalingMode; idleTimeoutSeconds: number };
  /** Place workers through the gpk-scheduler profile (the scheduler extender). */
  useGpkScheduler: boolean;
  taskRetryDelayMs: number;
  /** Resolved Redis address when GCS fault tolerance is on. */
  gcsFaultTolerance?: { redisAddress: string; passwordSecret: SecretKeyRef; externalStorageNamespace?: string };
  /** Tenant that owns the cluster (pod label). */
  tenant: string;
  /** The tenant's checkpoint URI (GPK_CHECKPOINT_STORAGE) and the workers' service account for it. */
  checkpointStorage?: { uri: string; workerServiceAccount?: string };
}

/** Applies the worker-group defaults against the pools. Unknown pools are reported by the caller. */
export function resolveWorkerGroup(group: RayWorkerGroupArgs, pool: GpuPoolSummary): ResolvedWorkerGroup {
  return {
    groupName: group.groupName ?? group.pool,
    pool,
    gpusPerWorker: group.gpusPerWorker ?? pool.gpusPerNode,
    cpu: group.cpu,
    memory: group.memory,
    minReplicas: group.minReplicas ?? RAY_DEFAULTS.worker.minReplicas,
    maxReplicas: group.maxReplicas,
    idleTimeoutSeconds: group.idleTimeoutSeconds ?? RAY_DEFAULTS.worker.idleTimeoutSeconds,
  };
}

/** Requests equal to limits (Guaranteed QoS; the only form Kubernetes accepts for GPUs). */
function guaranteed(resources: Record<string, string>) {
  return { requests: { ...resources }, limits: { ...resources } };
}

/**
 * Environment every Ray container gets: the retry backoff (read by each process that owns
 * tasks), and the tenant's checkpoint URI for `RunConfig(storage_path=…)` when it has a store.
 */
export function rayEnv(input: Pick<RayClusterSpecInput, "taskRetryDelayMs" | "checkpointStorage">) {
  return [
    { name: "RAY_task_retry_delay_ms", value: String(input.taskRetryDelayMs) },
    ...(input.checkpointStorage ? [{ name: CHECKPOINT_STORAGE_ENV, value: input.checkpointStorage.uri }] : []),
  ];
}

function podLabels(input: Pick<RayClusterSpecInput, "tenant">) {
  return { [KIT_LABELS.tenant]: input.tenant, [KIT_LABELS.managedBy]: MANAGED_BY };
}

/** The head: no Ray work (`num-cpus: "0"`), CPU nodes only, and the API token the autoscaler sidecar needs. */
export function headGroupSpec(input: RayClusterSpecInput) {
  return {
    serviceType: "ClusterIP",
    // Tasks and actors never land on the head, so a busy job cannot starve the GCS.
    rayStartParams: { "num-cpus": "0" },
    template: {
      metadata: { labels: podLabels(input) },
      spec: {
        // The in-tree autoscaler runs as a sidecar of this pod and scales workers through the
        // Kubernetes API with the ServiceAccount KubeRay creates for the cluster.
        automountServiceAccountToken: true,
        securityContext: restrictedPodSecurity({ ...RAY_IMAGE_USER, fsGroup: RAY_IMAGE_USER.gid }),
        containers: [{
          name: "ray-head",
          image: imageRef(IMAGES.ray),
          resources: guaranteed({ cpu: input.head.cpu, memory: input.head.memory }),
          securityContext: restrictedContainerSecurity(),
          env: rayEnv(input),
        }],
      },
    },
  };
}

/** Custom Ray resources of one worker pod: its GPU product (count = its GPUs) and one node slot. */
export function workerRayResources(group: ResolvedWorkerGroup): Record<string, string> {
  return { [GPU_PRODUCTS[group.pool.product].gfdProduct]: String(group.gpusPerWorker), [NODE_SLOT_RESOURCE]: "1" };
}

/** One worker group: Ray's `num-gpus` follows the container's GPU limit; pinned to its pool, tolerating its taints. */
export function workerGroupSpec(input: RayClusterSpecInput, group: ResolvedWorkerGroup) {
  const gpus = String(group.gpusPerWorker);
  const spec: Record<string, unknown> = {
    // Workers that fail are replaced by KubeRay as new Ray nodes instead of restarting in
    // place (the autoscaler requires it); Ray retries their tasks elsewhere.
    restartPolicy: "Never",
    // EKS Pod Identity gives the workers the checkpoint role through this account; it mounts its own token.
    ...(input.checkpointStorage?.workerServiceAccount ? { serviceAccountName: input.checkpointStorage.workerServiceAccount } : {}),
    automountServiceAccountToken: false,
    securityContext: restrictedPodSecurity({ ...RAY_IMAGE_USER, fsGroup: RAY_IMAGE_USER.gid }),
    nodeSelector: { [KIT_LABELS.pool]: group.pool.poolName },
    tolerations: group.pool.nodeTaints.map(tolerationFor),
    containers: [{
      name: "ray-worker",
      image: imageRef(input.target === "eks" ? IMAGES.rayGpu : IMAGES.ray),
      resources: guaranteed({ cpu: group.cpu, memory: group.memory, [GPU_RESOURCE]: gpus }),
      securityContext: restrictedContainerSecurity(),
      env: rayEnv(input),
    }],
  };
  if (input.useGpkScheduler) spec.schedulerName = GPK_SCHEDULER_NAME;
  return {
    groupName: group.groupName,
    // `replicas` is left to the autoscaler: a value here would be re-applied on every
    // `pulumi up` and scale a busy cluster back to its minimum.
    minReplicas: group.minReplicas,
    maxReplicas: group.maxReplicas,
    idleTimeoutSeconds: group.idleTimeoutSeconds,
    // No rayStartParams: KubeRay (utils/validation.go, v1.7.0) refuses num-gpus there beside
    // `resources`, and derives `--num-gpus` from the container's GPU limit (common/pod.go).
    rayStartParams: {},
    resources: workerRayResources(group),
    // Ray node labels (Ray ≥ 2.49): `label_selector={"gpk.dev/pool": "<pool>"}` picks the pool.
    labels: { [KIT_LABELS.pool]: group.pool.poolName },
    template: { metadata: { labels: podLabels(input) }, spec },
  };
}

/** Security context of the autoscaler sidecar KubeRay adds to the head pod (Pod Security `restricted`). */
export function autoscalerOptions(input: RayClusterSpecInput) {
  const a = RAY_DEFAULTS.autoscaler;
  return {
    version: "v2",
    upscalingMode: input.autoscaler.upscalingMode,
    idleTimeoutSeconds: input.autoscaler.idleTimeoutSeconds,
    resources: guaranteed({ cpu: a.cpu, memory: a.memory }),
    securityContext: restrictedContainerSecurity(),
  };
}

/** `spec.gcsFaultToleranceOptions` (KubeRay ≥ 1.3): Redis address and the password from a Secret. */
export function gcsFaultToleranceOptions(ft: NonNullable<RayClusterSpecInput["gcsFaultTolerance"]>) {
  return {
    redisAddress: ft.redisAddress,
    redisPassword: { valueFrom: { secretKeyRef: { name: ft.passwordSecret.name, key: ft.passwordSecret.key } } },
    ...(ft.externalStorageNamespace ? { externalStorageNamespace: ft.externalStorageNamespace } : {}),
  };
}

/** The RayCluster `spec`. */
export function rayClusterSpec(input: RayClusterSpecInput): Record<string, unknown> {
  return {
    rayVersion: rayVersionOf(IMAGES.ray),
    // Ray token authentication: the dashboard and job API refuse callers without the token
    // KubeRay generates into a Secret of the cluster.
    authOptions: { mode: "token" },
    enableInTreeAutoscaling: true,
    autoscalerOptions: autoscalerOptions(input),
    ...(input.gcsFaultTolerance ? { gcsFaultToleranceOptions: gcsFaultToleranceOptions(input.gcsFaultTolerance) } : {}),
    headGroupSpec: headGroupSpec(input),
    workerGroupSpecs: input.workerGroups.map((group) => workerGroupSpec(input, group)),
  };
}

/**
 * One PodDisruptionBudget per worker group: a node drain evicts at most one worker of the
 * group at a time. The autoscaler deletes idle pods directly, so the budget never blocks
 * scale-down; `AlwaysAllow` lets a drain evict a worker that is not Ready.
 */
export function workerDisruptionBudgetSpec(clusterName: string, groupName: string) {
  return {
    maxUnavailable: RAY_DEFAULTS.workerMaxUnavailable,
    unhealthyPodEvictionPolicy: "AlwaysAllow",
    selector: {
      matchLabels: { [KUBERAY_POD_LABELS.cluster]: clusterName, [KUBERAY_POD_LABELS.nodeType]: "worker", [KUBERAY_POD_LABELS.group]: groupName },
    },
  };
}
