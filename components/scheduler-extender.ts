/**
 * `gpk:index:SchedulerExtender`: the GPU-aware scheduler extender (runtime/scheduler-extender,
 * shipped as a runtime bundle) and a second kube-scheduler, `gpk-scheduler`, whose profile calls
 * it for every pod that requests `nvidia.com/gpu`. Workloads opt in with
 * `schedulerName: gpk-scheduler`; the default scheduler is left alone.
 *
 * Extender: Deployment (2 replicas, readiness on /healthz = cache synced), PDB, Service with
 * ClientIP affinity (the leading scheduler keeps talking to one replica, whose assumed binds it
 * sees at once), least-privilege RBAC: get/list/watch nodes and pods, create pods/binding. The
 * GPU choice travels in the Binding's annotations, which the API server writes onto the pod
 * together with the node name, so no pod patch permission is needed.
 *
 * Scheduler: the pinned upstream kube-scheduler with a KubeSchedulerConfiguration (v1) in a
 * ConfigMap — profile `gpk-scheduler`, the extender with filter/prioritize/bind verbs,
 * nodeCacheCapable, managedResources nvidia.com/gpu, ignorable false — leader election on its
 * own lease, and the RBAC of "Configure Multiple Schedulers" (kubernetes.io): the upstream
 * ClusterRoles system:kube-scheduler and system:volume-scheduler, the
 * extension-apiserver-authentication-reader Role in kube-system, plus a Role for its lease.
 */
import { createHash } from "node:crypto";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { stringify } from "yaml";
import type { PolicyName } from "../runtime/scheduling/registry";
import { GPK_SCHEDULER_NAME, GPU_RESOURCE, KIT_ANNOTATIONS, KIT_LABELS, MANAGED_BY, SYSTEM_NAMESPACE } from "../gpu";
import { TELEMETRY_PORT } from "./gpu-telemetry";
import { IMAGES, imageRef } from "./pins";
import { restrictedPodSecurity } from "./pod-security";
import { NODE_IMAGE_USER, RuntimeBundleConfigMap, runtimeContainerSecurity } from "./runtime-bundle";
import type { SchedulerExtenderSummary, Target } from "./summaries";

export const EXTENDER_NAME = "gpk-scheduler-extender";
export const EXTENDER_PORT = 8888;
/** kube-scheduler's secure port (healthz, metrics). */
export const SCHEDULER_SECURE_PORT = 10259;
const CONFIG_DIR = "/etc/gpk-scheduler";

export const SCHEDULER_EXTENDER_DEFAULTS = {
  namespace: SYSTEM_NAMESPACE,
  policy: "gpk" as PolicyName,
  replicas: 2,
  weight: 100,
  thermalAware: true,
  percentageOfNodesToScore: 100,
  httpTimeout: "5s",
} as const;

export interface SchedulerExtenderArgs {
  /** Where the stack runs; both targets run the same extender bundle and kube-scheduler image. Required. */
  target: Target;
  /** Namespace of the extender and the scheduler. Default `gpk-system`. */
  namespace?: string;
  /** Placement policy (runtime/scheduling registry). Default `gpk`. */
  policy?: PolicyName;
  /** Replicas of the extender and of the scheduler. Default 2. */
  replicas?: number;
  /** Extender weight in the scheduler's score sum. Default 100. */
  weight?: number;
  /** Scrape GPU telemetry and steer away from hot / power-capped GPUs. Default true. */
  thermalAware?: boolean;
  /** Hot threshold, °C. Default: the gpk policy's. */
  hotTemperatureC?: number;
  /** kube-scheduler percentageOfNodesToScore. Default 100 (every node, as the simulator). */
  percentageOfNodesToScore?: number;
  /** Timeout of each extender call. Default "5s". */
  httpTimeout?: string;
  /** Labels (key=value) of the GPU telemetry exporter pods to scrape; none: no telemetry. */
  telemetryPods?: string[];
  /** Image holding the runtime bundles. Default: the bundle in a ConfigMap. */
  runtimeImage?: string;
}

