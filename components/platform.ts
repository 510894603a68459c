/**
 * `gpk:index:Platform`: the whole GPU platform of one stack, composed from its parsed
 * config — cluster access, system namespaces, GPU pools, device plugin and tenants.
 */
import * as fs from "node:fs";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../stacks/config";
import { AdmissionGuards } from "./admission-guards";
import { EksCluster } from "./eks-cluster";
import { GpuNodeGroup } from "./gpu-node-group";
import { CheckpointStore, defaultCheckpointBucket } from "./checkpoint-store";
import { GrafanaDashboards } from "./dashboards";
import { CHARTS } from "./pins";
import { defaultPrometheusUrl, prometheusAdapterValues } from "./serving-metrics";
import { GpuTelemetry } from "./gpu-telemetry";
import { MigManager } from "./mig-manager";
import { GPU_RESOURCE, KIT_LABELS, MANAGED_BY, NODE_AGENT_NAMESPACE, SYSTEM_NAMESPACE } from "../gpu";
import { NvidiaDevicePlugin } from "./nvidia-device-plugin";
import { RayCluster } from "./ray-cluster";
import { RAY_DEFAULTS } from "./ray-spec";
import { defaultDenyIngressSpec, podsPeer } from "./network-policies";
import { SchedulerExtender, extenderPodLabels, telemetryExporterSelector } from "./scheduler-extender";
import type { PlatformSummary } from "./summaries";
import { Tenant } from "./tenant";
import { VllmServing } from "./vllm-serving";

export interface PlatformArgs {
  /** Stack name, recorded in the summary. */
  stack: string;
  /** The validated stack config (stacks/config.ts); every default is already applied. */
  config: StackConfig;
}

/**
 * The kind target's provider: kind's kubeconfig context `kind-<name>`, or the kubeconfig file
 * the stack names (the binaries runtime's local control plane). The file's contents are the
 * provider input, so the same cluster reached from another path is no change.
 */
