/**
 * In-cluster entry of the simulated device plugin (`node /opt/gpk/device-plugin.js`): reads its
 * settings from the environment (config.ts), advertises the node's simulated GPUs to kubelet,
 * and shuts down cleanly on SIGTERM/SIGINT (removing its socket, so kubelet marks the resource
 * unavailable at once instead of waiting for the stream to break).
 *
 * Invoked as `nvidia-smi` (the copy the daemon installs for containers) it is the simulated
 * nvidia-smi instead (nvidia-smi.ts).
 */
import { ConfigError, parseDevicePluginEnv } from "./config";
import { inClusterConnection, type KubeConnection } from "../scheduler-extender/kube";
import { startDaemon } from "./daemon";
import { invokedAsNvidiaSmi, nvidiaSmiMain } from "./nvidia-smi";

async function main(): Promise<void> {
  const log = (message: string) => process.stderr.write(`${new Date().toISOString()} ${message}\n`);
  let config;
  try {
    config = parseDevicePluginEnv(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`device-plugin: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  let assignmentsFrom: KubeConnection | undefined;
  if (config.honourAssignments) {
    try {
      assignmentsFrom = inClusterConnection();
    } catch (err) {
      // Without credentials the plugin still serves; it allocates by the NUMA rule alone.
      log(`device-plugin: cannot follow scheduler assignments: ${(err as Error).message}`);
    }
  }
  const daemon = await startDaemon(config, log, undefined, { assignmentsFrom });
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`device-plugin: ${signal}, shutting down`);
    daemon.stop().then(
      () => process.exit(0),
      (err: Error) => {
        log(`device-plugin: shutdown failed: ${err.message}`);
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
}

if (invokedAsNvidiaSmi(process.argv)) {
  process.exitCode = nvidiaSmiMain(process.argv, process.env);
} else {
  main().catch((err: Error) => {
    process.stderr.write(`device-plugin: ${err.message}\n`);
    process.exit(1);
  });
}
