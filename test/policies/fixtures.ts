/**
 * A happy-path stack that passes every policy of the three packs: two GPU pools (one
 * dedicated), two tenants with their namespaces and guard rails, the node agents, alert
 * rules, the scheduler extender, a vLLM serving Deployment with its HPA, and a RayCluster.
 * It stands in for components that arrive later (serving, Ray, extender, telemetry), built
 * the way those components are specified to render. `happyStack()` returns a fresh copy,
 * so a test can change one field and look for exactly that violation.
 */
import {
  ADMISSION_GUARDS, strictPoolsGuardName,
  GPK_SCHEDULER_NAME, GPU_QUOTA_KEY, GPU_RESOURCE, GPU_TAINT, KIT_LABELS, NODE_AGENT_NAMESPACE, SYSTEM_NAMESPACE,
  dedicatedPoolTaint, tolerationFor,
} from "../../gpu";
import { rayJobObject } from "../../components/ray-job";
import { prometheusAdapterValues } from "../../components/serving-metrics";
import type { GpuPoolSummary, ServingCapacitySummary, ServingSummary, TenantSummary } from "../../components/summaries";
import {
  PUBLIC_ACCESS_BLOCK, checkpointBucketPolicy, checkpointEncryptionRule, checkpointLifecycleRules, checkpointRolePolicy, checkpointStoreSummary,
} from "../../components/checkpoint-store";

export interface FixtureResource {
  urn: string;
  type: string;
  name: string;
  parent?: string;
  // Policies read untyped JSON; tests poke into it freely.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  props: Record<string, any>;
  custom: boolean;
}

const PLATFORM_URN = "urn:pulumi:test::gpu-platform-kit::gpk:index:Platform::platform";

export function urnOf(type: string, name: string): string {
  return type.startsWith("gpk:index:Platform") ? PLATFORM_URN : `urn:pulumi:test::gpu-platform-kit::gpk:index:Platform$${type}::${name}`;
}

function res(type: string, name: string, props: object): FixtureResource {
  return { urn: urnOf(type, name), type, name, parent: PLATFORM_URN, props: props as FixtureResource["props"], custom: !type.startsWith("gpk:") };
}

function pool(name: string, gpusPerNode: number, maxNodes: number, dedicatedTenant?: string): GpuPoolSummary {
  return {
    poolName: name, target: "eks", product: "h100", gfdProduct: "NVIDIA-H100-80GB-HBM3", gpusPerNode, timeSlicingReplicas: 1,
    migStrategy: "none", minNodes: 1, desiredNodes: Math.max(1, maxNodes - 2), maxNodes, gpuCapacity: gpusPerNode * maxNodes,
    nodeResources: { [GPU_RESOURCE]: gpusPerNode }, migCapacity: {},
    ...(dedicatedTenant ? { dedicatedTenant } : {}),
    nodeLabels: { [KIT_LABELS.pool]: name },
    nodeTaints: [GPU_TAINT, ...(dedicatedTenant ? [dedicatedPoolTaint(dedicatedTenant)] : [])],
  };
}

function tenant(name: string, gpuQuota: number, allowedPools: string[], isolation: TenantSummary["isolation"] = "shared"): TenantSummary {
  return { tenantName: name, namespace: name, gpuQuota, migQuota: {}, allowedPools, group: `gpk:${name}`, isolation };
}

/** The kit's admission policies and bindings (components/admission-guards.ts), by name only: the pack checks their presence. */
function admissionGuards(strictNamespaces: string[]): FixtureResource[] {
  const names = [...Object.values(ADMISSION_GUARDS), ...strictNamespaces.map(strictPoolsGuardName)];
  return names.flatMap((name) => [
    res("kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy", name, { metadata: { name }, spec: { failurePolicy: "Fail" } }),
    res("kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding", name, { metadata: { name }, spec: { policyName: name, validationActions: ["Deny"] } }),
  ]);
}