/** Pod label of the telemetry exporters: dcgm-exporter's chart on eks, the kit's exporter on kind (gpu-telemetry.ts). */
export function telemetryExporterSelector(target: Target): string {
  return target === "eks" ? "app.kubernetes.io/name=dcgm-exporter" : "app.kubernetes.io/name=gpk-gpu-telemetry";
}

/** The extender's RBAC: read nodes and pods, create bindings. Nothing else. */
export function extenderClusterRoleRules() {
  return [
    { apiGroups: [""], resources: ["nodes"], verbs: ["get", "list", "watch"] },
    { apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"] },
    { apiGroups: [""], resources: ["pods/binding"], verbs: ["create"] },
  ];
}

/** The gpk-scheduler's own lease (system:kube-scheduler only covers the `kube-scheduler` lease). */
export function schedulerLeaseRules() {
  return [
    { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create"] },
    { apiGroups: ["coordination.k8s.io"], resources: ["leases"], resourceNames: [GPK_SCHEDULER_NAME], verbs: ["get", "update"] },
  ];
}

/** Container args of the in-cluster extender (flags: runtime/scheduler-extender/options.ts). */
export function extenderContainerArgs(a: { policy: PolicyName; thermalAware: boolean; telemetryPods: string[]; hotTemperatureC?: number }): string[] {
  const args = ["--in-cluster", "--policy", a.policy, "--port", String(EXTENDER_PORT)];
  if (a.thermalAware) {
    for (const sel of a.telemetryPods) args.push("--telemetry-pods", sel, "--telemetry-port", String(TELEMETRY_PORT));
  }
  if (a.hotTemperatureC !== undefined) args.push("--hot-temperature", String(a.hotTemperatureC));
  return args;
}

/**
 * The second scheduler's KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1). The score
 * plugins that pull against packing (LeastAllocated fit, balanced allocation, image locality)
 * are off, so the extender's pick decides; user intent (taints, affinity, spread) still scores.
 */
export function kubeSchedulerConfiguration(a: { namespace: string; weight: number; percentageOfNodesToScore: number; httpTimeout: string }) {
  return {
    apiVersion: "kubescheduler.config.k8s.io/v1",
    kind: "KubeSchedulerConfiguration",
    leaderElection: { leaderElect: true, resourceLock: "leases", resourceName: GPK_SCHEDULER_NAME, resourceNamespace: a.namespace },
    percentageOfNodesToScore: a.percentageOfNodesToScore,
    profiles: [{
      schedulerName: GPK_SCHEDULER_NAME,
      plugins: { score: { disabled: [{ name: "NodeResourcesFit" }, { name: "NodeResourcesBalancedAllocation" }, { name: "ImageLocality" }] } },
    }],
    extenders: [{
      urlPrefix: `http://${EXTENDER_NAME}.${a.namespace}.svc:${EXTENDER_PORT}`,
      filterVerb: "filter",
      prioritizeVerb: "prioritize",
      bindVerb: "bind",
      weight: a.weight,
      enableHTTPS: false,
      nodeCacheCapable: true,
      managedResources: [{ name: GPU_RESOURCE, ignoredByScheduler: false }],
      httpTimeout: a.httpTimeout,
      ignorable: false,
    }],
  };
}

/** thermalAware in the summary: only the gpk policy uses telemetry, and only when there is some. */
export function schedulerExtenderSummary(namespace: string, policy: PolicyName, thermalAware: boolean, telemetryPods: string[]): SchedulerExtenderSummary {
  return { schedulerName: GPK_SCHEDULER_NAME, namespace, thermalAware: policy === "gpk" && thermalAware && telemetryPods.length > 0 };
}

function labelsOf(app: string) {
  return { "app.kubernetes.io/name": app, [KIT_LABELS.managedBy]: MANAGED_BY };
}

function spreadAcrossNodes(labels: Record<string, string>) {
  return {
    podAntiAffinity: {
      preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: { labelSelector: { matchLabels: labels }, topologyKey: "kubernetes.io/hostname" } }],
    },
  };
}

