/**
 * The device plugin's settings from its environment (the DaemonSet sets these; every one has a
 * default that matches a kind GPU node of 8 simulated H100s). Bad values fail at start with
 * the variable named.
 */
import * as os from "node:os";
import { GPU_PRODUCT_IDS, type GpuProduct } from "../../gpu";
import { migDevicesPerGpu, parseMigLayout, type MigSpec, type MigStrategy } from "../../gpu/mig";
import { DEFAULT_DEVICE_PLUGIN_DIR } from "./proto";
import { DEFAULT_SOCKET_NAME } from "./server";

export const ENV = {
  nodeName: "GPK_NODE_NAME",
  product: "GPK_GPU_PRODUCT",
  count: "GPK_GPU_COUNT",
  numaNodes: "GPK_GPU_NUMA_NODES",
  replicas: "GPK_TIME_SLICING_REPLICAS",
  pluginDir: "GPK_DEVICE_PLUGIN_DIR",
  socketName: "GPK_DEVICE_PLUGIN_SOCKET",
  toolsDir: "GPK_GPU_SIM_TOOLS_DIR",
  pollMs: "GPK_DEVICE_PLUGIN_POLL_MS",
  tickMs: "GPK_GPU_SIM_TICK_MS",
  assignments: "GPK_DEVICE_PLUGIN_ASSIGNMENTS",
  /** MIG layout of every GPU (`all-1g.10gb`, or `3g.40gb=1,1g.10gb=4`); unset: whole GPUs. */
  mig: "GPK_GPU_MIG",
  /** `mixed` (default with a layout): one resource per profile; `single`: MIG devices as nvidia.com/gpu. */
  migStrategy: "GPK_GPU_MIG_STRATEGY",
} as const;

export interface DevicePluginConfig {
  /** Node name (downward API `spec.nodeName`); seeds the GPU UUIDs so they are stable per node. */
  nodeName: string;
  product: GpuProduct;
  count: number;
  /** NUMA nodes the GPUs split across; undefined leaves gpu-sim's default (2 for 4+ GPUs). */
  numaNodes: number | undefined;
  replicas: number;
  pluginDir: string;
  socketName: string;
  /**
   * Host directory (a hostPath the DaemonSet mounts read-write at the same path) where the plugin
   * installs the simulated nvidia-smi and its GPU state, and which Allocate mounts into
   * containers. "" (the default) mounts nothing: a mount of a host path that does not exist
   * would fail container creation.
   */
  toolsDir: string;
  pollIntervalMs: number;
  /** Real-time period of stepping the GPU model (and rewriting the state file). */
  tickMs: number;
  /**
   * Prefer the GPUs the gpk scheduler extender assigned (assignment-hints.ts); needs in-cluster
   * credentials that may get/list/watch pods. `1` enables, unset or `0` disables.
   */
  honourAssignments: boolean;
  /** MIG layout and strategy, when the node's GPUs are partitioned. */
  mig?: { strategy: MigStrategy; layout: Record<string, number> };
}

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

export function parseDevicePluginEnv(env: NodeJS.ProcessEnv): DevicePluginConfig {
  const product = (env[ENV.product] ?? "h100").toLowerCase();
  if (!(GPU_PRODUCT_IDS as string[]).includes(product)) {
    throw new ConfigError(`${ENV.product}: expected one of ${GPU_PRODUCT_IDS.join(", ")}, got ${JSON.stringify(env[ENV.product])}`);
  }
  const count = integer(env, ENV.count, 8, 1, 64);
  const numaNodes = env[ENV.numaNodes] ? integer(env, ENV.numaNodes, 1, 1, count) : undefined;
  const socketName = env[ENV.socketName] ?? DEFAULT_SOCKET_NAME;
  if (socketName === "" || socketName.includes("/")) {
    throw new ConfigError(`${ENV.socketName}: expected a file name, got ${JSON.stringify(socketName)}`);
  }
  return {
    nodeName: env[ENV.nodeName] || env.NODE_NAME || os.hostname(),
    product: product as GpuProduct,
    count,
    numaNodes,
    replicas: integer(env, ENV.replicas, 1, 1, 64),
    pluginDir: env[ENV.pluginDir] || DEFAULT_DEVICE_PLUGIN_DIR,
    socketName,
    toolsDir: env[ENV.toolsDir] ?? "",
    pollIntervalMs: integer(env, ENV.pollMs, 1000, 10, 60_000),
    tickMs: integer(env, ENV.tickMs, 1000, 10, 60_000),
    honourAssignments: integer(env, ENV.assignments, 0, 0, 1) === 1,
    ...migFromEnv(env, product as GpuProduct),
  };
}

/** The MIG settings: a layout that fits the product, and a strategy it allows (`single`: one profile). */
function migFromEnv(env: NodeJS.ProcessEnv, product: GpuProduct): Pick<DevicePluginConfig, "mig"> {
  const raw = env[ENV.mig];
  if (raw === undefined || raw === "") return {};
  const parsed = parseMigLayout(raw);
  if (typeof parsed === "object" && "problem" in parsed && typeof parsed.problem === "string") throw new ConfigError(`${ENV.mig}: ${parsed.problem}`);
  const layout = migDevicesPerGpu(product, parsed as MigSpec["profile"]);
  if ("problem" in layout) throw new ConfigError(`${ENV.mig}: ${layout.problem}`);
  const strategy = env[ENV.migStrategy] || "mixed";
  if (strategy !== "mixed" && strategy !== "single") throw new ConfigError(`${ENV.migStrategy}: expected "mixed" or "single", got ${JSON.stringify(strategy)}`);
  if (strategy === "single" && Object.keys(layout.devices).length > 1) {
    throw new ConfigError(`${ENV.migStrategy}: "single" needs one MIG profile on every GPU, got ${Object.keys(layout.devices).join(" + ")}`);
  }
  return { mig: { strategy, layout: layout.devices } };
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name}: expected an integer between ${min} and ${max}, got ${JSON.stringify(raw)}`);
  }
  return value;
}