function tenantGuardRails(ns: string): FixtureResource[] {
  return [
    res("kubernetes:core/v1:Namespace", ns, {
      metadata: { name: ns, labels: { "pod-security.kubernetes.io/enforce": "restricted", [KIT_LABELS.tenant]: ns } },
    }),
    res("kubernetes:core/v1:ResourceQuota", `${ns}-quota`, {
      metadata: { name: "gpu-quota", namespace: ns }, spec: { hard: { [GPU_QUOTA_KEY]: "8", "requests.cpu": "96" } },
    }),
    res("kubernetes:networking.k8s.io/v1:NetworkPolicy", `${ns}-default-deny`, {
      metadata: { name: "default-deny", namespace: ns }, spec: { podSelector: {}, policyTypes: ["Ingress", "Egress"] },
    }),
    res("kubernetes:networking.k8s.io/v1:NetworkPolicy", `${ns}-same-namespace`, {
      metadata: { name: "allow-same-namespace", namespace: ns },
      spec: { podSelector: {}, policyTypes: ["Ingress"], ingress: [{ from: [{ podSelector: {} }] }] },
    }),
    res("kubernetes:rbac.authorization.k8s.io/v1:Role", `${ns}-developer`, {
      metadata: { name: "developer", namespace: ns },
      rules: [{ apiGroups: ["", "apps"], resources: ["pods", "deployments", "services"], verbs: ["get", "list", "watch", "create", "update", "delete"] }],
    }),
    res("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", `${ns}-developer`, {
      metadata: { name: "developer", namespace: ns },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "developer" },
      subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: `gpk:${ns}` }],
    }),
    res("kubernetes:core/v1:ServiceAccount", `${ns}-default-sa`, {
      metadata: { name: "default", namespace: ns }, automountServiceAccountToken: false,
    }),
  ];
}

const gpuTolerations = [tolerationFor(GPU_TAINT)];

export function servingDeployment(): FixtureResource {
  return res("kubernetes:apps/v1:Deployment", "search-llm", {
    metadata: { name: "search-llm", namespace: "search", labels: { "app.kubernetes.io/component": "serving" } },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: "search-llm" } },
      template: {
        metadata: { labels: { app: "search-llm", "app.kubernetes.io/component": "serving" } },
        spec: {
          schedulerName: GPK_SCHEDULER_NAME,
          automountServiceAccountToken: false,
          nodeSelector: { [KIT_LABELS.pool]: "serving" },
          tolerations: gpuTolerations,
          containers: [{
            name: "vllm",
            image: "docker.io/vllm/vllm-openai:v0.8.5",
            args: ["--model", "meta-llama/Llama-3.1-8B-Instruct", "--gpu-memory-utilization=0.9", "--max-num-seqs", "256", "--max-waiting", "512"],
            resources: { requests: { cpu: "4", [GPU_RESOURCE]: "1" }, limits: { [GPU_RESOURCE]: "1" } },
            securityContext: { allowPrivilegeEscalation: false, runAsNonRoot: true, capabilities: { drop: ["ALL"] } },
          }],
        },
      },
    },
  });
}

export function rayCluster(): FixtureResource {
  const rayPod = (gpus: number) => ({
    schedulerName: GPK_SCHEDULER_NAME,
    automountServiceAccountToken: false,
    nodeSelector: { [KIT_LABELS.pool]: "training" },
    tolerations: gpus > 0 ? [...gpuTolerations, tolerationFor(dedicatedPoolTaint("research"))] : [],
    containers: [{
      name: gpus > 0 ? "ray-worker" : "ray-head",
      image: "rayproject/ray:2.40.0-py310-gpu",
      resources: gpus > 0 ? { requests: { [GPU_RESOURCE]: gpus }, limits: { [GPU_RESOURCE]: gpus } } : { requests: { cpu: "2" } },
    }],
  });
  const head = rayPod(0);
  delete (head as Record<string, unknown>).nodeSelector;
  return res("kubernetes:ray.io/v1:RayCluster", "research-ray", {
    apiVersion: "ray.io/v1", kind: "RayCluster",
    metadata: { name: "research-ray", namespace: "research" },
    spec: {
      headGroupSpec: { rayStartParams: { "num-gpus": "0" }, template: { spec: head } },
      workerGroupSpecs: [{ groupName: "h100", replicas: 1, minReplicas: 1, maxReplicas: 4, rayStartParams: { "num-gpus": "8" }, template: { spec: rayPod(8) } }],
    },
  });
}

/** A RayJob on the research cluster, as RayCluster renders it (its pure builder). */
export function rayJob(): FixtureResource {
  return res("kubernetes:ray.io/v1:RayJob", "research-smoke", rayJobObject("research-ray", "research", { name: "research-smoke", entrypoint: "python smoke.py" }));
}