export class SchedulerExtender extends pulumi.ComponentResource {
  public readonly summary: SchedulerExtenderSummary;

  constructor(name: string, args: SchedulerExtenderArgs, opts?: pulumi.ComponentResourceOptions) {
    super("gpk:index:SchedulerExtender", name, {}, opts);
    const d = SCHEDULER_EXTENDER_DEFAULTS;
    const namespace = args.namespace ?? d.namespace;
    const policy = args.policy ?? d.policy;
    const replicas = args.replicas ?? d.replicas;
    const thermalAware = args.thermalAware ?? d.thermalAware;
    const telemetryPods = args.telemetryPods ?? [];
    this.createExtender(name, { namespace, policy, replicas, thermalAware, telemetryPods, hotTemperatureC: args.hotTemperatureC, runtimeImage: args.runtimeImage });
    this.createScheduler(`${name}-scheduler`, namespace, replicas, kubeSchedulerConfiguration({
      namespace,
      weight: args.weight ?? d.weight,
      percentageOfNodesToScore: args.percentageOfNodesToScore ?? d.percentageOfNodesToScore,
      httpTimeout: args.httpTimeout ?? d.httpTimeout,
    }));
    this.summary = schedulerExtenderSummary(namespace, policy, thermalAware, telemetryPods);
    this.registerOutputs({ ...this.summary });
  }

