/**
 * The kit's simulated device plugin on kind pools: a DaemonSet per pool running the
 * `runtime/device-plugin` bundle, which registers `nvidia.com/gpu` with the kubelet and
 * advertises the pool's simulated GPUs (on a MIG pool: their MIG devices, as `nvidia.com/gpu`
 * or one `nvidia.com/mig-<profile>` resource per profile).
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ENV } from "../runtime/device-plugin/config";
import { KIT_LABELS, MANAGED_BY, tolerationFor } from "../gpu";
import { formatMigLayout } from "../gpu/mig";
import { RuntimeBundleConfigMap } from "./runtime-bundle";
import type { GpuPoolSummary } from "./summaries";

/** The kubelet's device-plugin directory (kubelet.sock lives here; plugins put their sockets beside it). */
export const KUBELET_DEVICE_PLUGIN_DIR = "/var/lib/kubelet/device-plugins";
/**
 * Host folder where the plugin installs the simulated nvidia-smi and the GPUs' state file;
 * Allocate mounts both read-only into containers that get GPUs.
 */
export const GPU_SIM_TOOLS_DIR = "/var/lib/gpk/gpu-sim";

export interface SimulatedDevicePluginArgs {
  /** The simulated GPU pools; one DaemonSet per pool advertises its GPUs. Required. */
  pools: GpuPoolSummary[];
  /** Namespace; its Pod Security level must allow hostPath (the kit uses `gpk-node`, PSA privileged). */
  namespace: string;
  /** Image holding the runtime bundles. Default: bundle in a ConfigMap on the pinned Node image. */
  runtimeImage?: string;
  /**
   * Prefer the GPUs the gpk scheduler extender assigned to each pod (runtime/device-plugin/
   * assignment-hints.ts). Adds a ServiceAccount allowed only to get/list/watch pods. Platform
   * sets it when the stack runs the extender. Default false.
   */
  honourExtenderAssignments?: boolean;
}

/** Name of the plugin's ServiceAccount (and its pods-reader ClusterRole), when it reads assignments. */
export const DEVICE_PLUGIN_SERVICE_ACCOUNT = "gpk-device-plugin";

/** Environment of the plugin process for one pool (read by runtime/device-plugin/main.ts). */
export function simulatedPluginEnv(pool: GpuPoolSummary, honourExtenderAssignments = false) {
  return [
    { name: ENV.nodeName, valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } },
    { name: ENV.product, value: pool.product },
    { name: ENV.count, value: String(pool.gpusPerNode) },
    { name: ENV.replicas, value: String(pool.timeSlicingReplicas) },
    { name: ENV.pluginDir, value: KUBELET_DEVICE_PLUGIN_DIR },
    { name: ENV.toolsDir, value: GPU_SIM_TOOLS_DIR },
    // A MIG pool's GPUs come partitioned: the plugin advertises the devices as the NVIDIA plugin would.
    ...(pool.mig
      ? [
          { name: ENV.mig, value: formatMigLayout(pool.mig.devicesPerGpu) },
          { name: ENV.migStrategy, value: pool.mig.strategy },
        ]
      : []),
    ...(honourExtenderAssignments ? [{ name: ENV.assignments, value: "1" }] : []),
  ];
}

/**
 * Security context of the plugin. It runs as root without privilege: the kubelet's
 * device-plugin directory is a root-owned hostPath in which the plugin must create its
 * socket and dial kubelet.sock, and it writes the simulated nvidia-smi and GPU state to a
 * second host folder that containers see read-only. Every capability is dropped and the
 * root filesystem is read-only; those two host folders are all it can write.
 */
export function simulatedPluginSecurityContext() {
  return {
    runAsUser: 0,
    runAsNonRoot: false,
    privileged: false,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ["ALL"] },
    seccompProfile: { type: "RuntimeDefault" },
  };
}

