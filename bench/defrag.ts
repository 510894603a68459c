/**
 * `npm run bench:defrag`: the replay with departures (runtime/cluster-sim/replay.ts) on the
 * shipped openb default trace, placement policy gpk, at three time scales and seeds 42–44,
 * with each defragmenter: none, the descheduler's HighNodeUtilization, and gpk's migration
 * planner. Prints and writes docs/defrag/results.md, results.json and p99-large-pods.svg:
 * queueing delay p99 of the 4- and 8-GPU pods, time-weighted allocation, and migrations per
 * 1,000 pods (means over the seeds).
 *
 *   npm run bench:defrag [-- --scales 100000,300000,1000000 --seeds 42,43,44]
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { OPENB_DIR } from "../data/paths";
import { parseNodes, parseTimedPods } from "../runtime/cluster-sim/csv";
import { DEFRAG_MODES, replay, type DefragMode, type ReplayResult } from "../runtime/cluster-sim/replay";

function listArg(name: string, fallback: number[]): number[] {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const values = (process.argv[i + 1] ?? "").split(",").map(Number);
  if (values.length === 0 || values.some((v) => !Number.isFinite(v) || v <= 0)) {
    process.stderr.write(`bench:defrag: --${name}: expected positive numbers separated by commas\n`);
    process.exit(2);
  }
  return values;
}

const scales = listArg("scales", [100_000, 300_000, 1_000_000]);
const seeds = listArg("seeds", [42, 43, 44]);
const nodes = parseNodes("openb_node_list_gpu_node.csv", readFileSync(path.join(OPENB_DIR, "openb_node_list_gpu_node.csv"), "utf8"));
const pods = parseTimedPods("openb_pod_list_default.csv", readFileSync(path.join(OPENB_DIR, "openb_pod_list_default.csv"), "utf8"));

interface Row {
  scale: number;
  defrag: DefragMode;
  p99Large: { "4": number; "8": number };
  allocation: number;
  migrationsPer1000: number;
  waitingAtEnd: number;
  wallSeconds: number;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const rows: Row[] = [];
for (const scale of scales) {
  for (const defrag of DEFRAG_MODES) {
    const runs: ReplayResult[] = seeds.map((seed) => replay({ nodes, pods, policy: "gpk", defrag, timeScale: scale, seed }));
    const row: Row = {
      scale,
      defrag,
      p99Large: {
        "4": mean(runs.map((r) => r.queueDelaySeconds["4"]?.p99 ?? 0)),
        "8": mean(runs.map((r) => r.queueDelaySeconds["8"]?.p99 ?? 0)),
      },
      allocation: mean(runs.map((r) => r.allocationTimeWeighted)),
      migrationsPer1000: mean(runs.map((r) => (1000 * r.migrations) / pods.length)),
      waitingAtEnd: mean(runs.map((r) => r.waitingAtEnd)),
      wallSeconds: runs.reduce((s, r) => s + r.wallSeconds, 0),
    };
    rows.push(row);
    process.stderr.write(`bench:defrag: scale ${scale} ${defrag.padEnd(21)} p99 4-GPU ${row.p99Large["4"].toFixed(1)} s, 8-GPU ${row.p99Large["8"].toFixed(1)} s, allocation ${row.allocation.toFixed(2)}%, ${row.migrationsPer1000.toFixed(2)} migrations/1000 pods (${row.wallSeconds.toFixed(1)} s)\n`);
  }
}

const table = [
  "| time scale | defrag | p99 delay, 4-GPU pods (s) | p99 delay, 8-GPU pods (s) | allocation, time-weighted (%) | migrations / 1,000 pods | waiting at end |",
  "|---|---|---|---|---|---|---|",
  ...rows.map((r) => `| ${r.scale.toLocaleString("en-US")} | ${r.defrag} | ${r.p99Large["4"].toFixed(1)} | ${r.p99Large["8"].toFixed(1)} | ${r.allocation.toFixed(2)} | ${r.migrationsPer1000.toFixed(2)} | ${r.waitingAtEnd.toFixed(1)} |`),
].join("\n");
process.stdout.write(`${table}\n`);

/** Grouped bars: p99 delay of the 8-GPU pods per time scale, one bar per defragmenter. */
function chart(): string {
  const width = 640;
  const height = 320;
  const left = 60;
  const bottom = 40;
  const top = 40;
  const colors: Record<DefragMode, string> = { none: "#8c8c8c", "high-node-utilization": "#1f77b4", gpk: "#d62728" };
  const max = Math.max(1, ...rows.map((r) => r.p99Large["8"]));
  const group = (width - left - 20) / scales.length;
  const bar = group / (DEFRAG_MODES.length + 1);
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="14">p99 queueing delay of 8-GPU pods (s), openb default, policy gpk, mean of seeds ${seeds.join(", ")}</text>`,
    `<line x1="${left}" y1="${height - bottom}" x2="${width - 10}" y2="${height - bottom}" stroke="#444"/>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${height - bottom}" stroke="#444"/>`,
    `<text x="${left - 6}" y="${top + 4}" text-anchor="end">${max.toFixed(0)}</text>`,
    `<text x="${left - 6}" y="${height - bottom}" text-anchor="end">0</text>`,
  ];
  scales.forEach((scale, g) => {
    const x0 = left + g * group + bar / 2;
    DEFRAG_MODES.forEach((mode, k) => {
      const value = rows.find((r) => r.scale === scale && r.defrag === mode)!.p99Large["8"];
      const h = ((height - bottom - top) * value) / max;
      out.push(`<rect x="${x0 + k * bar}" y="${height - bottom - h}" width="${bar - 4}" height="${h}" fill="${colors[mode]}"><title>${mode}: ${value.toFixed(1)} s</title></rect>`);
    });
    out.push(`<text x="${x0 + (DEFRAG_MODES.length * bar) / 2}" y="${height - bottom + 16}" text-anchor="middle">×${scale.toLocaleString("en-US")}</text>`);
  });
  DEFRAG_MODES.forEach((mode, k) => {
    out.push(`<rect x="${left + 10 + k * 180}" y="${height - 14}" width="10" height="10" fill="${colors[mode]}"/><text x="${left + 24 + k * 180}" y="${height - 5}">${mode}</text>`);
  });
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}

const outDir = path.join(__dirname, "..", "docs", "defrag");
mkdirSync(outDir, { recursive: true });
writeFileSync(path.join(outDir, "results.json"), `${JSON.stringify({ trace: "openb_pod_list_default.csv", policy: "gpk", seeds, rows }, null, 2)}\n`);
writeFileSync(path.join(outDir, "p99-large-pods.svg"), chart());
writeFileSync(
  path.join(outDir, "results.md"),
  [
    "# Defragmentation on the openb default trace (written by `npm run bench:defrag`)",
    "",
    `Replay with departures, placement policy gpk, seeds ${seeds.join(", ")} (means), ${pods.length} pods on ${nodes.length} nodes.`,
    "See docs/defrag.md for what the figures mean and why they look the way they do.",
    "",
    table,
    "",
    "![p99 queueing delay of 8-GPU pods](p99-large-pods.svg)",
    "",
  ].join("\n"),
);
process.stderr.write(`bench:defrag: wrote ${path.relative(process.cwd(), outDir)}/results.md, results.json, p99-large-pods.svg\n`);
