/**
 * `gpk sim nvidia-smi <nvidia-smi args>`: the simulated nvidia-smi on a simulated node.
 * Output and exit codes are nvidia-smi's (2 invalid argument, 6 no devices), so scripts written
 * for the real tool behave the same; `--sim-*` flags shape the simulated node first.
 */
import { FlagError, UsageError, numberFlag, printJson, type Command } from "../contract";
import { helpShape } from "../json-shapes";
import { closest } from "../../runtime/flags";
import { SimNode, SimConfigError, nodeFromEnv, parseProduct, readNodeState } from "../../runtime/gpu-sim";
import { runNvidiaSmi } from "../../runtime/gpu-sim/smi/run";
import { parseMigLayout, type MigSpec } from "../../gpu/mig";

const usage = `Usage: gpk sim nvidia-smi [--sim-* flags] [nvidia-smi flags]

The simulated nvidia-smi. With no flags: one node of 8 H100s at idle.

nvidia-smi flags: (none) summary table, -L, --query-gpu=<fields> --format=csv[,noheader][,nounits],
  --query-compute-apps=<fields> --format=csv, -q -x, -i <index|uuid|bus id>[,...].

Simulation flags (also from the environment):
  --sim-gpus <n>        GPUs on the node (GPK_SIM_GPUS; default 8)
  --sim-product <id>    h100 | a100 | l40s | a10g | l4 (GPK_SIM_PRODUCT; default h100)
  --sim-node <name>     node name, seeds the UUIDs (GPK_SIM_NODE; default gpk-sim-node)
  --sim-mig <layout>    MIG on every GPU (h100, a100): all-<profile>, e.g. all-1g.10gb, or
                        <profile>=<count>,... e.g. 3g.40gb=1,2g.20gb=1,1g.10gb=2 (GPK_SIM_MIG)
  --sim-state <file>    read the node from a state file written by gpk telemetry (GPK_SIM_STATE)
  --sim-load <0-100>    run every GPU at this utilization before printing
  --sim-airflow <0-1>   fraction of nominal airflow (cooling failure below 1)
  --sim-seconds <s>     simulated seconds to run before printing (default 120 with --sim-load)
  --json                print the model's readings instead of nvidia-smi output:
                        ${helpShape("sim", "nvidia-smi", 24)}
NVIDIA_VISIBLE_DEVICES filters and renumbers GPUs as in a container.

Exit codes: nvidia-smi's own (0 ok, 2 invalid argument, 6 no devices); 2 for a bad --sim-* flag.
`;

const SIM_FLAGS = ["--sim-gpus", "--sim-product", "--sim-node", "--sim-mig", "--sim-state", "--sim-load", "--sim-airflow", "--sim-seconds"];

/** Splits `--sim-x v` / `--sim-x=v` and `--json` off the argument list; the rest goes to nvidia-smi. */
function splitArgs(argv: string[]): { sim: Record<string, string>; json: boolean; rest: string[] } {
  const sim: Record<string, string> = {};
  const rest: string[] = [];
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--json") { json = true; continue; }
    const [flag, inline] = arg.includes("=") ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)] : [arg, undefined];
    if (!flag.startsWith("--sim-")) { rest.push(arg); continue; }
    if (!SIM_FLAGS.includes(flag)) {
      const guess = closest(flag.slice(2), SIM_FLAGS.map((f) => f.slice(2)));
      throw new FlagError(flag, `unknown flag ${flag} (${guess ? `did you mean --${guess}?` : `simulation flags: ${SIM_FLAGS.join(", ")}`})`);
    }
    const value = inline ?? argv[++i];
    if (value === undefined || (inline === undefined && value.startsWith("-") && !/^-[\d.]/.test(value))) throw new FlagError(flag, `${flag}: missing value`);
    sim[flag.slice(2)] = value;
  }
  return { sim, json, rest };
}

/** A MIG layout flag; the node checks its profiles against its product. */
function migFlag(flag: string, raw: string): MigSpec["profile"] {
  const layout = parseMigLayout(raw);
  if (typeof layout === "object" && "problem" in layout) throw new UsageError(`${flag}: ${layout.problem}`);
  return layout as MigSpec["profile"];
}

function buildNode(sim: Record<string, string>): SimNode {
  const env = process.env;
  let node: SimNode;
  if (sim["sim-state"]) node = readNodeState(sim["sim-state"], "--sim-state");
  else {
    const overrides: ConstructorParameters<typeof SimNode>[0] = {};
    if (sim["sim-gpus"] !== undefined) overrides.count = numberFlag("sim-gpus", sim["sim-gpus"], 8, { min: 1, max: 64, integer: true });
    if (sim["sim-product"] !== undefined) overrides.product = parseProduct(sim["sim-product"], "--sim-product");
    if (sim["sim-node"] !== undefined) overrides.hostname = sim["sim-node"];
    if (sim["sim-mig"] !== undefined) overrides.mig = migFlag("--sim-mig", sim["sim-mig"]);
    node = nodeFromEnv(env, overrides);
  }
  const airflow = sim["sim-airflow"];
  if (airflow !== undefined) {
    const value = numberFlag("sim-airflow", airflow, 1, { min: 0.01, max: 1 });
    node.devices.forEach((d) => d.setCooling({ airflow: value }));
  }
  const load = sim["sim-load"];
  if (load !== undefined) {
    const utilization = numberFlag("sim-load", load, 0, { min: 0, max: 100 });
    node.devices.forEach((d) => d.setWorkload({ utilization, fbUsedMiB: utilization > 0 ? Math.round(d.profile.memoryMiB * 0.8) : 0 }));
  }
  const seconds = numberFlag("sim-seconds", sim["sim-seconds"], load !== undefined || airflow !== undefined ? 120 : 0, { min: 0, max: 86_400 });
  node.step(seconds);
  return node;
}

export const command: Command = {
  usage,
  async run(argv) {
    const [tool, ...args] = argv;
    if (tool !== "nvidia-smi") throw new UsageError(`expected a tool to simulate: gpk sim nvidia-smi ...; got ${JSON.stringify(tool ?? "")}`);
    const { sim, json, rest } = splitArgs(args);
    let node: SimNode;
    try {
      node = buildNode(sim);
    } catch (err) {
      if (err instanceof SimConfigError || err instanceof RangeError) throw new UsageError(err.message);
      throw err;
    }
    if (json) {
      printJson({ hostname: node.hostname, product: node.product, timeS: node.timeS, gpus: node.devices.map((d) => d.readings()) });
      return 0;
    }
    let result;
    try {
      result = runNvidiaSmi(rest, { node, visibleDevices: process.env.NVIDIA_VISIBLE_DEVICES, now: new Date() });
    } catch (err) {
      if (err instanceof SimConfigError) throw new UsageError(err.message);
      throw err;
    }
    process.stdout.write(result.stdout);
    process.stderr.write(result.stderr);
    return result.exitCode;
  },
};