/** The research tenant's checkpoint store as CheckpointStore renders it on eks (its pure builders), children under the component. */
export const CHECKPOINT_BUCKET = "gpk-gpk-prod-research-checkpoints";
export const CHECKPOINT_ROLE_ARN = "arn:aws:iam::123456789012:role/gpk-checkpoints-research-role";
export function checkpointStore(): FixtureResource[] {
  const summary = checkpointStoreSummary({ target: "eks", tenant: "research", bucket: CHECKPOINT_BUCKET, noncurrentVersionDays: 30 });
  const store = res("gpk:index:CheckpointStore", "gpk-checkpoints-research", summary);
  const child = (type: string, name: string, props: object): FixtureResource => ({
    urn: `urn:pulumi:test::gpu-platform-kit::gpk:index:Platform$gpk:index:CheckpointStore$${type}::${name}`, type, name, parent: store.urn, props: props as FixtureResource["props"], custom: true,
  });
  const bucket = CHECKPOINT_BUCKET;
  return [
    store,
    child("aws:s3/bucket:Bucket", "gpk-checkpoints-research", { bucket, objectLockEnabled: false }),
    child("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "gpk-checkpoints-research-public-access", { bucket, ...PUBLIC_ACCESS_BLOCK }),
    child("aws:s3/bucketVersioning:BucketVersioning", "gpk-checkpoints-research-versioning", { bucket, versioningConfiguration: { status: "Enabled" } }),
    child("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "gpk-checkpoints-research-encryption", { bucket, rules: [checkpointEncryptionRule()] }),
    child("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "gpk-checkpoints-research-lifecycle", { bucket, rules: checkpointLifecycleRules(30) }),
    child("aws:s3/bucketPolicy:BucketPolicy", "gpk-checkpoints-research-policy", { bucket, policy: JSON.stringify(checkpointBucketPolicy(bucket, CHECKPOINT_ROLE_ARN)) }),
    child("aws:iam/rolePolicy:RolePolicy", "gpk-checkpoints-research-role", { role: "gpk-checkpoints-research-role", policy: JSON.stringify(checkpointRolePolicy(bucket)) }),
  ];
}

/**
 * A VllmServing summary with traffic and an SLO that one to two replicas of its configuration
 * carry (a 0.5B model on simulated H100s: priced per GPU, alternatives on the same product).
 */
export function servingEndpoint(): FixtureResource {
  const capacity: ServingCapacitySummary = {
    keyPath: "gpk:serving[0]", model: "qwen2.5-0.5b", gpu: "h100", tensorParallelSize: 1, maxNumSeqs: 256, maxNumBatchedTokens: null, maxModelLen: null,
    gpuMemoryUtilization: 0.9, blockSize: 16, kvCacheDtype: "auto", enablePrefixCaching: true, instanceType: null, gpusPerNode: 4, minReplicas: 1, maxReplicas: 2,
    traffic: { peakRequestsPerSecond: 25, workload: "chat" }, slo: { ttftP99Ms: 500, tpotP99Ms: 25 },
  };
  const summary: ServingSummary = {
    name: "search-llm", namespace: "search", pool: "serving", model: "qwen2.5-0.5b", gpusPerReplica: 1, minReplicas: 1, maxReplicas: 2, maxWaiting: 512,
    metricsSource: "prometheus-adapter", gpuMemoryUtilization: 0.9, url: "http://search-llm.search.svc:8000/v1", capacity,
  };
  return res("gpk:index:VllmServing", "search-llm-endpoint", summary);
}

export function happyStack(): FixtureResource[] {
  const pools = [pool("serving", 4, 6), pool("training", 8, 4, "research")];
  const tenants = [tenant("search", 8, ["serving"]), tenant("research", 24, ["training"], "strict")];
  return [
    res("gpk:index:Platform", "platform", { stack: "test", target: "eks", pools, tenants, totalGpuCapacity: 56 }),
    ...pools.map((p) => res("gpk:index:GpuNodeGroup", `gpk-${p.poolName}`, p)),
    res("aws:eks/nodeGroup:NodeGroup", "gpk-serving-nodes", {
      clusterName: "gpk-prod", instanceTypes: ["p5.48xlarge"], amiType: "AL2023_x86_64_NVIDIA",
      scalingConfig: { minSize: 1, desiredSize: 4, maxSize: 6 },
      labels: { [KIT_LABELS.pool]: "serving" }, taints: [{ key: GPU_TAINT.key, value: GPU_TAINT.value, effect: "NO_SCHEDULE" }],
    }),
    ...tenants.map((t) => res("gpk:index:Tenant", `tenant-${t.tenantName}`, t)),
    ...tenants.flatMap((t) => tenantGuardRails(t.namespace)),
    ...admissionGuards(["research"]),
    res("gpk:index:NvidiaDevicePlugin", "device-plugin", { target: "eks", namespace: NODE_AGENT_NAMESPACE, pools: ["serving", "training"] }),
    res("gpk:index:GpuTelemetry", "telemetry", { target: "eks", namespace: NODE_AGENT_NAMESPACE, pools: ["serving", "training"] }),
    res("gpk:index:SchedulerExtender", "extender", { schedulerName: GPK_SCHEDULER_NAME, namespace: SYSTEM_NAMESPACE, thermalAware: true }),
    res("kubernetes:core/v1:Namespace", NODE_AGENT_NAMESPACE, { metadata: { name: NODE_AGENT_NAMESPACE, labels: { "pod-security.kubernetes.io/enforce": "privileged" } } }),
    res("kubernetes:networking.k8s.io/v1:NetworkPolicy", `${NODE_AGENT_NAMESPACE}-default-deny-ingress`, {
      metadata: { name: "default-deny-ingress", namespace: NODE_AGENT_NAMESPACE }, spec: { podSelector: {}, policyTypes: ["Ingress"] },
    }),
    res("kubernetes:apps/v1:DaemonSet", "telemetry-exporter", {
      metadata: { name: "gpk-telemetry", namespace: NODE_AGENT_NAMESPACE },
      spec: { template: { spec: {
        tolerations: gpuTolerations, hostPID: true,
        volumes: [{ name: "device-plugins", hostPath: { path: "/var/lib/kubelet/device-plugins" } }],
        containers: [{ name: "exporter", image: "nvcr.io/nvidia/k8s/dcgm-exporter:4.1.1-4.0.4-ubuntu22.04", securityContext: { privileged: true, capabilities: { add: ["SYS_ADMIN"] } } }],
      } } },
    }),
    res("kubernetes:helm.sh/v3:Release", "nvidia-device-plugin", { chart: "nvidia-device-plugin", version: "0.17.1", namespace: NODE_AGENT_NAMESPACE, values: {} }),
    res("kubernetes:monitoring.coreos.com/v1:PrometheusRule", "gpu-alerts", {
      metadata: { name: "gpu-alerts", namespace: NODE_AGENT_NAMESPACE },
      spec: { groups: [{ name: "gpu", rules: [
        { alert: "GpuTooHot", expr: "max by (Hostname, gpu) (DCGM_FI_DEV_GPU_TEMP) >= 85", for: "2m" },
        { alert: "GpuPowerCapped", expr: "DCGM_FI_DEV_CLOCKS_EVENT_REASONS & 4 > 0", for: "10m" },
        { alert: "GpuXidError", expr: "increase(DCGM_FI_DEV_XID_ERRORS[5m]) > 0" },
      ] }] },
    }),
    servingDeployment(),
    servingEndpoint(),
    res("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "search-llm", {
      metadata: { name: "search-llm", namespace: "search" },
      spec: {
        scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "search-llm" }, minReplicas: 1, maxReplicas: 4,
        metrics: [{ type: "Pods", pods: { metric: { name: "vllm:num_requests_waiting" }, target: { type: "AverageValue", averageValue: "8" } } }],
      },
    }),
    // What serves that HPA's metric (Platform renders it for gpk:telemetry.servingMetrics.source prometheus-adapter).
    res("kubernetes:helm.sh/v3:Release", "gpk-prometheus-adapter", {
      chart: "prometheus-adapter", version: "5.3.0", namespace: "gpk-system", values: prometheusAdapterValues("http://prometheus-operated.monitoring.svc:9090"),
    }),
    res("kubernetes:core/v1:Service", "search-llm", {
      metadata: { name: "search-llm", namespace: "search" }, spec: { selector: { app: "search-llm" }, ports: [{ port: 8000 }] },
    }),
    res("kubernetes:apps/v1:Deployment", "search-frontend", {
      metadata: { name: "search-frontend", namespace: "search" },
      spec: { template: { spec: { containers: [{ name: "web", image: "nginx:1.27" }] } } },
    }),
    rayCluster(),
    rayJob(),
    ...checkpointStore(),
  ];
}

export function byName(resources: FixtureResource[], name: string, type?: string): FixtureResource {
  const found = resources.find((r) => r.name === name && (type === undefined || r.type === type));
  if (!found) throw new Error(`fixture has no resource ${name}`);
  return found;
}
