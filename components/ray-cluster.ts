/**
 * `gpk:index:RayCluster`: a KubeRay `ray.io/v1` RayCluster in a tenant's namespace with one
 * GPU worker group per pool, in-tree autoscaling (v2), optional GCS fault tolerance on
 * Redis, disruption budgets for the workers, and the KubeRay operator (pinned Helm chart,
 * watching only the tenant namespace). The class is thin: the spec comes from
 * ./ray-spec.ts, the Redis objects from ./ray-redis.ts, the rules from ./ray-checks.ts.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { GPK_SCHEDULER_NAME, KIT_LABELS, MANAGED_BY, SYSTEM_NAMESPACE } from "../gpu";
import { CHARTS } from "./pins";
import { kuberayCrds, type RayOperatorInstall } from "./ray-crds";
import { restrictedPodSecurity } from "./pod-security";
import { workerGroupProblems } from "./ray-checks";
import { rayJobObject, rayJobProblems, type RayJobArgs } from "./ray-job";
import { redisAddress, redisName, redisServiceSpec, redisStatefulSetSpec } from "./ray-redis";
import {
  KUBERAY_POD_LABELS, RAY_DEFAULTS, rayClusterSpec, resolveWorkerGroup, workerDisruptionBudgetSpec,
  type RayClusterSpecInput, type RayWorkerGroupArgs, type SecretKeyRef, type UpscalingMode,
} from "./ray-spec";
import type { GpuPoolSummary, RayClusterSummary, Target } from "./summaries";

/** Redis for GCS fault tolerance: `deploy: true` (the component runs one) or the `address` of an existing one. */
export interface RayRedisArgs {
  /** Deploy a Redis StatefulSet beside the cluster. Default false. */
  deploy?: boolean;
  /** `host:port` of an existing Redis; required unless `deploy` is true. */
  address?: string;
  /** Secret in the cluster's namespace holding the Redis password (the kit never stores it). */
  passwordSecret: SecretKeyRef;
  /** Size of the deployed Redis's volume. Default "8Gi". */
  storage?: string;
  /** StorageClass of that volume. Default: the cluster's default class. */
  storageClassName?: string;
}

export interface RayClusterArgs {
  /** `eks`: KubeRay with CUDA Ray workers on GPU pools; `kind`: CPU Ray images on the simulated pools. Required. */
  target: Target;
  /** Tenant namespace the cluster runs in (it must exist: create it through a Tenant). */
  namespace: string;
  /** RayCluster name. Default "ray". */
  clusterName?: string;
  /** The platform's GPU pools; every worker group names one of them. */
  pools: GpuPoolSummary[];
  /** Head pod CPU and memory (requests = limits). Default "4" and "16Gi". */
  head?: { cpu?: string; memory?: string };
  /** One group per pool the cluster uses. */
  workerGroups: RayWorkerGroupArgs[];
  /** Autoscaler v2 settings. Default upscalingMode `Conservative`, idleTimeoutSeconds 300. */
  autoscaler?: { upscalingMode?: UpscalingMode; idleTimeoutSeconds?: number };
  /** Keep the GCS state in Redis so the head can restart without losing the cluster. Default off. */
  gcsFaultTolerance?: { enabled?: boolean; redis?: RayRedisArgs; externalStorageNamespace?: string };
  /** Schedule worker pods with the gpk-scheduler profile (needs the SchedulerExtender). Default false. */
  useGpkScheduler?: boolean;
  /** `RAY_task_retry_delay_ms` on every Ray container. Default 5000. */
  taskRetryDelayMs?: number;
  /**
   * How KubeRay reaches the cluster. `chart`: the pinned operator chart (CRDs included).
   * `crds-only`: the pinned CRDs alone (data/schemas/kuberay-v<version>), for a cluster that
   * cannot fetch the chart, such as the binaries runtime: the API server admits and validates
   * RayClusters, and nothing reconciles them. `none`: someone else installs KubeRay.
   * Default `chart`.
   */
  operator?: RayOperatorInstall;
  /** Namespace of the operator. Default `gpk-system`. */
  operatorNamespace?: string;
  /**
   * The tenant's checkpoint store: `uri` reaches every Ray container as GPK_CHECKPOINT_STORAGE;
   * `workerServiceAccount` (eks, Pod Identity) is created without a token and set on the workers.
   * Default: none.
   */
  checkpointStorage?: { uri: string; workerServiceAccount?: string };
  /** RayJobs submitted to this cluster (`clusterSelector`). Default none. */
  jobs?: RayJobArgs[];
}

type PropertyError = { propertyPath: string; reason: string };

/** `workerGroups[0].gpusPerWorker` from a path array. */
function propertyPath(path: (string | number)[]): string {
  return path.reduce<string>((acc, part) => (typeof part === "number" ? `${acc}[${part}]` : acc ? `${acc}.${part}` : part), "");
}

