/**
 * `npm run bench:fidelity`: replays published vLLM serving-benchmark runs through `gpk serve
 * --replay`'s code (runtime/serving/replay.ts) and compares what the simulator reports with
 * what was published, run by run. Writes docs/serving-fidelity.md and prints the table.
 *
 * The runs (data/vllm-benchmark, LambdaLabsML/vllm-benchmark at a4f9f437): ShareGPT prompts
 * with their published per-request input and output token counts, all sent at once, against
 * Llama-3-8B-Instruct on 1×H100 and Llama-3-70B-Instruct on 4×H100 (TP4), max-model-len 2048,
 * 10 to 1,280 requests. Runs with 10, 40, 160 and 640 requests form the calibration set; 20, 80,
 * 320 and 1,280 the validation set, which no constant of the timing model is fitted on.
 *
 * Engine settings are the runs' own: the harness that wrote these files (benchmark.py at
 * 29dd18a66f98b7c12ded0a85b603318a2764c7cd, whose output path matches them) started vLLM with
 * `--max-model-len 2048 --gpu-memory-utilization 0.95 --max-num-seqs 1024` and no other engine
 * flag, so chunked prefill was off (vLLM's V0 default below 32k context).
 *
 * `--fit` instead scans the executor's forward-pass efficiency over the calibration runs and
 * prints the mean |log(sim ÷ published)| of the three metrics for each value.
 *
 * Compared: output throughput and median TPOT (the issue's ±15% bar) and mean TTFT (±30%).
 * Two things about the published numbers matter here:
 * - requests that generated no text count as completed with a TTFT of 0 (the benchmark's
 *   client records no first chunk), which lowers the published TTFT mean, most for 70B (up to
 *   a quarter of the requests); the simulated mean is counted the same way;
 * - streamed chunks carried about 10 tokens each, so published ITL is per chunk and is not
 *   compared.
 *
 *   npm run bench:fidelity [-- --fit]
 */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { VLLM_BENCHMARK_DIR } from "../data/paths";
import { resolveEngineConfig, type EngineConfig } from "../runtime/serving/engine/config";
import { FORWARD_EFFICIENCY } from "../runtime/serving/engine/executor";
import { replayWorkload, type ReplayReport } from "../runtime/serving/replay";

interface PublishedRun {
  run: string;
  source: { repo: string; path: string; commit: string; date: string };
  model: string;
  tensorParallelSize: number;
  maxModelLen: number;
  numPrompts: number;
  published: Record<string, number>;
  inputLens: number[];
  outputLens: number[];
}

const CALIBRATION = new Set([10, 40, 160, 640]);
/** The harness's server flags (benchmark.py @29dd18a6). */
const SERVER = { gpuMemoryUtilization: 0.95, maxNumSeqs: 1024, enableChunkedPrefill: false };
const { runs } = JSON.parse(readFileSync(path.join(VLLM_BENCHMARK_DIR, "lambdalabs-h100-2024-09-07.json"), "utf8")) as { runs: PublishedRun[] };

interface Row {
  run: PublishedRun;
  set: "calibration" | "validation";
  sim: ReplayReport;
  /** Mean TTFT counted as the benchmark's client counts it (0 for a request with no text). */
  clientTtftMs: number;
  ratios: { outputTokensPerS: number; medianTpot: number; meanTtft: number };
}

function replayRun(run: PublishedRun, timing?: EngineConfig["timing"]): { sim: ReplayReport; clientTtftMs: number; ratios: Row["ratios"] } {
  const config = { ...resolveEngineConfig({ model: run.model, gpu: "h100", tensorParallelSize: run.tensorParallelSize, maxModelLen: run.maxModelLen, ...SERVER }), timing };
  // As the benchmark's client saw it: a request that streamed no text has a TTFT of 0.
  let clientTtftSum = 0;
  const sim = replayWorkload(config, run.inputLens.map((inputTokens, i) => ({ inputTokens, outputTokens: run.outputLens[i]! })), {
    onCompleted: (i, t) => (clientTtftSum += run.outputLens[i]! === 0 ? 0 : t.ttftS * 1000),
  });
  const clientTtftMs = clientTtftSum / sim.completed;
  const p = run.published;
  return {
    sim, clientTtftMs,
    ratios: { outputTokensPerS: sim.outputTokensPerS / p.output_throughput!, medianTpot: sim.tpotMs.p50 / p.median_tpot_ms!, meanTtft: clientTtftMs / p.mean_ttft_ms! },
  };
}

const meanAbsLog = (ratios: Row["ratios"][]) => ratios.reduce((s, r) => s + Math.abs(Math.log(r.outputTokensPerS)) + Math.abs(Math.log(r.medianTpot)) + Math.abs(Math.log(r.meanTtft)), 0) / (3 * ratios.length);

