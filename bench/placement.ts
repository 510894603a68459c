/**
 * `npm run bench:placement [-- --traces default,cpu050 --seeds 42-51 --policies fgd,gpk --out docs/placement]`
 *
 * Runs every policy × seed over the openb traces that have published figures
 * (../shared/data/openb/ANCHORS.md), on worker threads across the cores, and writes
 * results.json, results.md (our means beside the published ones) and, when the default trace
 * ran, default-allocation.svg (allocation vs arrival per policy).
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { Worker } from "node:worker_threads";
import { POLICIES, POLICY_NAMES, parsePolicyName, type PolicyName } from "../runtime/scheduling/registry";
import { allocationChart } from "./placement-chart";
import type { Job, JobResult } from "./placement-worker";

const repoRoot = path.resolve(__dirname, "..");
const dataDir = path.resolve(repoRoot, "../shared/data/openb");
const PUBLISHED_TRACES = ["default", "cpu050", "cpu100", "gpushare40", "gpuspec10", "multigpu20"];

/** Published means "at 100% / at 130%" per trace and paper policy name, parsed from ANCHORS.md. */
function publishedMeans(): Record<string, Record<string, { at100: number; at130: number }>> {
  const text = readFileSync(path.join(dataDir, "ANCHORS.md"), "utf8");
  const rows = text.split("\n").filter((l) => l.startsWith("|"));
  const header = rows[0]!.split("|").map((c) => c.trim()).slice(2, -1);
  const out: Record<string, Record<string, { at100: number; at130: number }>> = {};
  for (const row of rows.slice(2)) {
    const cells = row.split("|").map((c) => c.trim()).slice(1, -1);
    const trace = cells[0]!;
    out[trace] = {};
    header.forEach((policy, i) => {
      const [a, b] = cells[i + 1]!.split("/").map((v) => Number(v.trim()));
      out[trace]![policy] = { at100: a!, at130: b! };
    });
  }
  return out;
}

function parseSeeds(raw: string): number[] {
  return raw.split(",").flatMap((part) => {
    const m = /^(\d+)-(\d+)$/.exec(part.trim());
    if (m) return Array.from({ length: Number(m[2]) - Number(m[1]) + 1 }, (_, i) => Number(m[1]) + i);
    if (!/^\d+$/.test(part.trim())) throw new Error(`--seeds: expected numbers or ranges like 42-51, got ${JSON.stringify(part)}`);
    return [Number(part)];
  });
}