export function kindProviderArgs(cluster: { name: string; kubeconfig?: string }): k8s.ProviderArgs {
  if (!cluster.kubeconfig) return { context: `kind-${cluster.name}`, enableServerSideApply: true };
  let kubeconfig: string;
  try {
    kubeconfig = fs.readFileSync(cluster.kubeconfig, "utf8");
  } catch (err) {
    throw new pulumi.RunError(`gpk:cluster.kubeconfig: cannot read ${cluster.kubeconfig}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return { kubeconfig, enableServerSideApply: true };
}

/** Labels of the kit's two system namespaces: services run `restricted`, node agents need `privileged`. */
export function systemNamespaceLabels(level: "restricted" | "privileged"): Record<string, string> {
  return {
    [KIT_LABELS.managedBy]: MANAGED_BY,
    "pod-security.kubernetes.io/enforce": level,
    "pod-security.kubernetes.io/enforce-version": "latest",
    "pod-security.kubernetes.io/warn": level,
  };
}

export class Platform extends pulumi.ComponentResource {
  public readonly summary: PlatformSummary;
  public readonly provider: k8s.Provider;
  public readonly pools: GpuNodeGroup[];
  public readonly tenants: Tenant[];
  public readonly devicePlugin: NvidiaDevicePlugin;
  public readonly telemetry?: GpuTelemetry;
  public readonly serving: VllmServing[];
  public readonly ray?: RayCluster;
  public readonly schedulerExtender?: SchedulerExtender;
  /** Whether the platform's own GPU workloads (serving, Ray) go through `gpk-scheduler`. */
  public readonly usesGpkScheduler: boolean;

  constructor(name: string, args: PlatformArgs, opts?: pulumi.ComponentResourceOptions) {
    super("gpk:index:Platform", name, {}, opts);
    const { config } = args;
    let cluster: EksCluster | undefined;
    if (config.target === "eks") {
      cluster = new EksCluster(`${name}-cluster`, config.cluster, { parent: this });
      this.provider = new k8s.Provider(`${name}-k8s`, { kubeconfig: cluster.kubeconfig, enableServerSideApply: true }, { parent: this });
    } else {
      this.provider = new k8s.Provider(`${name}-k8s`, kindProviderArgs(config.cluster), { parent: this });
    }
    // Components take `providers`, custom resources `provider`; both inherit down the parent chain.
    const inCluster = { parent: this, providers: [this.provider] };
    const inClusterResource = { parent: this, provider: this.provider };

    const systemNamespaces = ([["system", SYSTEM_NAMESPACE, "restricted"], ["node-agents", NODE_AGENT_NAMESPACE, "privileged"]] as const).map(([suffix, namespace, level]) => {
      const ns = new k8s.core.v1.Namespace(`${name}-${suffix}`, { metadata: { name: namespace, labels: systemNamespaceLabels(level) } }, inClusterResource);
      // Nothing reaches the kit's own pods unless a component allows its callers (network-policies.ts).
      new k8s.networking.v1.NetworkPolicy(`${name}-${suffix}-default-deny-ingress`, {
        metadata: { name: "default-deny-ingress", namespace: ns.metadata.name, labels: { [KIT_LABELS.managedBy]: MANAGED_BY } },
        spec: defaultDenyIngressSpec(),
      }, inClusterResource);
      return ns;
    });

    this.pools = config.nodePools.map((pool) => new GpuNodeGroup(`${name}-${pool.name}`, {
      target: config.target,
      pool,
      clusterName: cluster?.clusterName,
      subnetIds: cluster?.subnetIds,
    }, { parent: this }));
    const pools = this.pools.map((p) => p.summary);
    // MIG `mixed` resources the pools advertise: every tenant quota caps each, the scheduler manages each.
    const migResources = [...new Set(pools.flatMap((p) => Object.keys(p.nodeResources)).filter((r) => r !== GPU_RESOURCE))].sort();

    this.devicePlugin = new NvidiaDevicePlugin(`${name}-device-plugin`, {
      target: config.target,
      pools,
      ...config.devicePlugin,
      runtimeImage: config.runtime.image,
      honourExtenderAssignments: config.schedulerExtender.enabled,
    }, { ...inCluster, dependsOn: [...systemNamespaces, ...this.pools] });

    // NVIDIA's MIG manager partitions the real GPUs of MIG pools; simulated GPUs come partitioned.
    if (config.target === "eks" && pools.some((p) => p.mig)) {
      new MigManager(`${name}-mig-manager`, { pools }, { ...inCluster, dependsOn: [...systemNamespaces, ...this.pools] });
    }

    if (config.telemetry.enabled) {
      this.telemetry = new GpuTelemetry(`${name}-telemetry`, {
        target: config.target,
        pools,
        alertRules: config.telemetry.alertRules,
        alertFor: config.telemetry.alertFor,
        maxGpuTempC: config.policy.maxGpuTempC,
        runtimeImage: config.runtime.image,
        monitoringNamespace: config.telemetry.monitoringNamespace,
        // The thermal-aware extender reads the exporters directly.
        otherScrapers: config.schedulerExtender.enabled && config.schedulerExtender.thermalAware ? [podsPeer(SYSTEM_NAMESPACE, extenderPodLabels())] : [],
      }, { ...inCluster, dependsOn: [...systemNamespaces, ...this.pools] });
      if (config.telemetry.dashboards.enabled) {
        const { enabled: _on, ...dashboards } = config.telemetry.dashboards;
        new GrafanaDashboards(`${name}-dashboards`, dashboards, { ...inCluster, dependsOn: systemNamespaces });
      }
    }

    this.tenants = config.tenants.map((tenant) => new Tenant(`${name}-tenant-${tenant.name}`, {
      ...tenant,
      dedicatedPools: config.nodePools.filter((p) => p.dedicatedTenant === tenant.name).map((p) => p.name),
      migResources,
    }, inCluster));

    // Checkpoint stores; the Ray cluster of a tenant with one writes there. KubeRay names the
    // head's service account after the cluster (ray-operator/controllers/ray/utils/util.go,
    // GetHeadGroupServiceAccountName); the kit creates the workers'.
    const rayClusterName = config.ray?.enabled ? config.ray.name ?? RAY_DEFAULTS.name : undefined;
    const rayWorkerServiceAccount = rayClusterName && config.target === "eks" ? `${rayClusterName}-worker` : undefined;
    const checkpointStores = new Map(config.tenants.filter((t) => t.checkpoints).map((tenant) => {
      const store = tenant.checkpoints!;
      const runsRay = config.ray?.enabled === true && config.ray.tenant === tenant.name;
      return [tenant.name, new CheckpointStore(`${name}-checkpoints-${tenant.name}`, {
        target: config.target,
        tenant: tenant.name,
        bucket: store.bucket ?? defaultCheckpointBucket(config.cluster.name, tenant.name),
        prefix: store.prefix,
        endpoint: store.endpoint,
        noncurrentVersionDays: store.noncurrentVersionDays ?? config.policy.checkpointRetentionDays,
        objectLockDays: store.objectLockDays,
        kmsKeyArn: store.kmsKeyArn,
        clusterName: cluster?.clusterName,
        serviceAccounts: runsRay && rayWorkerServiceAccount ? [rayClusterName!, rayWorkerServiceAccount] : [],
      }, { parent: this })] as const;
    }));

    // The tenancy rules the API server holds for every pod, whoever creates it.
    new AdmissionGuards(`${name}-admission`, {
      tenants: this.tenants.map((t) => ({ namespace: t.summary.namespace, allowedPools: t.summary.allowedPools, isolation: t.summary.isolation })),
      systemNamespaces: config.policy.systemNamespaces,
      ...config.admission,
    }, { ...inCluster, dependsOn: this.tenants });

    if (config.schedulerExtender.enabled) {
      const { enabled: _enabled, ...extender } = config.schedulerExtender;
      this.schedulerExtender = new SchedulerExtender(`${name}-scheduler-extender`, {
        ...extender,
        target: config.target,
        telemetryPods: config.telemetry.enabled ? [telemetryExporterSelector(config.target)] : [],
        runtimeImage: config.runtime.image,
        monitoringNamespace: config.telemetry.monitoringNamespace,
        migResources,
      }, { ...inCluster, dependsOn: systemNamespaces });
    }

    this.usesGpkScheduler = Boolean((config as { schedulerExtender?: { enabled?: boolean } }).schedulerExtender?.enabled);
    const tenantByName = new Map(this.tenants.map((t) => [t.summary.tenantName, t]));
    const servingMetrics = config.telemetry.servingMetrics;
    const prometheusUrl = servingMetrics.prometheusUrl ?? defaultPrometheusUrl(config.telemetry.monitoringNamespace);
    this.serving = config.serving.map((serving, index) => {
      const tenant = tenantByName.get(serving.tenant)!;
      return new VllmServing(`${name}-serving-${serving.tenant}-${serving.name}`, {
        target: config.target,
        serving,
        pool: pools.find((p) => p.poolName === serving.pool)!,
        instanceType: config.nodePools.find((p) => p.name === serving.pool)?.instanceType,
        keyPath: `gpk:serving[${index}]`,
        namespace: tenant.summary.namespace,
        useGpkScheduler: this.usesGpkScheduler,
        runtimeImage: config.runtime.image,
        metricsSource: servingMetrics.source,
        prometheusUrl,
      }, { ...inCluster, dependsOn: [tenant] });
    });
    // The custom metrics API the serving HPAs read; with KEDA or an adapter of your own, nothing.
    if (config.serving.length > 0 && servingMetrics.source === "prometheus-adapter") {
      const chart = CHARTS.prometheusAdapter;
      new k8s.helm.v3.Release(`${name}-prometheus-adapter`, {
        chart: chart.chart,
        version: chart.version,
        repositoryOpts: { repo: chart.repo },
        namespace: SYSTEM_NAMESPACE,
        values: prometheusAdapterValues(prometheusUrl),
        atomic: true,
      }, { ...inClusterResource, dependsOn: systemNamespaces });
    }

    if (config.ray?.enabled) {
      const { enabled: _enabled, tenant, name: clusterName, ...ray } = config.ray;
      const owner = tenantByName.get(tenant)!;
      const store = checkpointStores.get(tenant);
      this.ray = new RayCluster(`${name}-ray`, {
        ...ray,
        target: config.target,
        pools,
        namespace: owner.summary.namespace,
        clusterName,
        useGpkScheduler: this.usesGpkScheduler,
        ...(store ? { checkpointStorage: { uri: store.summary.storageUri, ...(rayWorkerServiceAccount ? { workerServiceAccount: rayWorkerServiceAccount } : {}) } } : {}),
      }, { ...inCluster, dependsOn: [...systemNamespaces, owner] });
    }

    this.summary = {
      stack: args.stack,
      target: config.target,
      pools,
      tenants: this.tenants.map((t) => t.summary),
      totalGpuCapacity: pools.reduce((sum, p) => sum + p.gpuCapacity, 0),
    };
    this.registerOutputs({ ...this.summary });
  }
}
