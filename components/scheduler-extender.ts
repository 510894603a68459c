/**
 * `gpk:index:SchedulerExtender`: the GPU-aware scheduler extender (runtime/scheduler-extender,
 * shipped as a runtime bundle) and a second kube-scheduler, `gpk-scheduler`, whose profile calls
 * it for every pod that requests `nvidia.com/gpu`. Workloads opt in with
 * `schedulerName: gpk-scheduler`; the default scheduler is left alone.
 *
 * Extender: Deployment (2 replicas, readiness on /healthz = cache synced), PDB, Service with
 * ClientIP affinity (the leading scheduler keeps talking to one replica, whose filter answers
 * its binds need), least-privilege RBAC: get/list/watch nodes and pods, create pods/binding.
 * The GPU choice travels in the Binding's annotations, which the API server writes onto the
 * pod together with the node name, so no pod patch permission is needed.
 *
 * Callers: the verbs are served over mutual TLS only. The kit's CA (kit-pki.ts; its key stays
 * in the stack's state) signs the extender's serving certificate and the scheduler's client
 * certificate (CN `gpk-scheduler`, the one identity the extender accepts); each lands in a
 * `kubernetes.io/tls` Secret with `ca.crt`, mounted read-only, and a new certificate rolls the
 * pods through their template annotation. A NetworkPolicy lets only gpk-scheduler pods reach
 * the verb port and the monitoring namespace the health/metrics port (docs/scheduler-extender.md).
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
import { DEFAULT_MONITORING_NAMESPACE, GPK_SCHEDULER_NAME, GPU_RESOURCE, KIT_ANNOTATIONS, KIT_LABELS, MANAGED_BY, SYSTEM_NAMESPACE } from "../gpu";
import { DEFAULT_CLIENT_NAME, DEFAULT_HEALTH_PORT, TLS_FILES, tlsFolderArgs } from "../runtime/scheduler-extender/options";
import { TELEMETRY_PORT, telemetryExporterLabels } from "./gpu-telemetry";
import { KitCertificate } from "./kit-pki";
import { allowIngressSpec, namespacePeer, podsPeer } from "./network-policies";
import { IMAGES, imageRef } from "./pins";
import { restrictedPodSecurity } from "./pod-security";
import { NODE_IMAGE_USER, RuntimeBundleConfigMap, runtimeContainerSecurity } from "./runtime-bundle";
import type { SchedulerExtenderSummary, Target } from "./summaries";

export const EXTENDER_NAME = "gpk-scheduler-extender";
export const EXTENDER_PORT = 8888;
/** Plain-HTTP /healthz and /metrics of the extender (the verb port wants a client certificate). */
export const EXTENDER_HEALTH_PORT = DEFAULT_HEALTH_PORT;
/** kube-scheduler's secure port (healthz, metrics). */
export const SCHEDULER_SECURE_PORT = 10259;
/** The identity (client certificate CN) of gpk-scheduler, the one caller the extender serves. */
export const SCHEDULER_CLIENT_NAME = DEFAULT_CLIENT_NAME;
/** Secrets (`kubernetes.io/tls`: tls.crt, tls.key, ca.crt) of the extender's serving and the scheduler's client certificate. */
export const EXTENDER_TLS_SECRET = `${EXTENDER_NAME}-tls`;
export const SCHEDULER_TLS_SECRET = `${GPK_SCHEDULER_NAME}-client-tls`;
const CONFIG_DIR = "/etc/gpk-scheduler";
/** Where both Deployments mount their TLS Secret. */
export const TLS_DIR = "/etc/gpk/tls";

export const SCHEDULER_EXTENDER_DEFAULTS = {
  namespace: SYSTEM_NAMESPACE,
  policy: "gpk" as PolicyName,
  replicas: 2,
  weight: 100,
  thermalAware: true,
  percentageOfNodesToScore: 0,
  httpTimeout: "5s",
  monitoringNamespace: DEFAULT_MONITORING_NAMESPACE,
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
  /** kube-scheduler percentageOfNodesToScore; 0 is its adaptive default. Default 0 (bench:node-sampling: at most 0.04 points of allocation against every node). */
  percentageOfNodesToScore?: number;
  /** Timeout of each extender call. Default "5s". */
  httpTimeout?: string;
  /** Labels (key=value) of the GPU telemetry exporter pods to scrape; none: no telemetry. */
  telemetryPods?: string[];
  /** Image holding the runtime bundles. Default: the bundle in a ConfigMap. */
  runtimeImage?: string;
  /** Namespace whose pods may scrape the extender's and the scheduler's metrics. Default `monitoring`. */
  monitoringNamespace?: string;
  /**
   * MIG resources the pools advertise (`nvidia.com/mig-<profile>`, MIG `mixed`): kube-scheduler
   * calls the extender only for pods asking for a managed resource, so each is managed too. Default none.
   */
  migResources?: string[];
}

/** The same as the extender's `--telemetry-pods key=value` selector. */
export function telemetryExporterSelector(target: Target): string {
  const [[key, value]] = Object.entries(telemetryExporterLabels(target)) as [[string, string]];
  return `${key}=${value}`;
}

