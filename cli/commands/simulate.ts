/**
 * `gpk simulate --nodes <csv> --pods <csv> --policy <name> [--seed 42] [--arrival 1.3] [--json]`:
 * replays an openb-style task list against a node list with one placement policy, following
 * the FGD artifact's protocol (runtime/cluster-sim), and reports the GPU allocation ratio at
 * every whole percent of arrived GPU request.
 *
 * `--mode replay` replays it with departures and a queue instead (runtime/cluster-sim/replay.ts),
 * with a defragmenter: none, the descheduler's HighNodeUtilization, or gpk's migration planner.
 */
import { CsvError, parseNodes, parsePods, parseTimedPods } from "../../runtime/cluster-sim/csv";
import { simulate } from "../../runtime/cluster-sim/simulate";
import { maxOfferedLoad } from "../../runtime/cluster-sim/arrivals";
import { DEFRAG_MODES, REPLAY_DEFAULTS, replay, type DefragMode } from "../../runtime/cluster-sim/replay";
import { POLICIES, POLICY_NAMES, isPolicyName, type PolicyName } from "../../runtime/scheduling/registry";
import { ExitCode, UsageError, numberFlag, parseFlags, printJson, progress, readFileArgument, requiredFlag, type Command } from "../contract";
import { helpShape } from "../json-shapes";

const usage = `Usage: gpk simulate --nodes <csv> --pods <csv> --policy <name> [--seed 42] [--arrival 1.3]
                    [--percentage-of-nodes-to-score 100] [--json]
       gpk simulate --mode replay --nodes <csv> --pods <csv> --policy <name> --defrag <none|high-node-utilization|gpk>
                    [--time-scale 1 | --load <fraction>] [--seed 42] [--budget 4] [--json]

Replays a task list (openb pod CSV) on a cluster (openb node CSV): the list is shuffled
and inflated by seeded sampling until the arrived GPU request reaches --arrival x capacity,
then every task is placed in turn with the policy (no departures; a task that fits nowhere
fails). Prints the allocated share of GPUs at each whole percent of arrived GPU request.

  --nodes <csv>     node list: sn,cpu_milli,memory_mib,gpu,model
  --pods <csv>      task list: name,cpu_milli,memory_mib,num_gpu,gpu_milli[,gpu_spec]
  --policy <name>   ${POLICY_NAMES.join(", ")}
  --seed <n>        seed of sampling, shuffling and tie-breaks (default 42)
  --arrival <x>     arrived GPU request as a multiple of capacity (default 1.3)
  --percentage-of-nodes-to-score <p>
                    the policy ranks only the feasible nodes kube-scheduler would pass its extender:
                    from a rotating start, until p% of the nodes (at least 100) are found; 0 is
                    kube-scheduler's adaptive default (50 - nodes/125, at least 5); default 100: all
  --json            print ${helpShape("simulate", "artifact", 20)}

Replay mode (--mode replay): pods arrive at creation_time / --time-scale and run for
deletion_time - creation_time once placed; a pod that fits nowhere waits (FIFO with backfill).
  --defrag <mode>   none; high-node-utilization (descheduler: every 300 s, evict all pods of
                    nodes below 20% of cpu, memory and GPU while others have room); gpk
                    (move at most --budget pods so the oldest waiting multi-GPU pod fits)
  --time-scale <k>  divide arrival times by k to raise the load (default 1)
  --load <x>        steady arrivals instead: pods that outlive the arrival window run from
                    the start, the others arrive in a seeded order as a Poisson process whose
                    rate offers x of the GPU capacity (0 < x < the list's whole request)
  --budget <n>      gpk: most pods one plan moves (default 4)
  --json            print ${helpShape("simulate", "replay", 20)};
                    a class with no pods is absent

Policies:
${POLICY_NAMES.map((n) => `  ${n.padEnd(15)} ${POLICIES[n].summary}`).join("\n")}

Exit: 0 done, 2 bad flags or a bad CSV row (file:line:column named).`;

function readCsv(flag: string, path: string | undefined): { path: string; text: string } {
  const file = requiredFlag(flag, path);
  return { path: file, text: readFileArgument(`--${flag}`, file) };
}