  private createExtender(name: string, a: { namespace: string; policy: PolicyName; replicas: number; thermalAware: boolean; telemetryPods: string[]; hotTemperatureC?: number; runtimeImage?: string }): void {
    const parent = { parent: this };
    const labels = labelsOf(EXTENDER_NAME);
    const meta = { name: EXTENDER_NAME, namespace: a.namespace, labels };
    const sa = new k8s.core.v1.ServiceAccount(name, { metadata: meta }, parent);
    const role = new k8s.rbac.v1.ClusterRole(name, { metadata: { name: EXTENDER_NAME, labels }, rules: extenderClusterRoleRules() }, parent);
    new k8s.rbac.v1.ClusterRoleBinding(name, {
      metadata: { name: EXTENDER_NAME, labels },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: role.metadata.name },
      subjects: [{ kind: "ServiceAccount", name: sa.metadata.name, namespace: a.namespace }],
    }, parent);
    const runtime = new RuntimeBundleConfigMap(`${name}-runtime`, { pkg: "scheduler-extender", namespace: a.namespace, image: a.runtimeImage }, parent);
    const parts = runtime.podParts;
    new k8s.apps.v1.Deployment(name, {
      metadata: meta,
      spec: {
        replicas: a.replicas,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels, annotations: parts.annotations },
          spec: {
            serviceAccountName: sa.metadata.name,
            securityContext: restrictedPodSecurity(),
            affinity: spreadAcrossNodes(labels),
            containers: [{
              name: "extender",
              image: parts.image,
              command: parts.command,
              args: extenderContainerArgs(a),
              ports: [{ name: "http", containerPort: EXTENDER_PORT }],
              // Ready once the node and pod caches have synced; alive while the port answers.
              readinessProbe: { httpGet: { path: "/healthz", port: "http" }, periodSeconds: 5 },
              livenessProbe: { tcpSocket: { port: "http" }, initialDelaySeconds: 10, periodSeconds: 20 },
              securityContext: runtimeContainerSecurity(),
              resources: { requests: { cpu: "200m", memory: "256Mi" }, limits: { memory: "1Gi" } },
              volumeMounts: parts.volumeMounts,
            }],
            volumes: parts.volumes,
          },
        },
      },
    }, parent);
    new k8s.policy.v1.PodDisruptionBudget(name, { metadata: meta, spec: { minAvailable: 1, selector: { matchLabels: labels } } }, parent);
    new k8s.core.v1.Service(name, {
      metadata: meta,
      spec: { selector: labels, sessionAffinity: "ClientIP", ports: [{ name: "http", port: EXTENDER_PORT, targetPort: "http" }] },
    }, parent);
  }

  private createScheduler(name: string, namespace: string, replicas: number, config: ReturnType<typeof kubeSchedulerConfiguration>): void {
    const parent = { parent: this };
    const labels = labelsOf(GPK_SCHEDULER_NAME);
    const meta = { name: GPK_SCHEDULER_NAME, namespace, labels };
    const sa = new k8s.core.v1.ServiceAccount(name, { metadata: meta }, parent);
    const subjects = [{ kind: "ServiceAccount", name: sa.metadata.name, namespace }];
    for (const upstream of ["system:kube-scheduler", "system:volume-scheduler"]) {
      const suffix = upstream.split(":")[1]!;
      new k8s.rbac.v1.ClusterRoleBinding(`${name}-${suffix}`, {
        metadata: { name: `${GPK_SCHEDULER_NAME}-as-${suffix}`, labels },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: upstream },
        subjects,
      }, parent);
    }
    new k8s.rbac.v1.RoleBinding(`${name}-auth-reader`, {
      metadata: { name: `${GPK_SCHEDULER_NAME}-extension-apiserver-authentication-reader`, namespace: "kube-system", labels },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "extension-apiserver-authentication-reader" },
      subjects,
    }, parent);
    const leaseRole = new k8s.rbac.v1.Role(`${name}-lease`, { metadata: { name: `${GPK_SCHEDULER_NAME}-lease`, namespace, labels }, rules: schedulerLeaseRules() }, parent);
    new k8s.rbac.v1.RoleBinding(`${name}-lease`, {
      metadata: { name: `${GPK_SCHEDULER_NAME}-lease`, namespace, labels },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: leaseRole.metadata.name },
      subjects,
    }, parent);
    const configYaml = stringify(config);
    const configMap = new k8s.core.v1.ConfigMap(`${name}-config`, { metadata: { name: `${GPK_SCHEDULER_NAME}-config`, namespace, labels }, data: { "config.yaml": configYaml } }, parent);
    const probe = { httpGet: { path: "/healthz", port: SCHEDULER_SECURE_PORT, scheme: "HTTPS" } };
    new k8s.apps.v1.Deployment(name, {
      metadata: meta,
      spec: {
        replicas,
        selector: { matchLabels: labels },
        template: {
          // A changed configuration rolls the scheduler pods.
          metadata: { labels, annotations: { [KIT_ANNOTATIONS.configHash]: createHash("sha256").update(configYaml).digest("hex") } },
          spec: {
            serviceAccountName: sa.metadata.name,
            securityContext: restrictedPodSecurity(NODE_IMAGE_USER),
            affinity: spreadAcrossNodes(labels),
            containers: [{
              name: "kube-scheduler",
              image: imageRef(IMAGES.kubeScheduler),
              command: ["/usr/local/bin/kube-scheduler", `--config=${CONFIG_DIR}/config.yaml`],
              ports: [{ name: "https", containerPort: SCHEDULER_SECURE_PORT }],
              livenessProbe: { ...probe, initialDelaySeconds: 15 },
              readinessProbe: probe,
              securityContext: runtimeContainerSecurity(),
              resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "512Mi" } },
              volumeMounts: [{ name: "config", mountPath: CONFIG_DIR, readOnly: true }, { name: "tmp", mountPath: "/tmp" }],
            }],
            volumes: [{ name: "config", configMap: { name: configMap.metadata.name } }, { name: "tmp", emptyDir: {} }],
          },
        },
      },
    }, parent);
    new k8s.policy.v1.PodDisruptionBudget(name, { metadata: meta, spec: { minAvailable: 1, selector: { matchLabels: labels } } }, parent);
  }
}
