/**
 * `gpk` entry point: one registry table from command name to its module, loaded lazily
 * so `gpk simulate` does not pay for loading Pulumi.
 */
import { ExitCode, FlagError, UsageError, type Command } from "./contract";
import { closest } from "../runtime/flags";

interface CommandEntry {
  summary: string;
  load: () => Command;
}

/** Commands load on demand (synchronous require: tsx compiles TypeScript on require). */
function commandModule(name: string): Command {
  return (require(`./commands/${name}`) as { command: Command }).command;
}

export const COMMANDS: Record<string, CommandEntry> = {
  preview: {
    summary: "Render a stack under Pulumi's mock runtime, validate every object and print the resource tree",
    load: () => commandModule("preview"),
  },
  check: {
    summary: "Run the policy packs (gpu-capacity, thermal, tenancy) over a stack through the Pulumi analyzer protocol",
    load: () => commandModule("check"),
  },
  local: {
    summary: "A local cluster for a kind stack (kind, or the upstream binaries as processes) and pulumi up of the stack on it: gpk local up|preview|destroy|down",
    load: () => commandModule("local"),
  },
  tools: {
    summary: "Build or locate the pinned upstream tools of the binaries runtime (kube-apiserver, kine, kwok, pulumi, …) from their Go modules",
    load: () => commandModule("tools"),
  },
  simulate: {
    summary: "Replay an openb task trace against a node list with a placement policy (FGD baselines, gpk) and report GPU allocation",
    load: () => commandModule("simulate"),
  },
  extender: {
    summary: "kube-scheduler extender server (filter, prioritize, bind) on a placement policy; state from --snapshot, --kubeconfig or --in-cluster",
    load: () => commandModule("extender"),
  },
  serve: {
    summary: "Serve the OpenAI API from the vLLM-style engine on a simulated GPU (paged KV cache, continuous batching, 429 load shedding)",
    load: () => commandModule("serve"),
  },
  telemetry: {
    summary: "DCGM-compatible Prometheus exporter (--source sim|nvidia-smi, --port 9400)",
    load: () => commandModule("telemetry"),
  },
  checkpoints: {
    summary: "List, verify and restore tenant checkpoints in any S3-compatible store (manifest convention, object versions)",
    load: () => commandModule("checkpoints"),
  },
  diagnose: {
    summary: "Read a live cluster once: GPUs per pool (allocated, idle, fragmented, CPU-stranded), why each pending GPU pod waits, hot GPUs",
    load: () => commandModule("diagnose"),
  },
  defrag: {
    summary: "Plan GPU migrations on a live cluster (fragmented pending pods, hot nodes) and --apply them through the Eviction API",
    load: () => commandModule("defrag"),
  },
  plan: {
    summary: "Size serving from traffic and SLOs: gpk plan serving ranks GPU, instance type, TP and engine settings by cost (threads or Ray)",
    load: () => commandModule("plan"),
  },
  ray: {
    summary: "Ray on the stack's RayCluster: gpk ray start-args <stack> prints the ray start arguments and env KubeRay derives",
    load: () => commandModule("ray"),
  },
  sim: {
    summary: "Simulated GPU tools: gpk sim nvidia-smi <args> (table, -L, --query-gpu CSV, -q -x) on a modelled node",
    load: () => commandModule("sim"),
  },
  version: {
    summary: "Print the kit's version (also gpk --version)",
    load: () => commandModule("version"),
  },
};

function topLevelUsage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return [
    "gpk — gpu-platform-kit command line",
    "",
    "Usage: gpk <command> [flags]   (gpk <command> --help for a command's flags; gpk --version)",
    "",
    "Commands:",
    ...lines,
    "",
    "Exit codes: 0 success, 1 finding (schema error, mandatory policy violation), 2 bad usage or input.",
  ].join("\n");
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    // Bad usage: one line on stderr, like every other exit 2.
    process.stderr.write(`gpk: expected a command (gpk --help describes them): ${Object.keys(COMMANDS).join(", ")}\n`);
    return ExitCode.Usage;
  }
  if (name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(`${topLevelUsage()}\n`);
    return ExitCode.Ok;
  }
  if (name === "--version") return main(["version", ...rest]);
  const entry = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!entry) {
    if (name.startsWith("-")) {
      process.stderr.write(`gpk: unknown flag ${name} before a command; see \`gpk --help\`\n`);
      return ExitCode.Usage;
    }
    const guess = closest(name, Object.keys(COMMANDS));
    process.stderr.write(`gpk: unknown command ${JSON.stringify(name)}${guess ? ` (did you mean ${guess}?)` : ""}; commands: ${Object.keys(COMMANDS).join(", ")}\n`);
    return ExitCode.Usage;
  }
  const command = entry.load();
  if (rest.includes("--help") || rest.includes("-h")) {
    process.stdout.write(`${command.usage.trimEnd()}\n`);
    return ExitCode.Ok;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    if (err instanceof FlagError) {
      // A flag error points at the command's flags, where the right spelling or value is.
      process.stderr.write(`gpk ${name}: ${err.message}; see \`gpk ${name} --help\`\n`);
      return ExitCode.Usage;
    }
    if (err instanceof UsageError) {
      process.stderr.write(`gpk ${name}: ${err.message}\n`);
      return ExitCode.Usage;
    }
    throw err;
  }
}

/** Runs `gpk` with the process arguments and sets the exit code (called by bin/gpk.js). */
export function runCli(): void {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      const message = err instanceof Error ? err.message : String(err);
      process.stderr.write(`gpk: internal error: ${message}\n`);
      if (process.env.GPK_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
      process.exitCode = ExitCode.Finding;
    },
  );
}
