/**
 * `gpk plan serving`: the cheapest configuration (GPU product, instance type, tensor parallelism,
 * engine batch settings, replicas) that carries a serving endpoint's peak traffic within its
 * latency SLO, from replays on the virtual clock (runtime/serving/capacity), fanned out over
 * worker threads or Ray tasks.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import { GPU_PRODUCT_IDS, type GpuProduct } from "../../gpu";
import { PRICING_SOURCE } from "../../gpu/pricing";
import { findModel, modelNames } from "../../runtime/serving/engine/models";
import {
  DEFAULT_ENGINE_SETTINGS, DEFAULT_TENSOR_PARALLEL, isGpuProduct, runPlan, type EngineSetting, type Plan, type PlanCandidate, type PlanInput, type Runner,
} from "../../runtime/serving/capacity/plan";
import { SloError, formatSlo, parseSlo, type Slo } from "../../runtime/serving/capacity/slo";
import { WORKLOAD_SHAPE_NAMES, fileRequests, isShapeName, shapeRequests } from "../../runtime/serving/capacity/workload";
import { ReplayInputError, type ReplayRequest } from "../../runtime/serving/replay";
import { CONFIG as POLICY_CONFIG } from "../../policies/lib/config";
import type { ServingEntry } from "../../stacks/config-serving";
import { STACK_TRAFFIC_SEED, workloadRequests } from "../../stacks/config-serving";
import { ConfigError, parseConfigMap } from "../../stacks/load-config";
import { ExitCode, UsageError, numberFlag, parseFlags, printJson, progress, requiredFlag, type Command } from "../contract";
import { helpShape } from "../json-shapes";
import { writablePathProblem } from "../../runtime/flags";
import { planReportHtml } from "../plan/html";
import { RayBackendError, rayRunner } from "../plan/ray";
import { threadsRunner } from "../plan/threads";
import { readStackConfig, stackFile } from "../render/stack-files";

const usage = `Usage: gpk plan serving <stack> [--entry <name>] [flags]
       gpk plan serving --workload <jsonl|shape> --rate <req/s> --slo ttft-p99=<ms>[,tpot-p99=<ms>][,e2e-p99=<ms>]
                        --model <preset> [flags]

Finds, for each candidate configuration (GPU product and the instance types that carry it,
tensor parallelism, max-num-seqs and max-num-batched-tokens), the highest request rate one
replica sustains within the SLO: replays of the workload on the virtual clock with seeded
Poisson arrivals, exactly what \`gpk serve --replay <workload> --request-rate <rate> --seed <seed>\`
reports for that configuration (V1 engine). From that rate: the replicas the peak needs with
headroom, the GPUs and nodes, $/hour (on-demand, ${PRICING_SOURCE.region}, gpu/pricing.ts) and $/million
output tokens. Prints the candidates ranked (SLO met, then cost) and the Pareto set of cost
against p99 TTFT at peak. Same inputs and seed, same result, on either backend.

From a stack: the entry's traffic ({peakRequestsPerSecond, workload}) and slo, its model and engine
settings (maxModelLen, gpuMemoryUtilization, …), the stack's gpk:policy.headroomPercent; --json adds
the config change that applies the best candidate.
  --entry <name>            the serving entry (default: the only one with traffic and slo)
  --stacks-dir <dir>        folder with the Pulumi.<stack>.yaml files (default: the kit's stacks/)

From flags:
  --workload <jsonl|shape>  requests in gpk serve --replay's format (no arrival_s), or a shape:
                            ${WORKLOAD_SHAPE_NAMES.join(", ")} (docs/plan.md)
  --rate <req/s>            peak requests per second to carry
  --slo <list>              p99 bounds in ms: ttft-p99, tpot-p99, e2e-p99 (at least one)
  --model <preset>          a serving preset (gpk serve --help lists them)

Search:
  --gpus <list>             GPU products (default ${GPU_PRODUCT_IDS.join(",")})
  --tp <list>               tensor-parallel sizes (default ${DEFAULT_TENSOR_PARALLEL.join(",")}; those no instance type holds are skipped)
  --engine-settings <list>  max-num-seqs:max-num-batched-tokens pairs
                            (default ${DEFAULT_ENGINE_SETTINGS.map((s) => `${s.maxNumSeqs}:${s.maxNumBatchedTokens}`).join(",")})
  --headroom <percent>      share of the peak the replicas carry on top (default: the stack's, else ${POLICY_CONFIG.headroomPercent.default})
  --seed <n>                seed of the arrivals and of a shape's requests (default 0)

Backends (the same results):
  --workers <n>             worker threads (default: the cores, ${os.availableParallelism()} here)
  --ray-address <addr|auto> one Ray task per candidate on that Ray cluster; Ray's runtime_env carries
                            the simulator, and each worker runs it with its \`node\` (Node.js ≥ 20 on PATH)
  --ray-python <path>       the Python with the pinned Ray (default: $GPK_RAY_PYTHON, else python3)
  --ray-task-cpus <n>       CPUs each Ray task reserves (default 1)

Output:
  --html <file>             a self-contained page: rate vs p99 TTFT per candidate, the Pareto chart,
                            the recommendation (echarts)
  --json                    ${helpShape("plan", "serving", 28)}
                            ("stack", "entry" and "configChange" with a stack; "reason": why a candidate does not start)

Exit: 0 planned (also when no candidate meets the SLO: best is null), 2 bad flags, stack or workload.`;

const FLAGS = {
  entry: { type: "string" },
  "stacks-dir": { type: "string" },
  workload: { type: "string" },
  rate: { type: "string" },
  slo: { type: "string" },
  model: { type: "string" },
  gpus: { type: "string" },
  tp: { type: "string" },
  "engine-settings": { type: "string" },
  headroom: { type: "string" },
  seed: { type: "string" },
  workers: { type: "string" },
  "ray-address": { type: "string" },
  "ray-python": { type: "string" },
  "ray-task-cpus": { type: "string" },
  html: { type: "string" },
  json: { type: "boolean", default: false },
} as const;

function list(flag: string, raw: string): string[] {
  const items = raw.split(",").map((s) => s.trim());
  if (items.some((s) => s === "")) throw new UsageError(`--${flag}: expected a comma-separated list, got ${JSON.stringify(raw)}`);
  return items;
}

function parseGpus(raw: string | undefined): GpuProduct[] {
  if (raw === undefined) return [...GPU_PRODUCT_IDS];
  return list("gpus", raw).map((g) => {
    if (!isGpuProduct(g)) throw new UsageError(`--gpus: unknown GPU ${JSON.stringify(g)}; one of ${GPU_PRODUCT_IDS.join(", ")}`);
    return g;
  });
}

function parseTp(raw: string | undefined): number[] {
  if (raw === undefined) return [...DEFAULT_TENSOR_PARALLEL];
  return list("tp", raw).map((t) => numberFlag("tp", t, 1, { min: 1, max: 64, integer: true }));
}

function parseSettings(raw: string | undefined): EngineSetting[] {
  if (raw === undefined) return [...DEFAULT_ENGINE_SETTINGS];
  return list("engine-settings", raw).map((pair) => {
    const m = /^(\d+):(\d+)$/.exec(pair);
    if (!m) throw new UsageError(`--engine-settings: expected max-num-seqs:max-num-batched-tokens such as 256:4096, got ${JSON.stringify(pair)}`);
    const s = { maxNumSeqs: Number(m[1]), maxNumBatchedTokens: Number(m[2]) };
    if (s.maxNumSeqs < 1 || s.maxNumBatchedTokens < s.maxNumSeqs) throw new UsageError(`--engine-settings: ${pair}: max-num-batched-tokens must be at least max-num-seqs (≥ 1)`);
    return s;
  });
}

function flagWorkload(raw: string, seed: number): ReplayRequest[] {
  if (isShapeName(raw)) return shapeRequests(raw, seed);
  const expected = `expected a .jsonl file or a shape (${WORKLOAD_SHAPE_NAMES.join(", ")})`;
  if (fs.existsSync(raw) && fs.statSync(raw).isDirectory()) throw new UsageError(`--workload: ${raw} is a folder; ${expected}`);
  let text: string;
  try {
    text = fs.readFileSync(raw, "utf8");
  } catch (err) {
    throw new UsageError(`--workload: cannot read ${raw} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); expected a .jsonl file or a shape (${WORKLOAD_SHAPE_NAMES.join(", ")})`);
  }
  try {
    return fileRequests(raw, text);
  } catch (err) {
    if (err instanceof ReplayInputError) throw new UsageError(`--workload: ${err.message}`);
    throw err;
  }
}

interface StackTarget {
  stack: string;
  entry: ServingEntry;
  keyPath: string;
  pool: { name: string; instanceType?: string };
  headroomPercent: number;
}

function stackTarget(stack: string, entryName: string | undefined, stacksDir: string | undefined): StackTarget {
  const file = stackFile(stack, stacksDir);
  let config;
  try {
    config = parseConfigMap(readStackConfig(file));
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(`stack ${stack}: ${err.lines.join("; ")}`);
    throw err;
  }
  const sized = config.serving.map((s, i) => ({ s, i })).filter(({ s }) => s.traffic !== undefined && s.slo !== undefined);
  let chosen;
  if (entryName !== undefined) {
    chosen = config.serving.map((s, i) => ({ s, i })).find(({ s }) => s.name === entryName);
    if (!chosen) throw new UsageError(`--entry: no serving entry ${JSON.stringify(entryName)} in stack ${stack}; entries: ${config.serving.map((s) => s.name).join(", ") || "none"}`);
    if (chosen.s.traffic === undefined || chosen.s.slo === undefined) throw new UsageError(`--entry: gpk:serving[${chosen.i}] (${entryName}) declares no traffic and slo to plan for`);
  } else {
    if (sized.length === 0) throw new UsageError(`stack ${stack} has no serving entry with traffic and slo`);
    if (sized.length > 1) throw new UsageError(`stack ${stack} has ${sized.length} serving entries with traffic and slo (${sized.map(({ s }) => s.name).join(", ")}); pick one with --entry`);
    chosen = sized[0]!;
  }
  const pool = config.nodePools.find((p) => p.name === chosen.s.pool)!;
  return { stack, entry: chosen.s, keyPath: `gpk:serving[${chosen.i}]`, pool: { name: pool.name, instanceType: pool.instanceType }, headroomPercent: config.policy.headroomPercent };
}

/** The stack entry's keys that apply `best`, and the pool it needs when that is not the entry's. */
function configChange(target: StackTarget, best: PlanCandidate) {
  return {
    entry: target.keyPath,
    set: {
      tensorParallelSize: best.tensorParallelSize, maxNumSeqs: best.maxNumSeqs, maxNumBatchedTokens: best.maxNumBatchedTokens,
      minReplicas: Math.min(target.entry.minReplicas, best.replicas!), maxReplicas: best.replicas!,
    },
    pool: target.pool.instanceType === best.instanceType ? { name: target.pool.name, instanceType: best.instanceType, change: false } : { name: null, instanceType: best.instanceType, change: true },
  };
}