if (process.argv.includes("--fit")) {
  const calibration = runs.filter((r) => CALIBRATION.has(r.numPrompts));
  let best = { value: NaN, error: Infinity };
  for (let value = 0.4; value <= 0.9001; value += 0.01) {
    const error = meanAbsLog(calibration.map((run) => replayRun(run, { forwardEfficiency: value }).ratios));
    process.stdout.write(`forward efficiency ${value.toFixed(2)}: mean |log ratio| ${error.toFixed(4)} over ${calibration.length} calibration runs\n`);
    if (error < best.error) best = { value, error };
  }
  process.stdout.write(`best: ${best.value.toFixed(2)} (the executor uses ${FORWARD_EFFICIENCY})\n`);
  process.exit(0);
}

const rows: Row[] = runs.map((run) => ({ run, set: CALIBRATION.has(run.numPrompts) ? "calibration" : "validation", ...replayRun(run) }));

const f1 = (x: number) => x.toFixed(1);
const f2 = (x: number) => x.toFixed(2);
const within = (ratio: number, tolerance: number) => Math.abs(ratio - 1) <= tolerance;
const label = (r: PublishedRun) => `${r.model === "llama-3-70b" ? "70B, 4×H100 TP4" : "8B, 1×H100"}, ${r.numPrompts} req`;
const table = [
  "| run | set | output tok/s published / sim (ratio) | median TPOT ms published / sim (ratio) | mean TTFT ms published / sim (ratio) |",
  "|---|---|---|---|---|",
  ...rows.map(({ run, set, sim, clientTtftMs, ratios }) => {
    const p = run.published;
    return `| ${label(run)} | ${set} | ${f1(p.output_throughput!)} / ${f1(sim.outputTokensPerS)} (${f2(ratios.outputTokensPerS)}) | ${f2(p.median_tpot_ms!)} / ${f2(sim.tpotMs.p50)} (${f2(ratios.medianTpot)}) | ${f1(p.mean_ttft_ms!)} / ${f1(clientTtftMs)} (${f2(ratios.meanTtft)}) |`;
  }),
].join("\n");

const validation = rows.filter((r) => r.set === "validation");
const meetsBar = (r: Row) => within(r.ratios.outputTokensPerS, 0.15) && within(r.ratios.medianTpot, 0.15) && within(r.ratios.meanTtft, 0.3);
const worst = (key: keyof Row["ratios"]) => Math.max(...validation.map((r) => Math.abs(r.ratios[key] - 1)));
const summary = [
  `Validation runs within the bar (output tok/s and median TPOT ±15%, mean TTFT ±30%): ${validation.filter(meetsBar).length} of ${validation.length}.`,
  `Largest validation error: output tok/s ${(100 * worst("outputTokensPerS")).toFixed(0)}%, median TPOT ${(100 * worst("medianTpot")).toFixed(0)}%, mean TTFT ${(100 * worst("meanTtft")).toFixed(0)}%.`,
].join("\n");
process.stdout.write(`${table}\n\n${summary}\n`);

const doc = [
  "# Serving fidelity: `gpk serve --replay` against published vLLM runs (written by `npm run bench:fidelity`)",
  "",
  "Each row replays one published run of vLLM's serving benchmark with its own per-request input and output token counts,",
  "all requests sent at once, on the simulated H100s (runtime/serving/replay.ts), and sets the simulator's figures beside the published ones.",
  "A ratio is simulated ÷ published. The runs with 10, 40, 160 and 640 requests are the calibration set; the others validate.",
  "",
  "Source: LambdaLabsML/vllm-benchmark, commit a4f9f4371a1ccac781293837fce2bce0cc6d25cc, runs dated 2024-09-07:",
  "ShareGPT, `--request-rate inf`, Meta-Llama-3-8B-Instruct (TP1) and Meta-Llama-3-70B-Instruct (TP4) on H100-80GB-SXM. Each run's file is named in data/vllm-benchmark.",
  "The harness that wrote them (benchmark.py at 29dd18a66f98b7c12ded0a85b603318a2764c7cd) started vLLM with `--max-model-len 2048 --gpu-memory-utilization 0.95 --max-num-seqs 1024`,",
  "so chunked prefill was off (V0's default below 32k context); the replay uses the same settings (`--no-enable-chunked-prefill`).",
  `The executor's fitted constants: forward-pass efficiency ${FORWARD_EFFICIENCY} (from \`npm run bench:fidelity -- --fit\` on the calibration runs), all-reduce latency 21 µs (from the 70B calibration run with 10 requests).`,
  "",
  table,
  "",
  summary,
  "",
  "Reading the published figures:",
  "- Requests that produced no text count as completed with a TTFT of 0, which lowers the published TTFT mean (up to a quarter of the 70B requests). The simulated mean TTFT in the table is counted the same way; `gpk serve --replay` itself reports every request's real TTFT.",
  "- Streamed chunks carried about 10 tokens each, so published ITL is per chunk; it is not compared.",
  "",
].join("\n");
writeFileSync(path.join(__dirname, "..", "docs", "serving-fidelity.md"), doc);
process.stderr.write("bench:fidelity: wrote docs/serving-fidelity.md\n");
