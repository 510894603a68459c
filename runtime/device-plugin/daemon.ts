/**
 * Wires a configured plugin together: the node's simulated GPUs (gpu-sim), the gRPC server, and
 * — when a tools directory is configured — the state file that the simulated nvidia-smi in
 * allocated containers reads.
 *
 * The plugin owns the node's GPU model: it steps it in real time every `tickMs` so thermal
 * state evolves and a thermal shutdown or recovery reaches kubelet as a health change.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { SimNode, writeNodeState } from "../gpu-sim";
import type { KubeConnection } from "../scheduler-extender/kube";
import { AssignmentHintSource } from "./assignment-hints";
import { type DevicePluginConfig } from "./config";
import { SIM_STATE_FILE } from "./container-spec";
import { installNvidiaSmi } from "./nvidia-smi";
import { DevicePluginServer } from "./server";
import { SimNodeGpus, SimNodeMigDevices } from "./sim-backend";
import type { ResourceManager } from "./resource-manager";
import { GPU_RESOURCE } from "../../gpu";
import { migResourceName } from "../../gpu/mig";

export interface Daemon {
  /** The first (on a whole-GPU node the only) plugin server. */
  server: DevicePluginServer;
  /** One server per advertised resource: `nvidia.com/gpu`, or each MIG profile's under `mixed`. */
  servers: DevicePluginServer[];
  node: SimNode;
  /** The scheduler-assignment hint source, when one was configured. */
  assignments?: AssignmentHintSource;
  stop(): Promise<void>;
}

export interface DaemonOptions {
  /**
   * API server to read the scheduler extender's GPU assignments from (config.honourAssignments);
   * main.ts passes the pod's in-cluster credentials. Undefined: NUMA rule only.
   */
  assignmentsFrom?: KubeConnection;
  /** Relist backoff of the pods watch (default: capped exponential from 500 ms). */
  assignmentsBackoffMs?: (attempt: number) => number;
}

/**
 * What the node advertises, as NVIDIA's plugin does per MIG strategy: whole GPUs as
 * `nvidia.com/gpu`; under `single` every MIG device as `nvidia.com/gpu`; under `mixed` one
 * resource (and one socket) per profile, `nvidia.com/mig-<profile>`.
 */
export function advertisedResources(config: DevicePluginConfig, node: SimNode): { resourceName: string; socketName: string; resources: ResourceManager }[] {
  if (!config.mig) return [{ resourceName: GPU_RESOURCE, socketName: config.socketName, resources: new SimNodeGpus(node) }];
  if (config.mig.strategy === "single") return [{ resourceName: GPU_RESOURCE, socketName: config.socketName, resources: new SimNodeMigDevices(node) }];
  return Object.keys(config.mig.layout).sort().map((profile) => ({
    resourceName: migResourceName(profile),
    socketName: config.socketName.replace(/\.sock$/, "") + `-mig-${profile}.sock`,
    resources: new SimNodeMigDevices(node, profile),
  }));
}

export async function startDaemon(
  config: DevicePluginConfig,
  log: (message: string) => void,
  now: () => number = () => performance.now(),
  options: DaemonOptions = {},
): Promise<Daemon> {
  const node = new SimNode({ hostname: config.nodeName, product: config.product, count: config.count, numaNodes: config.numaNodes, ...(config.mig ? { mig: config.mig.layout } : {}) });
  const statePath = config.toolsDir ? path.join(config.toolsDir, SIM_STATE_FILE) : undefined;
  const writeState = () => {
    if (!statePath) return;
    try {
      writeNodeState(statePath, node);
    } catch (err) {
      log(`device-plugin: cannot write ${statePath}: ${(err as Error).message}`);
    }
  };
  if (config.toolsDir) {
    fs.mkdirSync(config.toolsDir, { recursive: true });
    const installed = installNvidiaSmi(config.toolsDir, process.argv[1]);
    if (installed) log(`device-plugin: installed the simulated nvidia-smi as ${installed}`);
  }
  writeState();

  const assignments = options.assignmentsFrom
    ? new AssignmentHintSource(options.assignmentsFrom, config.nodeName, log, options.assignmentsBackoffMs)
    : undefined;
  assignments?.start();

  const advertised = advertisedResources(config, node);
  const servers = advertised.map(({ resourceName, socketName, resources }) => new DevicePluginServer({
    resources,
    resourceName,
    pluginDir: config.pluginDir,
    socketName,
    replicas: config.replicas,
    containerTools: { toolsHostDir: config.toolsDir || undefined },
    pollIntervalMs: config.pollIntervalMs,
    hints: assignments?.hints,
    log,
  }));
  for (const server of servers) await server.start();

  let last = now();
  const ticker = setInterval(() => {
    const t = now();
    node.step(Math.max(0, (t - last) / 1000));
    last = t;
    writeState();
  }, config.tickMs);
  ticker.unref();

  for (const [i, server] of servers.entries()) {
    const uuids = server.deviceList().devices.map((d) => d.ID).join(" ");
    log(`device-plugin: serving ${advertised[i]!.resourceName} from ${config.count}x ${config.product}, ${config.replicas} replica(s) each, on ${server.socketPath}: ${uuids}`);
  }
  if (assignments) log(`device-plugin: following the scheduler extender's GPU assignments for pods on ${config.nodeName}`);
  return {
    server: servers[0]!,
    servers,
    node,
    assignments,
    stop: async () => {
      clearInterval(ticker);
      assignments?.stop();
      for (const server of servers) await server.stop();
    },
  };
}