function table(plan: Plan): string {
  const head = ["#", "gpu", "instance", "tp", "seqs", "tokens", "max req/s", "replicas", "gpus", "$/h", "$/Mtok", "p99 TTFT", "slo"];
  const rows = plan.candidates.map((c, i) => [
    String(i + 1), c.gpu, c.instanceType, String(c.tensorParallelSize), String(c.maxNumSeqs), String(c.maxNumBatchedTokens), String(c.maxRatePerReplica),
    String(c.replicas ?? "-"), String(c.gpus ?? "-"), c.dollarsPerHour === null ? "-" : c.dollarsPerHour.toFixed(2),
    c.dollarsPerMillionOutputTokens === null ? "-" : c.dollarsPerMillionOutputTokens.toFixed(2), c.ttftP99MsAtPeak === null ? "-" : `${Math.round(c.ttftP99MsAtPeak)} ms`,
    c.meetsSlo ? (c.limit === "throughput" ? "met (throughput-bound)" : "met") : c.reason ? "does not start" : "missed",
  ]);
  const widths = head.map((h, k) => Math.max(h.length, ...rows.map((r) => r[k]!.length)));
  const line = (r: string[]) => r.map((v, k) => (k <= 2 ? v.padEnd(widths[k]!) : v.padStart(widths[k]!))).join("  ");
  return [line(head), ...rows.map(line)].join("\n");
}

