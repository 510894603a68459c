/**
 * `gpk:index:NvidiaDevicePlugin`: advertises `nvidia.com/gpu` on every GPU pool. On eks the
 * official NVIDIA chart, pinned, with one named config per pool (time-slicing, MIG) selected
 * by the `nvidia.com/device-plugin.config` node label; on kind the kit's simulated plugin.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { stringify } from "yaml";
import { DEVICE_PLUGIN_CONFIG_LABEL, GPU_TAINT, KIT_LABELS, NODE_AGENT_NAMESPACE, tolerationFor } from "../gpu";
import { CHARTS, IMAGES } from "./pins";
import { SimulatedDevicePlugin } from "./simulated-device-plugin";
import type { DevicePluginSummary, GpuPoolSummary, Target } from "./summaries";

export const DEVICE_PLUGIN_DEFAULTS = {
  namespace: NODE_AGENT_NAMESPACE,
  failOnInitError: true,
  deviceListStrategy: "envvar",
  renameByDefault: false,
} as const;

export type DeviceListStrategy = "envvar" | "volume-mounts" | "cdi-annotations" | "cdi-cri";

export interface NvidiaDevicePluginArgs {
  /** `eks`: the NVIDIA chart on real GPUs; `kind`: the kit's simulated plugin. Required. */
  target: Target;
  /** The GPU pools the plugin serves; each gets its own named config. */
  pools: GpuPoolSummary[];
  /** Namespace of the plugin. Default `gpk-node`. */
  namespace?: string;
  /** Exit when NVML cannot start instead of idling. Default true. */
  failOnInitError?: boolean;
  /** How allocated devices are passed to containers. Default `envvar`. */
  deviceListStrategy?: DeviceListStrategy;
  /** Advertise time-sliced GPUs as `nvidia.com/gpu.shared` instead of `nvidia.com/gpu`. Default false. */
  renameByDefault?: boolean;
  /** Image holding the runtime bundles (kind only; see RuntimeBundle). Default: bundles in a ConfigMap. */
  runtimeImage?: string;
  /** kind only: the simulated plugin prefers the gpk scheduler extender's GPU assignment. Default false. */
  honourExtenderAssignments?: boolean;
}

/**
 * The plugin's config file for one pool, in the NVIDIA device plugin's `version: v1` format
 * (k8s-device-plugin README, "Configuration File").
 */
export function devicePluginConfig(
  pool: Pick<GpuPoolSummary, "timeSlicingReplicas" | "migStrategy" | "nodeResources">,
  opts: { failOnInitError: boolean; deviceListStrategy: DeviceListStrategy; renameByDefault: boolean },
): Record<string, unknown> {
  const config: Record<string, unknown> = {
    version: "v1",
    flags: {
      migStrategy: pool.migStrategy,
      failOnInitError: opts.failOnInitError,
      plugin: { passDeviceSpecs: false, deviceListStrategy: [opts.deviceListStrategy], deviceIDStrategy: "uuid" },
    },
  };
  if (pool.timeSlicingReplicas > 1) {
    config.sharing = {
      timeSlicing: {
        renameByDefault: opts.renameByDefault,
        // A pod asking for two slices of one GPU gets no more compute than one; refuse it.
        failRequestsGreaterThanOne: true,
        // Every resource the node advertises: whole GPUs, or each MIG profile's devices.
        resources: Object.keys(pool.nodeResources).sort().map((name) => ({ name, replicas: pool.timeSlicingReplicas })),
      },
    };
  }
  return config;
}

/** Node affinity onto the given pools, and tolerations for their taints (GPU and dedicated-tenant). */
export function gpuPoolPlacement(pools: GpuPoolSummary[]) {
  const tolerations = new Map<string, ReturnType<typeof tolerationFor>>();
  for (const taint of pools.flatMap((p) => p.nodeTaints)) tolerations.set(`${taint.key}=${taint.value}`, tolerationFor(taint));
  return {
    affinity: {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [{ matchExpressions: [{ key: KIT_LABELS.pool, operator: "In", values: pools.map((p) => p.poolName) }] }],
        },
      },
    },
    tolerations: tolerations.size > 0 ? [...tolerations.values()] : [tolerationFor(GPU_TAINT)],
  };
}

/** Helm values for the NVIDIA chart: one named config per pool, scheduled only on GPU pools. */
export function devicePluginChartValues(args: NvidiaDevicePluginArgs): Record<string, unknown> {
  const opts = {
    failOnInitError: args.failOnInitError ?? DEVICE_PLUGIN_DEFAULTS.failOnInitError,
    deviceListStrategy: args.deviceListStrategy ?? DEVICE_PLUGIN_DEFAULTS.deviceListStrategy,
    renameByDefault: args.renameByDefault ?? DEVICE_PLUGIN_DEFAULTS.renameByDefault,
  };
  const map = Object.fromEntries(args.pools.map((pool) => [pool.poolName, stringify(devicePluginConfig(pool, opts))]));
  return {
    // Each node picks its pool's entry through the `nvidia.com/device-plugin.config` label.
    config: { map, default: args.pools[0]?.poolName, nodeLabel: DEVICE_PLUGIN_CONFIG_LABEL },
    ...gpuPoolPlacement(args.pools),
    priorityClassName: "system-node-critical",
    // The chart renders `<repository>:<tag>`, so a tag carrying the digest pins the image the
    // plugin and GFD daemonsets run (the chart's own default is the bare tag, which can move).
    image: { repository: IMAGES.nvidiaDevicePlugin.repository, tag: `${IMAGES.nvidiaDevicePlugin.tag}@${IMAGES.nvidiaDevicePlugin.digest}` },
    // GFD labels the real hardware; the pool labels the kit sets are the static subset.
    gfd: { enabled: true },
  };
}

export class NvidiaDevicePlugin extends pulumi.ComponentResource {
  public readonly summary: DevicePluginSummary;
  /** The NVIDIA chart release (eks). */
  public readonly release?: k8s.helm.v3.Release;
  /** The simulated plugin (kind). */
  public readonly simulated?: SimulatedDevicePlugin;

  constructor(name: string, args: NvidiaDevicePluginArgs, opts?: pulumi.ComponentResourceOptions) {
    super("gpk:index:NvidiaDevicePlugin", name, {}, opts);
    if (args.pools.length === 0) {
      throw new pulumi.InputPropertyError({ propertyPath: "pools", reason: "`pools` must name at least one GPU pool." });
    }
    const namespace = args.namespace ?? DEVICE_PLUGIN_DEFAULTS.namespace;
    if (args.target === "eks") {
      this.release = new k8s.helm.v3.Release(name, {
        chart: CHARTS.nvidiaDevicePlugin.chart,
        version: CHARTS.nvidiaDevicePlugin.version,
        repositoryOpts: { repo: CHARTS.nvidiaDevicePlugin.repo },
        namespace,
        values: devicePluginChartValues(args),
        atomic: true,
      }, { parent: this });
    } else {
      this.simulated = new SimulatedDevicePlugin(name, {
        pools: args.pools,
        namespace,
        runtimeImage: args.runtimeImage,
        honourExtenderAssignments: args.honourExtenderAssignments,
      }, { parent: this });
    }
    this.summary = { target: args.target, namespace, pools: args.pools.map((p) => p.poolName) };
    this.registerOutputs({ ...this.summary });
  }
}
