/**
 * `npm run bench:plan`: wall time of a full `gpk plan serving` search (llama-3-8b, the chat
 * shape, 5 GPU products × the TPs their instance types hold × 3 engine settings) on worker
 * threads, and, with `--ray`, the same search as Ray tasks on a local Ray cluster of 1 and then
 * 2 one-CPU workers (the kit's pinned Ray from `gpk tools python`). Prints figures, asserts
 * nothing; the results of every run must be equal, which it checks and says.
 *
 *   npm run bench:plan -- [--workers N] [--ray] [--json]
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { ensurePythonTools } from "../cli/tools/python";

const ROOT = path.resolve(__dirname, "..");
const PLAN = ["plan", "serving", "--workload", "chat", "--rate", "20", "--slo", "ttft-p99=500,tpot-p99=50", "--model", "llama-3-8b", "--json"];

function gpk(args: string[], env: NodeJS.ProcessEnv = {}): { wallSeconds: number; doc: any } {
  const started = process.hrtime.bigint();
  const run = spawnSync(process.execPath, [path.join(ROOT, "bin", "gpk.js"), ...args], { cwd: ROOT, env: { ...process.env, ...env }, encoding: "utf8", maxBuffer: 64 << 20, stdio: ["ignore", "pipe", "inherit"] });
  if (run.status !== 0) throw new Error(`gpk ${args.join(" ")} exited ${run.status}`);
  return { wallSeconds: Number(process.hrtime.bigint() - started) / 1e9, doc: JSON.parse(run.stdout) };
}

/** A local Ray cluster: a head with no CPUs for tasks and `workers` nodes of one CPU each. */
async function withRay<T>(workers: number, body: (address: string, python: string) => T): Promise<T> {
  const tools = ensurePythonTools((l) => process.stderr.write(`[tools] ${l}\n`));
  const ray = tools.bin("ray");
  const temp = fs.mkdtempSync(path.join(os.tmpdir(), "gpk-bench-ray-"));
  const env = { ...process.env, RAY_USAGE_STATS_ENABLED: "0", PATH: `${path.dirname(ray)}:${process.env.PATH}` };
  const port = 20000 + Math.floor(Math.random() * 20000);
  const address = `127.0.0.1:${port}`;
  const start = (args: string[]) => {
    const r = spawnSync(ray, ["start", ...args, "--disable-usage-stats"], { env, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`ray start ${args.join(" ")}: ${r.stderr.slice(-2000)}`);
  };
  try {
    start(["--head", `--port=${port}`, "--num-cpus=0", "--node-ip-address=127.0.0.1", `--temp-dir=${temp}`, "--include-dashboard=false"]);
    for (let i = 0; i < workers; i++) start([`--address=${address}`, "--num-cpus=1", "--node-ip-address=127.0.0.1"]);
    return body(address, tools.bin("python"));
  } finally {
    spawnSync(ray, ["stop", "--force"], { env });
    fs.rmSync(temp, { recursive: true, force: true });
  }
}

async function main() {
  const { values } = parseArgs({ options: { workers: { type: "string", default: String(os.availableParallelism()) }, ray: { type: "boolean", default: false }, json: { type: "boolean", default: false } } });
  const rows: { backend: string; workers: number; wallSeconds: number; candidates: number }[] = [];
  const strip = (d: any) => JSON.stringify({ ...d, backend: undefined, wallSeconds: undefined });
  const threads = gpk([...PLAN, "--workers", values.workers!]);
  rows.push({ backend: "threads", workers: Number(values.workers), wallSeconds: threads.wallSeconds, candidates: threads.doc.candidates.length });
  let identical = true;
  if (values.ray) {
    for (const workers of [1, 2]) {
      const run = await withRay(workers, (address, python) => gpk([...PLAN, "--ray-address", address], { GPK_RAY_PYTHON: python }));
      rows.push({ backend: "ray", workers, wallSeconds: run.wallSeconds, candidates: run.doc.candidates.length });
      identical &&= strip(run.doc) === strip(threads.doc);
    }
  }
  const doc = { command: `gpk ${PLAN.join(" ")}`, cores: os.availableParallelism(), loadAverage1m: os.loadavg()[0], rows, identicalResults: identical };
  if (values.json) process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
  else {
    for (const r of rows) process.stdout.write(`${r.backend.padEnd(8)} ${String(r.workers).padStart(2)} worker(s): ${r.wallSeconds.toFixed(1)} s for ${r.candidates} candidates\n`);
    process.stdout.write(`results identical across runs: ${identical}\n`);
  }
}

void main().catch((err) => {
  process.stderr.write(`bench:plan: ${(err as Error).message}\n`);
  process.exitCode = 1;
});