function runJobs(jobs: Job[], threads: number): Promise<JobResult[]> {
  return new Promise((resolve, reject) => {
    const results: JobResult[] = [];
    let next = 0;
    const workers = Array.from({ length: Math.min(threads, jobs.length) }, () => {
      // A tiny JS bootstrap registers tsx in the worker, then loads the TypeScript worker.
      const workerFile = path.join(__dirname, "placement-worker.ts");
      const w = new Worker(`require("tsx/cjs"); require(${JSON.stringify(workerFile)});`, { eval: true });
      const feed = () => {
        if (next < jobs.length) w.postMessage(jobs[next++]);
        else void w.terminate();
      };
      w.on("message", (r: JobResult) => {
        results.push(r);
        process.stderr.write(
          `bench:placement: ${results.length}/${jobs.length} ${r.trace} ${r.policy} seed ${r.seed}: ${r.allocation["130"]}% at 130% (${r.wallSeconds.toFixed(1)} s)\n`,
        );
        if (results.length === jobs.length) resolve(results);
        feed();
      });
      w.on("error", reject);
      feed();
      return w;
    });
    if (workers.length === 0) resolve(results);
  });
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const r2 = (x: number) => Math.round(x * 100) / 100;

async function main() {
  const { values } = parseArgs({
    options: {
      traces: { type: "string", default: PUBLISHED_TRACES.join(",") },
      seeds: { type: "string", default: "42-51" },
      policies: { type: "string", default: POLICY_NAMES.join(",") },
      out: { type: "string", default: path.join(repoRoot, "docs/placement") },
      threads: { type: "string", default: String(os.availableParallelism()) },
    },
  });
  const traces = values.traces.split(",").map((t) => t.trim());
  const seeds = parseSeeds(values.seeds);
  const policies = values.policies.split(",").map((p) => parsePolicyName(p.trim()));
  const jobs: Job[] = traces.flatMap((trace) => policies.flatMap((policy) => seeds.map((seed) => ({ dataDir, trace, policy, seed }))));
  const started = Date.now();
  const results = await runJobs(jobs, Number(values.threads));
  const published = publishedMeans();

  type Row = { trace: string; policy: PolicyName; seeds: number; at100: number; at130: number; failedPods: number; wallSeconds: number; published: { at100: number; at130: number } | null };
  const rows: Row[] = [];
  for (const trace of traces) {
    for (const policy of policies) {
      const rs = results.filter((r) => r.trace === trace && r.policy === policy);
      const paper = POLICIES[policy].paperName;
      rows.push({
        trace,
        policy,
        seeds: rs.length,
        at100: r2(mean(rs.map((r) => r.allocation["100"]!))),
        at130: r2(mean(rs.map((r) => r.allocation["130"]!))),
        failedPods: Math.round(mean(rs.map((r) => r.failedPods))),
        wallSeconds: r2(mean(rs.map((r) => r.wallSeconds))),
        published: (paper && published[trace]?.[paper]) || null,
      });
    }
  }
  mkdirSync(values.out, { recursive: true });
  const curves: Record<string, Record<string, number>> = {};
  if (traces.includes("default")) {
    for (const policy of policies) {
      const rs = results.filter((r) => r.trace === "default" && r.policy === policy);
      curves[policy] = Object.fromEntries(Object.keys(rs[0]!.allocation).map((k) => [k, r2(mean(rs.map((r) => r.allocation[k]!)))]));
    }
    const svg = allocationChart(
      policies.map((p) => ({ name: p, points: Object.entries(curves[p]!).map(([k, v]) => [Number(k), v] as [number, number]) })),
      `openb default trace: GPU allocation vs arrival, mean of seeds ${values.seeds} (${seeds.length} runs each)`,
    );
    writeFileSync(path.join(values.out, "default-allocation.svg"), svg);
  }
  writeFileSync(
    path.join(values.out, "results.json"),
    `${JSON.stringify({ seeds, traces, policies, rows, defaultAllocationCurves: curves, totalWallSeconds: (Date.now() - started) / 1000 }, null, 2)}\n`,
  );
  const fmt = (row: Row) => {
    const ours = `${row.at100.toFixed(2)} / ${row.at130.toFixed(2)}`;
    if (!row.published) return `${ours} (—)`;
    const d = row.at130 - row.published.at130;
    return `${ours} (${row.published.at100.toFixed(2)} / ${row.published.at130.toFixed(2)}, ${d >= 0 ? "+" : ""}${d.toFixed(2)})`;
  };
  const md = [
    `GPU allocation ratio (% of ${6212} GPUs) at 100% / 130% arrived GPU request, mean of seeds ${values.seeds}.`,
    `In brackets: the paper artifact's published means (ANCHORS.md) and our difference at 130%.`,
    "",
    `| trace | ${policies.join(" | ")} |`,
    `|---|${policies.map(() => "---").join("|")}|`,
    ...traces.map((trace) => `| ${trace} | ${policies.map((p) => fmt(rows.find((r) => r.trace === trace && r.policy === p)!)).join(" | ")} |`),
    "",
    `Mean wall time per run (s): ${policies.map((p) => `${p} ${r2(mean(rows.filter((r) => r.policy === p).map((r) => r.wallSeconds)))}`).join(", ")}.`,
    "",
  ].join("\n");
  writeFileSync(path.join(values.out, "results.md"), md);
  process.stdout.write(md);
  process.stderr.write(`bench:placement: ${jobs.length} runs in ${((Date.now() - started) / 1000).toFixed(0)} s, written to ${values.out}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:placement: ${(err as Error).message}\n`);
  process.exitCode = 1;
});