/** Every problem with the arguments, each naming the argument path. */
export function rayClusterArgErrors(args: RayClusterArgs): PropertyError[] {
  const errors: PropertyError[] = [];
  const add = (path: (string | number)[], message: string) => errors.push({ propertyPath: propertyPath(path), reason: `\`${propertyPath(path)}\`: ${message}` });
  if (args.workerGroups.length === 0) add(["workerGroups"], "expected at least one worker group");
  for (const p of workerGroupProblems(args.workerGroups, args.pools)) add(p.path, p.message);
  const ft = args.gcsFaultTolerance;
  if (ft?.enabled) {
    if (!ft.redis) add(["gcsFaultTolerance", "redis"], "expected `{deploy: true, passwordSecret}` or `{address, passwordSecret}` when GCS fault tolerance is enabled");
    else if (ft.redis.deploy && ft.redis.address) add(["gcsFaultTolerance", "redis", "address"], "expected no address when `deploy` is true (the component deploys Redis)");
    else if (!ft.redis.deploy && !ft.redis.address) add(["gcsFaultTolerance", "redis", "address"], "expected the host:port of an existing Redis (or `deploy: true`)");
  }
  (args.jobs ?? []).forEach((job, i) => {
    for (const p of rayJobProblems(job)) add(["jobs", i, p.key], p.message);
  });
  return errors;
}

/** Helm values of the KubeRay operator: namespaced RBAC (Role per watched namespace, no ClusterRole for Ray objects). */
export function kuberayOperatorValues(watchNamespaces: string[]): Record<string, unknown> {
  return {
    rbacEnable: true,
    singleNamespaceInstall: true,
    crNamespacedRbacEnable: true,
    watchNamespace: [...watchNamespaces],
    // The chart's container securityContext is already `restricted`; this completes the pod side.
    podSecurityContext: restrictedPodSecurity(),
  };
}

/**
 * The head pod's network policy in the tenant namespace (which denies by default): the
 * operator may reach the dashboard (RayJob/RayService status), and the autoscaler sidecar
 * may reach the Kubernetes API (443 on EKS, 6443 on kind).
 */
export function headNetworkPolicySpec(clusterName: string, operatorNamespace: string) {
  return {
    podSelector: { matchLabels: { [KUBERAY_POD_LABELS.cluster]: clusterName, [KUBERAY_POD_LABELS.nodeType]: "head" } },
    policyTypes: ["Ingress", "Egress"],
    ingress: [{
      from: [{
        namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": operatorNamespace } },
        podSelector: { matchLabels: { "app.kubernetes.io/name": CHARTS.kuberayOperator.chart } },
      }],
      ports: [{ protocol: "TCP", port: 8265 }],
    }],
    egress: [{ ports: [{ protocol: "TCP", port: 443 }, { protocol: "TCP", port: 6443 }] }],
  };
}

/** The spec input with every default applied (pools already checked). */
export function rayClusterSpecInput(args: RayClusterArgs): RayClusterSpecInput {
  const clusterName = args.clusterName ?? RAY_DEFAULTS.name;
  const pools = new Map(args.pools.map((p) => [p.poolName, p]));
  const ft = args.gcsFaultTolerance;
  const redis = ft?.enabled ? ft.redis : undefined;
  return {
    name: clusterName,
    target: args.target,
    tenant: args.namespace,
    head: { cpu: args.head?.cpu ?? RAY_DEFAULTS.head.cpu, memory: args.head?.memory ?? RAY_DEFAULTS.head.memory },
    workerGroups: args.workerGroups.map((g) => resolveWorkerGroup(g, pools.get(g.pool)!)),
    autoscaler: {
      upscalingMode: args.autoscaler?.upscalingMode ?? RAY_DEFAULTS.autoscaler.upscalingMode,
      idleTimeoutSeconds: args.autoscaler?.idleTimeoutSeconds ?? RAY_DEFAULTS.autoscaler.idleTimeoutSeconds,
    },
    useGpkScheduler: args.useGpkScheduler ?? false,
    taskRetryDelayMs: args.taskRetryDelayMs ?? RAY_DEFAULTS.taskRetryDelayMs,
    ...(args.checkpointStorage ? { checkpointStorage: args.checkpointStorage } : {}),
    gcsFaultTolerance: redis && {
      redisAddress: redis.deploy ? redisAddress(clusterName, args.namespace) : redis.address!,
      passwordSecret: redis.passwordSecret,
      externalStorageNamespace: ft?.externalStorageNamespace,
    },
  };
}

