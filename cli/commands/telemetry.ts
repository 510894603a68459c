/**
 * `gpk telemetry [--port 9400] [--source sim|nvidia-smi]`: the DCGM-compatible Prometheus exporter,
 * the same server the kind stack runs in-cluster (runtime/telemetry/main.ts).
 */
import { UsageError, printJson, progress, type Command } from "../contract";
import { helpShape } from "../json-shapes";
import { buildSource, exporterOptions, parseTelemetryArgs, TelemetryConfigError } from "../../runtime/telemetry/options";
import { startExporter } from "../../runtime/telemetry/server";

const usage = `Usage: gpk telemetry [--port 9400] [--source sim|nvidia-smi] [--host 0.0.0.0] [--hostname <name>]
                     [--nvidia-smi <path>] [--state-file <file> | --follow-state <file>]

Serves DCGM exporter metrics (DCGM_FI_DEV_GPU_TEMP, _POWER_USAGE, _SM_CLOCK, _CLOCKS_EVENT_REASONS,
_POWER_VIOLATION, _THERMAL_VIOLATION, ...) with labels gpu, UUID, pci_bus_id, device, modelName, Hostname
on GET /metrics.

  --source sim          a simulated node advancing in real time (default; 8 H100s, or GPK_SIM_GPUS /
                        GPK_SIM_PRODUCT); drive it with POST /sim/workload, /sim/cooling, /sim/xid, /sim/reset
  --source nvidia-smi   runs the real nvidia-smi -q -x on every scrape
  --state-file <file>   sim: keep the node state in this file, so GPK_SIM_STATE=<file> gpk sim nvidia-smi
                        shows the same GPUs
  --follow-state <file> sim: export a node another process owns (the device plugin's state file; GPK_SIM_STATE)
  --json                once listening, print ${helpShape("telemetry", "telemetry", 24)}
An unreadable source exports gpk_telemetry_source_up 0 and gpk_telemetry_source_last_error; the server keeps running.

Exit codes: 2 bad flags; otherwise runs until interrupted (0).
`;

export const command: Command = {
  usage,
  async run(argv) {
    const json = argv.includes("--json");
    let config;
    let source;
    try {
      config = parseTelemetryArgs(argv.filter((a) => a !== "--json"), process.env);
      source = buildSource(config, process.env);
    } catch (err) {
      if (err instanceof TelemetryConfigError) throw new UsageError(err.message);
      throw err;
    }
    let running;
    try {
      running = await startExporter(exporterOptions(config, source));
    } catch (err) {
      throw new UsageError(`cannot listen on ${config.host}:${config.port}: ${(err as Error).message}`);
    }
    progress(`gpk telemetry: DCGM metrics from ${source.name} for ${config.hostname} on http://${config.host}:${running.port}/metrics`);
    if (json) printJson({ url: `http://${config.host}:${running.port}/metrics`, source: source.name, hostname: config.hostname });
    await new Promise<void>((resolve) => {
      const stop = () => void running.close().then(resolve);
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });
    return 0;
  },
};
