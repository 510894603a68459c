/**
 * The kit's simulated device plugin on kind pools: a DaemonSet per pool running the
 * `runtime/device-plugin` bundle, which registers `nvidia.com/gpu` with the kubelet and
 * advertises the pool's simulated GPUs.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { KIT_LABELS, MANAGED_BY, tolerationFor } from "./gpu";
import { RuntimeBundleConfigMap } from "./runtime-bundle";
import type { GpuPoolSummary } from "./summaries";

/** The kubelet's device-plugin directory (kubelet.sock lives here; plugins put their sockets beside it). */
export const KUBELET_DEVICE_PLUGIN_DIR = "/var/lib/kubelet/device-plugins";

export interface SimulatedDevicePluginArgs {
  pools: GpuPoolSummary[];
  /** Namespace; its Pod Security level must allow hostPath (the kit uses `gpk-node`, PSA privileged). */
  namespace: string;
  /** Image holding the runtime bundles. Default: bundle in a ConfigMap on the pinned Node image. */
  runtimeImage?: string;
}

/** Environment of the plugin process for one pool (read by runtime/device-plugin/main.ts). */
export function simulatedPluginEnv(pool: GpuPoolSummary) {
  return [
    { name: "GPK_NODE_NAME", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } },
    { name: "GPK_GPU_PRODUCT", value: pool.product },
    { name: "GPK_GPU_COUNT", value: String(pool.gpusPerNode) },
    { name: "GPK_TIME_SLICING_REPLICAS", value: String(pool.timeSlicingReplicas) },
    { name: "GPK_DEVICE_PLUGIN_DIR", value: KUBELET_DEVICE_PLUGIN_DIR },
  ];
}

/**
 * Security context of the plugin. It runs as root without privilege: the kubelet's
 * device-plugin directory is a root-owned hostPath in which the plugin must create its
 * socket and dial kubelet.sock. Every capability is dropped and the root filesystem is
 * read-only; the host directory is the only thing it can write (as NVIDIA's plugin does).
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
              automountServiceAccountToken: false,
              containers: [{
                name: "device-plugin",
                image: parts.image,
                command: parts.command,
                env: simulatedPluginEnv(pool),
                securityContext: simulatedPluginSecurityContext(),
                resources: { requests: { cpu: "10m", memory: "32Mi" }, limits: { cpu: "100m", memory: "128Mi" } },
                volumeMounts: [...parts.volumeMounts, { name: "device-plugins", mountPath: KUBELET_DEVICE_PLUGIN_DIR }],
              }],
              volumes: [...parts.volumes, { name: "device-plugins", hostPath: { path: KUBELET_DEVICE_PLUGIN_DIR, type: "Directory" } }],
            },
          },
        },
      }, { parent: this });
    });
    this.registerOutputs({ pools: args.pools.map((p) => p.poolName) });
  }
}
