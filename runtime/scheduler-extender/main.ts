/**
 * In-cluster entry of the scheduler extender (`node /opt/gpk/scheduler-extender.js [flags]`).
 * Flags: see options.ts (typically `--in-cluster --policy gpk --tls-cert … --tls-key … --client-ca …
 * --telemetry-pods app.kubernetes.io/name=dcgm-exporter`).
 * Exits 2 on bad configuration; serves until SIGTERM.
 */
import { FlagError } from "../flags";
import { ExtenderConfigError, parseExtenderArgs } from "./options";
import { startExtender } from "./run";
import { SnapshotError } from "./snapshot";

const log = (message: string) => process.stderr.write(`scheduler-extender: ${message}\n`);

async function main(): Promise<void> {
  let config;
  try {
    config = parseExtenderArgs(process.argv.slice(2), process.env, { allowKubeconfig: false });
  } catch (err) {
    if (err instanceof ExtenderConfigError || err instanceof FlagError) {
      log(err.message);
      process.exit(2);
    }
    throw err;
  }
  let running;
  try {
    running = await startExtender(config, { log });
  } catch (err) {
    if (err instanceof SnapshotError || err instanceof ExtenderConfigError) {
      log(err.message);
      process.exit(2);
    }
    throw err;
  }
  const health = config.tls ? `, health and metrics on http://${config.host}:${running.healthPort}` : "";
  log(`policy ${config.policy}, source ${config.source.kind}, listening on ${config.tls ? "https" : "http"}://${config.host}:${running.port}${health}`);
  void running.synced.then(() => log(`cluster state synced: ${running.cache.nodeCount} nodes`));
  const stop = () => void running.close().then(() => process.exit(0));
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}

main().catch((err: unknown) => {
  log(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
