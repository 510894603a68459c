/**
 * `gpk simulate --nodes <csv> --pods <csv> --policy <name> [--seed 42] [--arrival 1.3] [--json]`:
 * replays an openb-style task list against a node list with one placement policy, following
 * the FGD artifact's protocol (runtime/cluster-sim), and reports the GPU allocation ratio at
 * every whole percent of arrived GPU request.
 */
import { readFileSync } from "node:fs";
import { CsvError, parseNodes, parsePods } from "../../runtime/cluster-sim/csv";
import { simulate } from "../../runtime/cluster-sim/simulate";
import { POLICIES, POLICY_NAMES, isPolicyName } from "../../runtime/scheduling/registry";
import { ExitCode, UsageError, numberFlag, parseFlags, printJson, progress, type Command } from "../contract";

const usage = `Usage: gpk simulate --nodes <csv> --pods <csv> --policy <name> [--seed 42] [--arrival 1.3] [--json]

Replays a task list (openb pod CSV) on a cluster (openb node CSV): the list is shuffled
and inflated by seeded sampling until the arrived GPU request reaches --arrival x capacity,
then every task is placed in turn with the policy (no departures; a task that fits nowhere
fails). Prints the allocated share of GPUs at each whole percent of arrived GPU request.

  --nodes <csv>     node list: sn,cpu_milli,memory_mib,gpu,model
  --pods <csv>      task list: name,cpu_milli,memory_mib,num_gpu,gpu_milli[,gpu_spec]
  --policy <name>   ${POLICY_NAMES.join(", ")}
  --seed <n>        seed of sampling, shuffling and tie-breaks (default 42)
  --arrival <x>     arrived GPU request as a multiple of capacity (default 1.3)
  --json            print {"policy","seed","nodes","totalGpus","pods","failedPods",
                    "allocation","fragmentationRate","wallSeconds"} on stdout

Policies:
${POLICY_NAMES.map((n) => `  ${n.padEnd(15)} ${POLICIES[n].summary}`).join("\n")}

Exit: 0 done, 2 bad flags or a bad CSV row (file:line:column named).`;

function readCsv(flag: string, path: string | undefined): { path: string; text: string } {
  if (!path) throw new UsageError(`--${flag} <csv> is required`);
  try {
    return { path, text: readFileSync(path, "utf8") };
  } catch (err) {
    throw new UsageError(`--${flag}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

export const command: Command = {
  usage,
  async run(argv) {
    const { values, positionals } = parseFlags(
      argv,
      {
        nodes: { type: "string" },
        pods: { type: "string" },
        policy: { type: "string" },
        seed: { type: "string" },
        arrival: { type: "string" },
        json: { type: "boolean", default: false },
      },
      false,
    );
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    const policy = values.policy;
    if (!policy) throw new UsageError(`--policy is required; valid policies: ${POLICY_NAMES.join(", ")}`);
    if (!isPolicyName(policy)) {
      throw new UsageError(`--policy: unknown policy ${JSON.stringify(policy)}; valid policies: ${POLICY_NAMES.join(", ")}`);
    }
    const seed = numberFlag("seed", values.seed, 42, { min: 0, max: 2 ** 32 - 1, integer: true });
    const arrival = numberFlag("arrival", values.arrival, 1.3, { min: 0.01, max: 10 });
    const nodesCsv = readCsv("nodes", values.nodes);
    const podsCsv = readCsv("pods", values.pods);
    let nodes;
    let pods;
    try {
      nodes = parseNodes(nodesCsv.path, nodesCsv.text);
      pods = parsePods(podsCsv.path, podsCsv.text);
    } catch (err) {
      if (err instanceof CsvError) throw new UsageError(err.message);
      throw err;
    }
    if (!nodes.some((n) => n.gpus.length > 0)) throw new UsageError(`--nodes: ${nodesCsv.path} has no GPU nodes`);
    if (pods.length === 0) throw new UsageError(`--pods: ${podsCsv.path} has no tasks`);

    progress(`simulate: ${nodes.length} nodes, ${pods.length} tasks, policy ${policy}, seed ${seed}, arrival ${arrival}`);
    const result = simulate({
      nodes,
      pods,
      policy,
      seed,
      arrival,
      onProgress: (done, total) => progress(`simulate: ${done}/${total} tasks placed`),
    });
    progress(`simulate: done in ${result.wallSeconds.toFixed(2)} s wall`);
    if (values.json) {
      printJson(result);
    } else {
      const points = ["50", "80", "100", String(Math.round(arrival * 100))].filter((k) => k in result.allocation);
      process.stdout.write(
        [
          `policy ${result.policy}, seed ${result.seed}: ${result.nodes} nodes, ${result.totalGpus} GPUs, ${result.pods} tasks, ${result.failedPods} failed`,
          ...[...new Set(points)].map(
            (k) => `  arrived ${k.padStart(3)}%  allocated ${result.allocation[k]!.toFixed(2)}%  fragmentation ${result.fragmentationRate[k]!.toFixed(2)}%`,
          ),
          `  wall time ${result.wallSeconds.toFixed(2)} s`,
        ].join("\n") + "\n",
      );
    }
    return ExitCode.Ok;
  },
};