export function rayClusterSummary(args: RayClusterArgs, input: RayClusterSpecInput): RayClusterSummary {
  const workerGroups = input.workerGroups.map((g) => ({
    groupName: g.groupName, pool: g.pool.poolName, gpusPerWorker: g.gpusPerWorker, minReplicas: g.minReplicas, maxReplicas: g.maxReplicas,
  }));
  return {
    clusterName: input.name,
    namespace: args.namespace,
    operatorNamespace: args.operatorNamespace ?? SYSTEM_NAMESPACE,
    watchNamespaces: [args.namespace],
    workerGroups,
    maxGpus: workerGroups.reduce((sum, g) => sum + g.gpusPerWorker * g.maxReplicas, 0),
    gcsFaultTolerance: input.gcsFaultTolerance !== undefined,
    ...(input.gcsFaultTolerance ? { redisAddress: input.gcsFaultTolerance.redisAddress } : {}),
    schedulerName: input.useGpkScheduler ? GPK_SCHEDULER_NAME : "default-scheduler",
  };
}

export class RayCluster extends pulumi.ComponentResource {
  public readonly summary: RayClusterSummary;
  public readonly cluster: k8s.apiextensions.CustomResource;
  public readonly operator?: k8s.helm.v3.Release;

  constructor(name: string, args: RayClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("gpk:index:RayCluster", name, {}, opts);
    const errors = rayClusterArgErrors(args);
    if (errors.length > 0) {
      throw new pulumi.InputPropertiesError({ message: `invalid RayCluster "${name}"`, errors });
    }
    const input = rayClusterSpecInput(args);
    this.summary = rayClusterSummary(args, input);
    const { namespace } = args;
    const labels = { [KIT_LABELS.tenant]: namespace, [KIT_LABELS.managedBy]: MANAGED_BY };
    const child = { parent: this };

    const operator = args.operator ?? "chart";
    const crds = operator === "crds-only"
      ? kuberayCrds(CHARTS.kuberayOperator.version).map((crd) => new k8s.apiextensions.v1.CustomResourceDefinition(`${name}-crd-${crd.metadata.name}`, crd as unknown as k8s.apiextensions.v1.CustomResourceDefinitionArgs, child))
      : [];
    if (operator === "chart") {
      const chart = CHARTS.kuberayOperator;
      this.operator = new k8s.helm.v3.Release(`${name}-operator`, {
        chart: chart.chart,
        version: chart.version,
        repositoryOpts: { repo: chart.repo },
        namespace: this.summary.operatorNamespace,
        values: kuberayOperatorValues(this.summary.watchNamespaces),
        atomic: true,
      }, child);
    }

    const workerServiceAccount = input.checkpointStorage?.workerServiceAccount;
    const serviceAccounts = workerServiceAccount
      ? [new k8s.core.v1.ServiceAccount(`${name}-worker`, { metadata: { name: workerServiceAccount, namespace, labels }, automountServiceAccountToken: false }, child)]
      : [];

    new k8s.networking.v1.NetworkPolicy(`${name}-head`, {
      metadata: { name: `${input.name}-head`, namespace, labels },
      spec: headNetworkPolicySpec(input.name, this.summary.operatorNamespace),
    }, child);

    const redis = args.gcsFaultTolerance?.enabled ? args.gcsFaultTolerance.redis : undefined;
    const redisObjects: pulumi.Resource[] = [];
    if (redis?.deploy) {
      const meta = { name: redisName(input.name), namespace, labels };
      redisObjects.push(
        new k8s.core.v1.Service(`${name}-redis`, { metadata: meta, spec: redisServiceSpec(input.name) }, child),
        new k8s.apps.v1.StatefulSet(`${name}-redis`, {
          metadata: meta,
          spec: redisStatefulSetSpec({ clusterName: input.name, namespace, tenant: namespace, passwordSecret: redis.passwordSecret, storage: redis.storage, storageClassName: redis.storageClassName }),
        }, child),
      );
    }

    this.cluster = new k8s.apiextensions.CustomResource(name, {
      apiVersion: "ray.io/v1",
      kind: "RayCluster",
      metadata: { name: input.name, namespace, labels },
      spec: rayClusterSpec(input),
    }, { ...child, dependsOn: [...(this.operator ? [this.operator] : []), ...crds, ...redisObjects, ...serviceAccounts] });

    for (const job of args.jobs ?? []) {
      new k8s.apiextensions.CustomResource(`${name}-job-${job.name}`, rayJobObject(input.name, namespace, job), { ...child, dependsOn: [this.cluster] });
    }

    for (const group of input.workerGroups) {
      new k8s.policy.v1.PodDisruptionBudget(`${name}-${group.groupName}`, {
        metadata: { name: `${input.name}-${group.groupName}`, namespace, labels },
        spec: workerDisruptionBudgetSpec(input.name, group.groupName),
      }, child);
    }

    this.registerOutputs({ ...this.summary });
  }
}