export class SimulatedDevicePlugin extends pulumi.ComponentResource {
  public readonly daemonSets: k8s.apps.v1.DaemonSet[];

  constructor(name: string, args: SimulatedDevicePluginArgs, opts?: pulumi.ComponentResourceOptions) {
    super("gpk:index:SimulatedDevicePlugin", name, {}, opts);
    const runtime = new RuntimeBundleConfigMap(`${name}-runtime`, { pkg: "device-plugin", namespace: args.namespace, image: args.runtimeImage }, { parent: this });
    const parts = runtime.podParts;
    const assignments = args.honourExtenderAssignments ?? false;
    if (assignments) this.podReaderRbac(name, args.namespace);
    this.daemonSets = args.pools.map((pool) => {
      const labels = { "app.kubernetes.io/name": "gpk-device-plugin", [KIT_LABELS.pool]: pool.poolName, [KIT_LABELS.managedBy]: MANAGED_BY };
      return new k8s.apps.v1.DaemonSet(`${name}-${pool.poolName}`, {
        metadata: { name: `gpk-device-plugin-${pool.poolName}`, namespace: args.namespace, labels },
        spec: {
          selector: { matchLabels: labels },
          updateStrategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1 } },
          template: {
            metadata: { labels, annotations: parts.annotations },
            spec: {
              nodeSelector: { [KIT_LABELS.pool]: pool.poolName },
              tolerations: pool.nodeTaints.map(tolerationFor),
              priorityClassName: "system-node-critical",
              // The token is mounted only when the plugin reads the extender's assignments from
              // the API server (get/list/watch pods, nothing else); otherwise it needs no API access.
              ...(assignments
                ? { serviceAccountName: DEVICE_PLUGIN_SERVICE_ACCOUNT, automountServiceAccountToken: true }
                : { automountServiceAccountToken: false }),
              containers: [{
                name: "device-plugin",
                image: parts.image,
                command: parts.command,
                env: simulatedPluginEnv(pool, assignments),
                securityContext: simulatedPluginSecurityContext(),
                resources: { requests: { cpu: "10m", memory: "32Mi" }, limits: { cpu: "100m", memory: "128Mi" } },
                volumeMounts: [
                  ...parts.volumeMounts,
                  { name: "device-plugins", mountPath: KUBELET_DEVICE_PLUGIN_DIR },
                  { name: "gpu-sim-tools", mountPath: GPU_SIM_TOOLS_DIR },
                ],
              }],
              volumes: [
                ...parts.volumes,
                { name: "device-plugins", hostPath: { path: KUBELET_DEVICE_PLUGIN_DIR, type: "Directory" } },
                { name: "gpu-sim-tools", hostPath: { path: GPU_SIM_TOOLS_DIR, type: "DirectoryOrCreate" } },
              ],
            },
          },
        },
      }, { parent: this });
    });
    this.registerOutputs({ pools: args.pools.map((p) => p.poolName) });
  }

  /** Read-only access to pods, cluster-wide: the plugin watches the pods bound to its node. */
  private podReaderRbac(name: string, namespace: string): void {
    const labels = { [KIT_LABELS.managedBy]: MANAGED_BY };
    const sa = new k8s.core.v1.ServiceAccount(`${name}-sa`, {
      metadata: { name: DEVICE_PLUGIN_SERVICE_ACCOUNT, namespace, labels },
    }, { parent: this });
    const role = new k8s.rbac.v1.ClusterRole(`${name}-pod-reader`, {
      metadata: { name: DEVICE_PLUGIN_SERVICE_ACCOUNT, labels },
      rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"] }],
    }, { parent: this });
    new k8s.rbac.v1.ClusterRoleBinding(`${name}-pod-reader`, {
      metadata: { name: DEVICE_PLUGIN_SERVICE_ACCOUNT, labels },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: role.metadata.name },
      subjects: [{ kind: "ServiceAccount", name: sa.metadata.name, namespace }],
    }, { parent: this });
  }
}
