/**
 * `npm run bench:defrag`: the replay with departures (runtime/cluster-sim/replay.ts) on the
 * shipped openb default trace under steady arrivals (runtime/cluster-sim/arrivals.ts) at three
 * offered loads, seeds 42–44, with each defragmenter: none, the descheduler's
 * HighNodeUtilization, and gpk's migration planner.
 *
 * The placement policy is `random` by default: a fragmentation-blind scheduler, like the
 * default scheduler's spreading, under which multi-GPU pods queue behind scattered free GPUs.
 * Each load also gets a reference row with the kit's own placement (policy gpk) and no
 * defragmentation. Prints and writes docs/defrag/results.md, results.json and
 * p99-large-pods.svg: queueing delay p99 of the ≥ 4-GPU pods (and of the 4- and 8-GPU classes),
 * time-weighted allocation, and migrations per 1,000 pods, as means over the seeds.
 *
 *   npm run bench:defrag [-- --loads 0.8,0.85,0.9 --seeds 42,43,44 --policy random]
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { OPENB_DIR } from "../data/paths";
import { parseNodes, parseTimedPods } from "../runtime/cluster-sim/csv";
import { DEFRAG_MODES, replay, type DefragMode } from "../runtime/cluster-sim/replay";
import { isPolicyName, type PolicyName } from "../runtime/scheduling/registry";
import { defragChart } from "./defrag-chart";

function fail(message: string): never {
  process.stderr.write(`bench:defrag: ${message}\n`);
  process.exit(2);
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? undefined : (process.argv[i + 1] ?? "");
}

function listArg(name: string, fallback: number[]): number[] {
  const raw = arg(name);
  if (raw === undefined) return fallback;
  const values = raw.split(",").map(Number);
  if (values.some((v) => !Number.isFinite(v) || v <= 0)) fail(`--${name}: expected positive numbers separated by commas, got ${JSON.stringify(raw)}`);
  return values;
}

const loads = listArg("loads", [0.8, 0.85, 0.9]);
const seeds = listArg("seeds", [42, 43, 44]);
const policyArg = arg("policy") ?? "random";
if (!isPolicyName(policyArg)) fail(`--policy: unknown policy ${JSON.stringify(policyArg)}`);
const policy: PolicyName = policyArg;
const nodes = parseNodes("openb_node_list_gpu_node.csv", readFileSync(path.join(OPENB_DIR, "openb_node_list_gpu_node.csv"), "utf8"));
const pods = parseTimedPods("openb_pod_list_default.csv", readFileSync(path.join(OPENB_DIR, "openb_pod_list_default.csv"), "utf8"));

interface Row {
  load: number;
  policy: PolicyName;
  defrag: DefragMode;
  /** p99 queueing delay (s) over the 4- and 8-GPU pods together, and per class. */
  p99Large: number;
  p99: { "4": number; "8": number };
  allocation: number;
  migrationsPer1000: number;
  waitingAtEnd: number;
  wallSeconds: number;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const p99 = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted.length === 0 ? 0 : sorted[Math.max(0, Math.ceil(0.99 * sorted.length) - 1)]!;
};

function run(load: number, placement: PolicyName, defrag: DefragMode): Row {
  const per = seeds.map((seed) => {
    const large: number[] = [];
    const result = replay({ nodes, pods, policy: placement, defrag, load, seed, onDelay: (cls, d) => (cls === "4" || cls === "8") && large.push(d) });
    return { result, large: p99(large) };
  });
  const row: Row = {
    load,
    policy: placement,
    defrag,
    p99Large: mean(per.map((r) => r.large)),
    p99: { "4": mean(per.map((r) => r.result.queueDelaySeconds["4"]?.p99 ?? 0)), "8": mean(per.map((r) => r.result.queueDelaySeconds["8"]?.p99 ?? 0)) },
    allocation: mean(per.map((r) => r.result.allocationTimeWeighted)),
    migrationsPer1000: mean(per.map((r) => (1000 * r.result.migrations) / pods.length)),
    waitingAtEnd: mean(per.map((r) => r.result.waitingAtEnd)),
    wallSeconds: per.reduce((s, r) => s + r.result.wallSeconds, 0),
  };
  process.stderr.write(`bench:defrag: load ${load} ${placement}/${defrag.padEnd(21)} p99 ≥4-GPU ${row.p99Large.toFixed(1)} s, allocation ${row.allocation.toFixed(2)}%, ${row.migrationsPer1000.toFixed(2)} migrations/1000 pods (${row.wallSeconds.toFixed(1)} s)\n`);
  return row;
}

