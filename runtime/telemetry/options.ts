/**
 * Flags shared by `gpk telemetry` and the in-cluster entry (runtime/telemetry/main.ts):
 *   --port <n>            listen port (GPK_TELEMETRY_PORT; default 9400, dcgm-exporter's)
 *   --host <addr>         listen address (default 0.0.0.0)
 *   --source sim|nvidia-smi   (GPK_TELEMETRY_SOURCE; default sim)
 *   --hostname <name>     Hostname label (NODE_NAME; else for sim GPK_SIM_NODE or gpk-sim-node, for nvidia-smi the host name)
 *   --nvidia-smi <path>   the tool to run for --source nvidia-smi (default: nvidia-smi on PATH)
 *   --state-file <file>   sim: own the node, resume from and keep writing its state here (GPK_SIM_STATE_FILE),
 *                         for containers' `nvidia-smi` (GPK_SIM_STATE=<file>)
 *   --follow-state <file> sim: read a node another process owns from its state file on every scrape
 *                         (GPK_SIM_STATE; on kind the device plugin owns the node)
 * The simulated node itself comes from GPK_SIM_GPUS / GPK_SIM_PRODUCT (default: 8 H100s).
 */
import { existsSync } from "node:fs";
import { hostname as osHostname } from "node:os";
import { FlagError, numberValue, parseFlagArgs, pathProblem, writablePathProblem } from "../flags";
import { SimNode } from "../gpu-sim/node";
import { nodeOptionsFromEnv, readNodeState, SimConfigError } from "../gpu-sim/state";
import type { ExporterOptions } from "./server";
import type { TelemetrySource } from "./sample";
import { FollowedSimSource, NvidiaSmiSource, SimSource } from "./sources";

export class TelemetryConfigError extends Error {
  override readonly name = "TelemetryConfigError";
}

export interface TelemetryConfig {
  port: number;
  host: string;
  source: "sim" | "nvidia-smi";
  hostname: string;
  nvidiaSmi?: string;
  stateFile?: string;
  followState?: string;
}

/** The flags; a bad one is a FlagError naming it, or the GPK_* variable its value came from. */
export function parseTelemetryArgs(argv: string[], env: NodeJS.ProcessEnv): TelemetryConfig {
  const { values, label } = parseFlagArgs(argv, {
    port: { type: "string", env: "GPK_TELEMETRY_PORT", default: "9400" },
    host: { type: "string", default: "0.0.0.0" },
    source: { type: "string", env: "GPK_TELEMETRY_SOURCE", default: "sim" },
    hostname: { type: "string" },
    "nvidia-smi": { type: "string" },
    "state-file": { type: "string", env: "GPK_SIM_STATE_FILE" },
    "follow-state": { type: "string", env: "GPK_SIM_STATE" },
  }, { allowPositionals: false, env });
  const port = numberValue(label("port"), values.port, { min: 0, max: 65535, integer: true });
  const source = values.source;
  if (source !== "sim" && source !== "nvidia-smi") throw new FlagError(label("source"), `${label("source")}: expected sim or nvidia-smi, got ${JSON.stringify(source)}`);
  // Paths: a tool to run, a state file this process writes, one another process owns (which may
  // not exist yet: the exporter reports gpk_telemetry_source_up 0 until it does).
  const problem = (values["nvidia-smi"]?.includes("/") ? pathProblem("--nvidia-smi", values["nvidia-smi"], "file") : undefined)
    ?? (values["state-file"] === undefined ? undefined : writablePathProblem(label("state-file"), values["state-file"], "file"))
    ?? (values["follow-state"] === undefined ? undefined : writablePathProblem(label("follow-state"), values["follow-state"], "file"));
  if (problem) throw new TelemetryConfigError(problem);
  return {
    port, source, host: values.host,
    // A simulated node defaults to the name `gpk sim nvidia-smi` uses, so both show the same UUIDs.
    hostname: values.hostname ?? env.NODE_NAME ?? (source === "sim" ? env.GPK_SIM_NODE ?? "gpk-sim-node" : osHostname()),
    nvidiaSmi: values["nvidia-smi"],
    stateFile: values["state-file"],
    followState: values["follow-state"],
  };
}

/** Builds the source; a bad simulation environment is a TelemetryConfigError naming the variable. */
export function buildSource(config: TelemetryConfig, env: NodeJS.ProcessEnv): TelemetrySource {
  if (config.source === "nvidia-smi") return new NvidiaSmiSource({ binary: config.nvidiaSmi });
  if (config.followState) {
    if (config.stateFile) throw new TelemetryConfigError("--state-file and --follow-state exclude each other: a node has one owner");
    return new FollowedSimSource(config.followState);
  }
  try {
    const node = config.stateFile && existsSync(config.stateFile)
      ? readNodeState(config.stateFile)
      : new SimNode({ ...nodeOptionsFromEnv(env), hostname: config.hostname });
    return new SimSource(node, { stateFile: config.stateFile });
  } catch (err) {
    if (err instanceof SimConfigError || err instanceof RangeError) throw new TelemetryConfigError(err.message);
    throw err;
  }
}

export function exporterOptions(config: TelemetryConfig, source: TelemetrySource): ExporterOptions {
  return { source, hostname: config.hostname, port: config.port, host: config.host };
}