/** Pod labels of the extender: what the telemetry exporters' NetworkPolicy admits for thermal scraping. */
export function extenderPodLabels(): Record<string, string> {
  return labelsOf(EXTENDER_NAME);
}

/** The DNS names the extender's serving certificate carries: its Service, short and fully qualified. */
export function extenderDnsNames(namespace: string): string[] {
  return [`${EXTENDER_NAME}.${namespace}.svc`, `${EXTENDER_NAME}.${namespace}.svc.cluster.local`];
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
  const args = ["--in-cluster", "--policy", a.policy, "--port", String(EXTENDER_PORT), ...tlsFolderArgs(TLS_DIR, SCHEDULER_CLIENT_NAME, EXTENDER_HEALTH_PORT)];
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
export function kubeSchedulerConfiguration(a: { namespace: string; weight: number; percentageOfNodesToScore: number; httpTimeout: string; migResources?: string[] }) {
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
      urlPrefix: `https://${extenderDnsNames(a.namespace)[0]}:${EXTENDER_PORT}`,
      filterVerb: "filter",
      prioritizeVerb: "prioritize",
      bindVerb: "bind",
      weight: a.weight,
      enableHTTPS: true,
      // The scheduler's client certificate, and the kit CA that must have signed the extender's.
      tlsConfig: { serverName: extenderDnsNames(a.namespace)[0], certFile: `${TLS_DIR}/${TLS_FILES.cert}`, keyFile: `${TLS_DIR}/${TLS_FILES.key}`, caFile: `${TLS_DIR}/${TLS_FILES.ca}` },
      nodeCacheCapable: true,
      // kube-scheduler sends the extender only the pods that ask for one of these (extender.go IsInterested).
      managedResources: [GPU_RESOURCE, ...[...(a.migResources ?? [])].sort()].map((name) => ({ name, ignoredByScheduler: false })),
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

/** The Deployment pod-template annotation that changes with a pod's certificates: a rotation rolls the pods. */
function certificateAnnotation(...certs: KitCertificate[]): pulumi.Output<Record<string, string>> {
  return pulumi.all(certs.map((c) => c.sha256)).apply((hashes): Record<string, string> => ({ [KIT_ANNOTATIONS.certificateHash]: createHash("sha256").update(hashes.join(":")).digest("hex") }));
}

/** The pods run as the image's `node` user; fsGroup gives the mounted Secret files its group, which mode 0440 lets read. */
const TLS_READER = { ...NODE_IMAGE_USER, fsGroup: NODE_IMAGE_USER.gid };

/** Read-only mount of a TLS Secret at TLS_DIR; the key file readable by the pod's group only. */
function tlsVolume(secretName: string) {
  return {
    volume: { name: "tls", secret: { secretName, defaultMode: 0o440 } },
    mount: { name: "tls", mountPath: TLS_DIR, readOnly: true },
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
    const monitoringNamespace = args.monitoringNamespace ?? d.monitoringNamespace;
    const pki = this.createCertificates(name, namespace);
    this.createExtender(name, { namespace, policy, replicas, thermalAware, telemetryPods, hotTemperatureC: args.hotTemperatureC, runtimeImage: args.runtimeImage, monitoringNamespace, pki });
    this.createScheduler(`${name}-scheduler`, { namespace, replicas, monitoringNamespace, pki }, kubeSchedulerConfiguration({
      namespace,
      weight: args.weight ?? d.weight,
      percentageOfNodesToScore: args.percentageOfNodesToScore ?? d.percentageOfNodesToScore,
      httpTimeout: args.httpTimeout ?? d.httpTimeout,
      migResources: args.migResources,
    }));
    this.summary = schedulerExtenderSummary(namespace, policy, thermalAware, telemetryPods);
    this.registerOutputs({ ...this.summary });
  }

  /** The kit CA, the extender's serving and the scheduler's client certificate, and their Secrets. */
  private createCertificates(name: string, namespace: string) {
    const parent = { parent: this };
    const ca = new KitCertificate(`${name}-ca`, { commonName: "gpk-kit-ca", usage: "ca" }, parent);
    const server = new KitCertificate(`${name}-serving`, { commonName: EXTENDER_NAME, dnsNames: extenderDnsNames(namespace), usage: "server", issuer: ca }, parent);
    const client = new KitCertificate(`${name}-scheduler-client`, { commonName: SCHEDULER_CLIENT_NAME, usage: "client", issuer: ca }, parent);
    const secret = (resourceName: string, secretName: string, app: string, cert: KitCertificate) => new k8s.core.v1.Secret(resourceName, {
      metadata: { name: secretName, namespace, labels: labelsOf(app) },
      type: "kubernetes.io/tls",
      stringData: { [TLS_FILES.cert]: cert.certPem, [TLS_FILES.key]: cert.keyPem, [TLS_FILES.ca]: ca.certPem },
    }, parent);
    return {
      ca, server, client,
      serverSecret: secret(`${name}-serving-tls`, EXTENDER_TLS_SECRET, EXTENDER_NAME, server),
      clientSecret: secret(`${name}-scheduler-client-tls`, SCHEDULER_TLS_SECRET, GPK_SCHEDULER_NAME, client),
    };
  }

  private createExtender(name: string, a: {
    namespace: string; policy: PolicyName; replicas: number; thermalAware: boolean; telemetryPods: string[]; hotTemperatureC?: number; runtimeImage?: string;
    monitoringNamespace: string; pki: ReturnType<SchedulerExtender["createCertificates"]>;
  }): void {
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
    const tls = tlsVolume(EXTENDER_TLS_SECRET);
    new k8s.apps.v1.Deployment(name, {
      metadata: meta,
      spec: {
        replicas: a.replicas,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels, annotations: pulumi.all([parts.annotations, certificateAnnotation(a.pki.ca, a.pki.server)]).apply(([bundle, certs]) => ({ ...bundle, ...certs })) },
          spec: {
            serviceAccountName: sa.metadata.name,
            securityContext: restrictedPodSecurity(TLS_READER),
            affinity: spreadAcrossNodes(labels),
            containers: [{
              name: "extender",
              image: parts.image,
              command: parts.command,
              args: extenderContainerArgs(a),
              ports: [{ name: "https", containerPort: EXTENDER_PORT }, { name: "health", containerPort: EXTENDER_HEALTH_PORT }],
              // Ready once the node and pod caches have synced; alive while the verb port accepts connections.
              readinessProbe: { httpGet: { path: "/healthz", port: "health" }, periodSeconds: 5 },
              livenessProbe: { tcpSocket: { port: "https" }, initialDelaySeconds: 10, periodSeconds: 20 },
              securityContext: runtimeContainerSecurity(),
              resources: { requests: { cpu: "200m", memory: "256Mi" }, limits: { memory: "1Gi" } },
              volumeMounts: [...parts.volumeMounts, tls.mount],
            }],
            volumes: [...parts.volumes, tls.volume],
          },
        },
      },
    }, { ...parent, dependsOn: [a.pki.serverSecret] });
    new k8s.policy.v1.PodDisruptionBudget(name, { metadata: meta, spec: { minAvailable: 1, selector: { matchLabels: labels } } }, parent);
    new k8s.core.v1.Service(name, {
      metadata: meta,
      spec: {
        selector: labels, sessionAffinity: "ClientIP",
        ports: [{ name: "https", port: EXTENDER_PORT, targetPort: "https" }, { name: "metrics", port: EXTENDER_HEALTH_PORT, targetPort: "health" }],
      },
    }, parent);
    new k8s.networking.v1.NetworkPolicy(`${name}-ingress`, {
      metadata: { name: `${EXTENDER_NAME}-ingress`, namespace: a.namespace, labels },
      spec: allowIngressSpec(labels, [
        { from: [podsPeer(a.namespace, labelsOf(GPK_SCHEDULER_NAME))], port: EXTENDER_PORT },
        { from: [namespacePeer(a.monitoringNamespace)], port: EXTENDER_HEALTH_PORT },
      ]),
    }, parent);
  }

  private createScheduler(name: string, a: { namespace: string; replicas: number; monitoringNamespace: string; pki: ReturnType<SchedulerExtender["createCertificates"]> }, config: ReturnType<typeof kubeSchedulerConfiguration>): void {
    const { namespace, replicas } = a;
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
    const tls = tlsVolume(SCHEDULER_TLS_SECRET);
    const configHash = { [KIT_ANNOTATIONS.configHash]: createHash("sha256").update(configYaml).digest("hex") };
    new k8s.apps.v1.Deployment(name, {
      metadata: meta,
      spec: {
        replicas,
        selector: { matchLabels: labels },
        template: {
          // A changed configuration or certificate rolls the scheduler pods.
          metadata: { labels, annotations: certificateAnnotation(a.pki.ca, a.pki.client).apply((certs) => ({ ...configHash, ...certs })) },
          spec: {
            serviceAccountName: sa.metadata.name,
            securityContext: restrictedPodSecurity(TLS_READER),
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
              volumeMounts: [{ name: "config", mountPath: CONFIG_DIR, readOnly: true }, { name: "tmp", mountPath: "/tmp" }, tls.mount],
            }],
            volumes: [{ name: "config", configMap: { name: configMap.metadata.name } }, { name: "tmp", emptyDir: {} }, tls.volume],
          },
        },
      },
    }, { ...parent, dependsOn: [a.pki.clientSecret] });
    new k8s.policy.v1.PodDisruptionBudget(name, { metadata: meta, spec: { minAvailable: 1, selector: { matchLabels: labels } } }, parent);
    new k8s.networking.v1.NetworkPolicy(`${name}-ingress`, {
      metadata: { name: `${GPK_SCHEDULER_NAME}-ingress`, namespace, labels },
      spec: allowIngressSpec(labels, [{ from: [namespacePeer(a.monitoringNamespace)], port: SCHEDULER_SECURE_PORT }]),
    }, parent);
  }
}