/** The node and pod CSVs, parsed; a bad row, an unreadable file or an empty list is a UsageError. */
function readInputs<P>(nodesPath: string | undefined, podsPath: string | undefined, parse: (file: string, content: string) => P[]) {
  const nodesCsv = readCsv("nodes", nodesPath);
  const podsCsv = readCsv("pods", podsPath);
  let nodes;
  let pods: P[];
  try {
    nodes = parseNodes(nodesCsv.path, nodesCsv.text);
    pods = parse(podsCsv.path, podsCsv.text);
  } catch (err) {
    if (err instanceof CsvError) throw new UsageError(err.message);
    throw err;
  }
  if (!nodes.some((n) => n.gpus.length > 0)) throw new UsageError(`--nodes: ${nodesCsv.path} has no GPU nodes`);
  if (pods.length === 0) throw new UsageError(`--pods: ${podsCsv.path} has no tasks`);
  return { nodes, pods };
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
        "percentage-of-nodes-to-score": { type: "string" },
        mode: { type: "string", default: "artifact" },
        defrag: { type: "string" },
        "time-scale": { type: "string" },
        load: { type: "string" },
        budget: { type: "string" },
        json: { type: "boolean", default: false },
      },
      false,
    );
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    const policy = requiredFlag("policy", values.policy, `one of ${POLICY_NAMES.join(", ")}`);
    if (!isPolicyName(policy)) {
      throw new UsageError(`--policy: unknown policy ${JSON.stringify(policy)}; valid policies: ${POLICY_NAMES.join(", ")}`);
    }
    const seed = numberFlag("seed", values.seed, 42, { min: 0, max: 2 ** 32 - 1, integer: true });
    if (values.mode === "replay") {
      if (values["percentage-of-nodes-to-score"] !== undefined) throw new UsageError("--percentage-of-nodes-to-score goes with the artifact mode (no --mode replay)");
      return runReplay(values, policy, seed);
    }
    if (values.mode !== "artifact") throw new UsageError(`--mode: expected artifact or replay, got ${JSON.stringify(values.mode)}`);
    for (const flag of ["defrag", "time-scale", "load", "budget"] as const) if (values[flag] !== undefined) throw new UsageError(`--${flag} goes with --mode replay`);
    const arrival = numberFlag("arrival", values.arrival, 1.3, { min: 0.01, max: 10 });
    const percentageOfNodesToScore = numberFlag("percentage-of-nodes-to-score", values["percentage-of-nodes-to-score"], 100, { min: 0, max: 100, integer: true });
    const { nodes, pods } = readInputs(values.nodes, values.pods, parsePods);

    progress(`simulate: ${nodes.length} nodes, ${pods.length} tasks, policy ${policy}, seed ${seed}, arrival ${arrival}`);
    const result = simulate({
      nodes,
      pods,
      policy,
      seed,
      arrival,
      percentageOfNodesToScore,
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

function runReplay(values: Record<string, string | boolean | undefined>, policy: PolicyName, seed: number): number {
  if (values.arrival !== undefined) throw new UsageError("--arrival goes with the artifact mode; replay mode raises the load with --time-scale");
  const defrag = values.defrag as string | undefined;
  if (!defrag || !(DEFRAG_MODES as readonly string[]).includes(defrag)) throw new UsageError(`--defrag: expected one of ${DEFRAG_MODES.join(", ")}, got ${JSON.stringify(defrag ?? "")}`);
  const timeScale = numberFlag("time-scale", values["time-scale"] as string | undefined, REPLAY_DEFAULTS.timeScale, { min: 0.001, max: 1e9 });
  const load = values.load === undefined ? undefined : numberFlag("load", values.load as string, 0, { min: 0.001, max: 100 });
  if (load !== undefined && values["time-scale"] !== undefined) throw new UsageError("--load and --time-scale exclude each other: --load spreads arrivals by a rate, --time-scale compresses the trace's times");
  const budget = numberFlag("budget", values.budget as string | undefined, REPLAY_DEFAULTS.budget, { min: 1, max: 64, integer: true });
  const { nodes, pods } = readInputs(values.nodes as string | undefined, values.pods as string | undefined, parseTimedPods);
  const arrivals = load === undefined ? `time scale ${timeScale}` : `steady load ${load}`;
  if (load !== undefined) {
    const most = maxOfferedLoad(pods, nodes.reduce((s, n) => s + n.gpus.length, 0));
    if (load >= most) throw new UsageError(`--load: ${load} is out of reach; these pods offer at most ${most.toFixed(3)} of the GPU capacity, all at once`);
  }
  progress(`simulate replay: ${nodes.length} nodes, ${pods.length} pods, policy ${policy}, defrag ${defrag}, ${arrivals}, seed ${seed}`);
  const result = replay({
    nodes, pods, policy, defrag: defrag as DefragMode, timeScale, load, seed, budget,
    onProgress: (done, total) => progress(`simulate replay: ${done}/${total} pods arrived`),
  });
  progress(`simulate replay: done in ${result.wallSeconds.toFixed(2)} s wall`);
  if (values.json) printJson(result);
  else {
    process.stdout.write(
      [
        `policy ${result.policy}, defrag ${result.defrag}, ${arrivals}, seed ${result.seed}: allocation ${result.allocationTimeWeighted.toFixed(2)}% (time-weighted), ${result.migrations} migrations, ${result.waitingAtEnd} waiting at the end`,
        ...Object.entries(result.queueDelaySeconds).map(([cls, d]) => `  ${cls.padEnd(10)} ${String(d.count).padStart(6)} pods  queueing delay p50 ${d.p50} s  p99 ${d.p99} s`),
      ].join("\n") + "\n",
    );
  }
  return ExitCode.Ok;
}
