/**
 * `gpk:index:MigManager` (eks): NVIDIA's MIG manager on the pools that declare `mig`. Each node
 * carries `nvidia.com/mig.config=<name>` (components/gpu-node-group.ts); the manager applies
 * that named layout from the mig-parted config rendered here, reports progress in
 * `nvidia.com/mig.config.state`, and restarts the GPU clients in the device plugin's namespace
 * so they advertise the new devices.
 *
 * Deployment facts (env, host paths, privileges, RBAC) follow NVIDIA/gpu-operator v26.7.0
 * assets/state-mig-manager and NVIDIA/mig-parted v0.15.0 cmd/nvidia-mig-manager/main.go.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { stringify } from "yaml";
import { KIT_LABELS, MANAGED_BY, NODE_AGENT_NAMESPACE } from "../gpu";
import { gpuPoolPlacement } from "./nvidia-device-plugin";
import { IMAGES, imageRef } from "./pins";
import type { GpuPoolSummary } from "./summaries";

export interface MigManagerArgs {
  /** The GPU pools; only those with a MIG layout get the manager. Required. */
  pools: GpuPoolSummary[];
  /** Namespace of the manager and of the GPU clients it restarts (the device plugin's). Default `gpk-node`. */
  namespace?: string;
}

/** Name of the manager's DaemonSet, ServiceAccount, roles and config. */
export const MIG_MANAGER_NAME = "gpk-mig-manager";
/** Where the mig-parted config is mounted; CONFIG_FILE points the manager at it. */
const CONFIG_DIR = "/mig-parted-config";

/**
 * The mig-parted config (mig-parted api/spec/v1: `version: v1`, `mig-configs` by name, each a
 * list of `{devices, mig-enabled, mig-devices}`): `all-disabled` to undo MIG, and each MIG
 * pool's layout under its config name. Pools are homogeneous, so no `device-filter` is needed.
 */
export function migPartedConfig(pools: GpuPoolSummary[]): Record<string, unknown> {
  const configs: Record<string, unknown> = { "all-disabled": [{ devices: "all", "mig-enabled": false }] };
  for (const pool of pools) {
    if (!pool.mig) continue;
    configs[pool.mig.configName] = [{ devices: "all", "mig-enabled": true, "mig-devices": pool.mig.devicesPerGpu }];
  }
  return { version: "v1", "mig-configs": configs };
}

/**
 * Environment of the manager. The EKS NVIDIA AMI installs the driver on the host, so the driver
 * root is the host's `/` (seen at /host in the container) and host GPU clients are stopped
 * around a change, as the GPU operator does for host drivers. No reboot: a node that needs one
 * reports `failed` in `nvidia.com/mig.config.state`.
 */
export function migManagerEnv(namespace: string) {
  return [
    { name: "NODE_NAME", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } },
    { name: "CONFIG_FILE", value: `${CONFIG_DIR}/config.yaml` },
    { name: "DEFAULT_GPU_CLIENTS_NAMESPACE", value: namespace },
    { name: "HOST_ROOT_MOUNT", value: "/host" },
    { name: "NVIDIA_DRIVER_ROOT", value: "/" },
    { name: "DRIVER_ROOT_CTR_PATH", value: "/host" },
    { name: "WITH_SHUTDOWN_HOST_GPU_CLIENTS", value: "true" },
    { name: "WITH_REBOOT", value: "false" },
  ];
}

/**
 * RBAC, the operator's minus its wildcards: read and label nodes (it writes
 * `nvidia.com/mig.config.state` and pauses the GPU clients by label), list pods cluster-wide to
 * find the GPU clients, and in its own namespace delete those pods and keep its config.
 */
export function migManagerRbacRules() {
  return {
    cluster: [
      { apiGroups: [""], resources: ["nodes"], verbs: ["get", "list", "watch", "update", "patch"] },
      { apiGroups: [""], resources: ["pods"], verbs: ["list"] },
    ],
    namespaced: [
      { apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch", "delete"] },
      { apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list", "create", "update", "patch"] },
    ],
  };
}

export class MigManager extends pulumi.ComponentResource {
  public readonly daemonSet?: k8s.apps.v1.DaemonSet;

  constructor(name: string, args: MigManagerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("gpk:index:MigManager", name, {}, opts);
    const namespace = args.namespace ?? NODE_AGENT_NAMESPACE;
    const migPools = args.pools.filter((p) => p.mig !== undefined);
    if (migPools.length === 0) {
      throw new pulumi.InputPropertyError({ propertyPath: "pools", reason: "`pools` must include a pool with `mig`; the platform renders the manager only then." });
    }
    const labels = { "app.kubernetes.io/name": MIG_MANAGER_NAME, [KIT_LABELS.managedBy]: MANAGED_BY };
    const meta = { name: MIG_MANAGER_NAME, namespace, labels };
    const child = { parent: this };
    const config = new k8s.core.v1.ConfigMap(`${name}-config`, { metadata: meta, data: { "config.yaml": stringify(migPartedConfig(migPools)) } }, child);
    const sa = new k8s.core.v1.ServiceAccount(`${name}-sa`, { metadata: meta }, child);
    const rules = migManagerRbacRules();
    const clusterRole = new k8s.rbac.v1.ClusterRole(`${name}-cluster`, { metadata: { name: MIG_MANAGER_NAME, labels }, rules: rules.cluster }, child);
    new k8s.rbac.v1.ClusterRoleBinding(`${name}-cluster`, {
      metadata: { name: MIG_MANAGER_NAME, labels },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: clusterRole.metadata.name },
      subjects: [{ kind: "ServiceAccount", name: sa.metadata.name, namespace }],
    }, child);
    const role = new k8s.rbac.v1.Role(`${name}-ns`, { metadata: meta, rules: rules.namespaced }, child);
    new k8s.rbac.v1.RoleBinding(`${name}-ns`, {
      metadata: meta,
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role.metadata.name },
      subjects: [{ kind: "ServiceAccount", name: sa.metadata.name, namespace }],
    }, child);
    const placement = gpuPoolPlacement(migPools);
    this.daemonSet = new k8s.apps.v1.DaemonSet(name, {
      metadata: meta,
      spec: {
        selector: { matchLabels: labels },
        updateStrategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1 } },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: sa.metadata.name,
            priorityClassName: "system-node-critical",
            ...placement,
            // Privileged with the host's PID and IPC namespaces, `/` and `/sys`: partitioning a GPU
            // goes through the driver on the host and stops the host's GPU clients (nvidia-persistenced,
            // DCGM) around the change. This is why it runs in gpk-node (PSA privileged) and nowhere else.
            hostPID: true,
            hostIPC: true,
            containers: [{
              name: "mig-manager",
              image: imageRef(IMAGES.migManager),
              env: migManagerEnv(namespace),
              securityContext: { privileged: true },
              resources: { requests: { cpu: "10m", memory: "64Mi" }, limits: { memory: "256Mi" } },
              volumeMounts: [
                { name: "host-root", mountPath: "/host", mountPropagation: "HostToContainer" },
                { name: "host-sys", mountPath: "/sys" },
                { name: "mig-parted-config", mountPath: CONFIG_DIR, readOnly: true },
              ],
            }],
            volumes: [
              { name: "host-root", hostPath: { path: "/", type: "Directory" } },
              { name: "host-sys", hostPath: { path: "/sys", type: "Directory" } },
              { name: "mig-parted-config", configMap: { name: config.metadata.name } },
            ],
          },
        },
      },
    }, child);
    this.registerOutputs({ pools: migPools.map((p) => p.poolName), configNames: migPools.map((p) => p.mig!.configName) });
  }
}
