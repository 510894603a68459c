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
import { SimNodeGpus } from "./sim-backend";

export interface Daemon {
  server: DevicePluginServer;
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

export async function startDaemon(
  config: DevicePluginConfig,
  log: (message: string) => void,
  now: () => number = () => performance.now(),
  options: DaemonOptions = {},
): Promise<Daemon> {
  const node = new SimNode({ hostname: config.nodeName, product: config.product, count: config.count, numaNodes: config.numaNodes });
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

  const server = new DevicePluginServer({
    resources: new SimNodeGpus(node),
    pluginDir: config.pluginDir,
    socketName: config.socketName,
    replicas: config.replicas,
    containerTools: { toolsHostDir: config.toolsDir || undefined },
    pollIntervalMs: config.pollIntervalMs,
    hints: assignments?.hints,
    log,
  });
  await server.start();

  let last = now();
  const ticker = setInterval(() => {
    const t = now();
    node.step(Math.max(0, (t - last) / 1000));
    last = t;
    writeState();
  }, config.tickMs);
  ticker.unref();

  const uuids = node.devices.map((d) => `${d.id.index}:${d.id.uuid}@numa${d.id.numaNode}`).join(" ");
  log(`device-plugin: serving ${config.count}x ${config.product}, ${config.replicas} replica(s) each, on ${server.socketPath}: ${uuids}`);
  if (assignments) log(`device-plugin: following the scheduler extender's GPU assignments for pods on ${config.nodeName}`);
  return {
    server,
    node,
    assignments,
    stop: async () => {
      clearInterval(ticker);
      assignments?.stop();
      await server.stop();
    },
  };
}