function describe(c: PlanCandidate): string {
  return `${c.replicas} × ${c.gpu} TP ${c.tensorParallelSize} (max-num-seqs ${c.maxNumSeqs}, max-num-batched-tokens ${c.maxNumBatchedTokens}) on ${c.nodes} ${c.instanceType}: ` +
    `$${c.dollarsPerHour!.toFixed(2)}/h, $${c.dollarsPerMillionOutputTokens!.toFixed(2)} per million output tokens, ${c.maxRatePerReplica} req/s per replica, p99 TTFT ${Math.round(c.ttftP99MsAtPeak!)} ms at peak`;
}

export const command: Command = {
  usage,
  async run(argv) {
    const { values: flags, positionals } = parseFlags(argv, FLAGS);
    if (positionals[0] !== "serving") throw new UsageError("expected `gpk plan serving [<stack>] …`");
    if (positionals.length > 2) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[2])}`);
    const stack = positionals[1];
    const seed = numberFlag("seed", flags.seed, STACK_TRAFFIC_SEED, { min: 0, max: 2 ** 32 - 1, integer: true });
    let input: PlanInput;
    let target: StackTarget | undefined;
    const search = { gpus: parseGpus(flags.gpus), tensorParallel: parseTp(flags.tp), engineSettings: parseSettings(flags["engine-settings"]), seed };
    if (stack !== undefined) {
      for (const flag of ["workload", "rate", "slo", "model"] as const) {
        if (flags[flag] !== undefined) throw new UsageError(`--${flag} goes with the flags form; the stack's entry declares it`);
      }
      target = stackTarget(stack, flags.entry, flags["stacks-dir"]);
      const e = target.entry;
      let requests: ReplayRequest[];
      try {
        requests = workloadRequests(e.traffic!.workload, seed);
      } catch (err) {
        if (err instanceof ReplayInputError) throw new UsageError(`${target.keyPath}.traffic.workload: ${err.message}`);
        throw err;
      }
      input = {
        ...search, model: e.model, requests, peakRequestsPerSecond: e.traffic!.peakRequestsPerSecond, slo: e.slo as Slo,
        headroomPercent: numberFlag("headroom", flags.headroom, target.headroomPercent, { min: 0, max: 1000 }),
        common: {
          ...(e.maxModelLen !== undefined ? { maxModelLen: e.maxModelLen } : {}), gpuMemoryUtilization: e.gpuMemoryUtilization, blockSize: e.blockSize,
          kvCacheDtype: e.kvCacheDtype, enablePrefixCaching: e.enablePrefixCaching,
        },
      };
    } else {
      if (flags.entry !== undefined || flags["stacks-dir"] !== undefined) throw new UsageError("--entry and --stacks-dir go with a stack: gpk plan serving <stack> --entry <name>");
      for (const flag of ["workload", "rate", "slo", "model"] as const) requiredFlag(flag, flags[flag], "without a stack, gpk plan serving takes --workload, --rate, --slo and --model");
      if (!findModel(flags.model!)) throw new UsageError(`--model: unknown model ${JSON.stringify(flags.model)}; presets: ${modelNames().join(", ")}`);
      let slo: Slo;
      try {
        slo = parseSlo(flags.slo!);
      } catch (err) {
        if (err instanceof SloError) throw new UsageError(`--slo: ${err.message}`);
        throw err;
      }
      input = {
        ...search, model: flags.model!, requests: flagWorkload(flags.workload!, seed), slo,
        peakRequestsPerSecond: numberFlag("rate", flags.rate, 0, { min: 1e-6, max: 1e9 }),
        headroomPercent: numberFlag("headroom", flags.headroom, POLICY_CONFIG.headroomPercent.default, { min: 0, max: 1000 }),
      };
    }
    const rayAddress = flags["ray-address"];
    if (rayAddress !== undefined && flags.workers !== undefined) throw new UsageError("--workers and --ray-address exclude each other");
    if (rayAddress === undefined && (flags["ray-python"] !== undefined || flags["ray-task-cpus"] !== undefined)) throw new UsageError("--ray-python and --ray-task-cpus go with --ray-address");
    if (rayAddress !== undefined && rayAddress.trim() === "") throw new UsageError("--ray-address: expected an address such as 10.0.0.5:6379, ray://host:10001 or auto");
    // The report's path before the search, which takes minutes.
    const htmlProblem = flags.html === undefined ? undefined : writablePathProblem("--html", flags.html, "file");
    if (htmlProblem) throw new UsageError(htmlProblem);
    const workers = numberFlag("workers", flags.workers, os.availableParallelism(), { min: 1, max: 1024, integer: true });
    const rayNodes = new Set<string>();
    const runner: Runner = rayAddress !== undefined
      ? rayRunner({
        address: rayAddress, nodesSeen: rayNodes, python: flags["ray-python"] ?? process.env.GPK_RAY_PYTHON ?? "python3",
        taskCpus: numberFlag("ray-task-cpus", flags["ray-task-cpus"], 1, { min: 0.01, max: 1024 }),
      })
      : threadsRunner(workers);
    const backend = rayAddress !== undefined ? "ray" : "threads";

    progress(`planning ${input.model} for ${input.peakRequestsPerSecond} req/s within ${formatSlo(input.slo)} (${input.requests.length} requests, seed ${seed}, ` +
      `headroom ${input.headroomPercent}%) on ${backend === "ray" ? `Ray at ${rayAddress}` : `${workers} worker thread(s)`}`);
    const started = process.hrtime.bigint();
    let plan: Plan;
    try {
      plan = await runPlan(input, runner, (r, done, total) =>
        progress(`[${done}/${total}] ${r.id}: ${r.fits ? `${r.maxRatePerReplica} req/s per replica within the SLO (${r.limit === "none" ? "none meets it" : `${r.limit}-bound`}, ${r.curve.length} replays)` : "does not start"}`));
    } catch (err) {
      if (err instanceof RayBackendError) throw new UsageError(`--ray-address: ${err.message}`);
      throw err;
    }
    const wallSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    progress(`searched ${Object.keys(plan.curves).length} configuration(s) in ${wallSeconds.toFixed(1)} s` + (backend === "ray" ? `; the tasks ran on ${rayNodes.size} Ray node(s)` : ""));

    if (flags.html !== undefined) {
      try {
        fs.writeFileSync(flags.html, planReportHtml(plan, { model: input.model, peakRequestsPerSecond: input.peakRequestsPerSecond, slo: input.slo, headroomPercent: input.headroomPercent, seed, stack: target?.stack, entry: target?.entry.name }));
      } catch (err) {
        throw new UsageError(`--html: cannot write ${flags.html}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
      progress(`wrote ${flags.html}`);
    }
    if (flags.json) {
      printJson({
        ...(target ? { stack: target.stack, entry: target.entry.name } : {}),
        candidates: plan.candidates, best: plan.best, pareto: plan.pareto, backend, wallSeconds: Math.round(wallSeconds * 1000) / 1000,
        ...(target ? { configChange: plan.best ? configChange(target, plan.best) : null } : {}),
      });
    } else {
      process.stdout.write(`${table(plan)}\n\n`);
      process.stdout.write(`Pareto set (cost vs p99 TTFT at peak):\n${plan.pareto.map((c) => `  ${describe(c)}`).join("\n") || "  (none meets the SLO)"}\n\n`);
      process.stdout.write(plan.best ? `Best: ${describe(plan.best)}\n` : `No candidate meets ${formatSlo(input.slo)} at any rate.\n`);
      if (target && plan.best) {
        const change = configChange(target, plan.best);
        process.stdout.write(`Apply to ${change.entry}: ${Object.entries(change.set).map(([k, v]) => `${k}: ${v}`).join(", ")}` +
          (change.pool.change ? `, on a pool of ${change.pool.instanceType} (today: ${target.pool.instanceType ?? target.pool.name})` : "") + "\n");
      }
    }
    return ExitCode.Ok;
  },
};