const rows: Row[] = [];
for (const load of loads) {
  for (const defrag of DEFRAG_MODES) rows.push(run(load, policy, defrag));
  if (policy !== "gpk") rows.push(run(load, "gpk", "none"));
}

const find = (load: number, placement: PolicyName, defrag: DefragMode) => rows.find((r) => r.load === load && r.policy === placement && r.defrag === defrag)!;
const table = [
  "| offered load | placement | defrag | p99 delay, ≥ 4-GPU pods (s) | p99, 4-GPU (s) | p99, 8-GPU (s) | allocation, time-weighted (%) | migrations / 1,000 pods | waiting at end |",
  "|---|---|---|---|---|---|---|---|---|",
  ...rows.map((r) => `| ${r.load} | ${r.policy} | ${r.defrag} | ${r.p99Large.toFixed(1)} | ${r.p99["4"].toFixed(1)} | ${r.p99["8"].toFixed(1)} | ${r.allocation.toFixed(2)} | ${r.migrationsPer1000.toFixed(2)} | ${r.waitingAtEnd.toFixed(1)} |`),
].join("\n");

/** Against the goals: gpk's cut of the ≥ 4-GPU p99 against none, and its standing against HighNodeUtilization. */
const goals = loads.map((load) => {
  const none = find(load, policy, "none");
  const hnu = find(load, policy, "high-node-utilization");
  const gpk = find(load, policy, "gpk");
  const cut = none.p99Large > 0 ? 1 - gpk.p99Large / none.p99Large : 0;
  return `| ${load} | ${(100 * cut).toFixed(0)}% | ${gpk.p99Large.toFixed(1)} vs ${hnu.p99Large.toFixed(1)} s | ${gpk.migrationsPer1000.toFixed(2)} vs ${hnu.migrationsPer1000.toFixed(2)} |`;
});
const goalTable = [
  `| offered load | gpk's cut of the ≥ 4-GPU p99 against none (goal ≥ 50%) | p99, gpk vs high-node-utilization | migrations / 1,000 pods, gpk vs high-node-utilization |`,
  "|---|---|---|---|",
  ...goals,
].join("\n");
process.stdout.write(`${table}\n\n${goalTable}\n`);

const outDir = path.join(__dirname, "..", "docs", "defrag");
mkdirSync(outDir, { recursive: true });
writeFileSync(path.join(outDir, "results.json"), `${JSON.stringify({ trace: "openb_pod_list_default.csv", arrivals: "steady", policy, seeds, rows }, null, 2)}\n`);
writeFileSync(path.join(outDir, "p99-large-pods.svg"), defragChart(rows.filter((r) => r.policy === policy), DEFRAG_MODES, `p99 queueing delay of ≥ 4-GPU pods (s), openb default, placement ${policy}, seeds ${seeds.join(", ")}`));
writeFileSync(
  path.join(outDir, "results.md"),
  [
    "# Defragmentation on the openb default trace (written by `npm run bench:defrag`)",
    "",
    `Replay with departures under steady arrivals, placement ${policy} (with a gpk-placement reference row per load), seeds ${seeds.join(", ")} (means), ${pods.length} pods on ${nodes.length} nodes.`,
    "See docs/defrag.md for what the figures mean and why they look the way they do.",
    "",
    table,
    "",
    goalTable,
    "",
    "![p99 queueing delay of the ≥ 4-GPU pods](p99-large-pods.svg)",
    "",
  ].join("\n"),
);
process.stderr.write(`bench:defrag: wrote ${path.relative(process.cwd(), outDir)}/results.md, results.json, p99-large-pods.svg\n`);
