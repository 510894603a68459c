/**
 * Wires a configured plugin together: the GPU backend for this node, the gRPC server, and (when
 * a tools directory is configured) what Allocate mounts into containers.
 */
import { type DevicePluginConfig } from "./config";
import { evenlySpreadGpus, InMemoryGpus, type ResourceManager } from "./resource-manager";
import { DevicePluginServer } from "./server";

export interface Daemon {
  server: DevicePluginServer;
  resources: ResourceManager;
  stop(): Promise<void>;
}

export async function startDaemon(config: DevicePluginConfig, log: (message: string) => void): Promise<Daemon> {
  const resources = new InMemoryGpus(evenlySpreadGpus(config.nodeName, config.count, config.numaNodes));
  const server = new DevicePluginServer({
    resources,
    pluginDir: config.pluginDir,
    socketName: config.socketName,
    replicas: config.replicas,
    containerTools: { toolsHostDir: config.toolsDir || undefined },
    pollIntervalMs: config.pollIntervalMs,
    log,
  });
  await server.start();
  log(
    `device-plugin: serving ${config.count}x ${config.product} (${config.replicas} replica(s) each) on ${server.socketPath}`,
  );
  return { server, resources, stop: () => server.stop() };
}
