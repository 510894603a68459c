/**
 * In-cluster entry of the DCGM-compatible exporter (`node /opt/gpk/telemetry.js [flags]`).
 * Flags and environment: see options.ts. Exits 2 on bad configuration, serves until SIGTERM.
 */
import { FlagError } from "../flags";
import { buildSource, exporterOptions, parseTelemetryArgs, TelemetryConfigError } from "./options";
import { startExporter } from "./server";

async function main(): Promise<void> {
  let config;
  let source;
  try {
    config = parseTelemetryArgs(process.argv.slice(2), process.env);
    source = buildSource(config, process.env);
  } catch (err) {
    if (err instanceof TelemetryConfigError || err instanceof FlagError) {
      process.stderr.write(`telemetry: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const running = await startExporter(exporterOptions(config, source));
  process.stderr.write(`telemetry: serving DCGM metrics from ${source.name} for ${config.hostname} on :${running.port}/metrics\n`);
  const stop = () => void running.close().then(() => process.exit(0));
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`telemetry: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
