/**
 * `npm run bench:fidelity`: replays published vLLM serving-benchmark runs through `gpk serve
 * --replay`'s code (runtime/serving/replay.ts) and compares what the simulator reports with
 * what was published, run by run, for both engines the simulator models. Writes
 * docs/serving-fidelity.md and prints the tables.
 *
 * V1 (`--engine v1`, the default): GPUStack's vLLM v0.11.0 runs on one H100 (bench/fidelity-v1-runs.ts,
 * data/vllm-v1-benchmark), each marked calibration or validation in the data. Compared: output
 * throughput, median TPOT and median ITL (±15%) and median TTFT (±30%).
 *
 * V0 (`--engine v0`): the runs (data/vllm-benchmark, LambdaLabsML/vllm-benchmark at a4f9f437): ShareGPT prompts
 * with their published per-request input and output token counts, all sent at once, against
 * Llama-3-8B-Instruct on 1×H100 and Llama-3-70B-Instruct on 4×H100 (TP4), max-model-len 2048,
 * 10 to 1,280 requests. Runs with 20, 40, 160 and 640 requests form the calibration set; 10, 80,
 * 320 and 1,280 the validation set, which no constant of the timing model is fitted on: it
 * holds a low load (10 requests, so at most 10 in flight) and high ones (320 and 1,280 at once)
 * for both models, on 1 GPU and under TP4.
 *
 * Engine settings are the runs' own: the harness's server flags (bench/fidelity-runs.ts, which
 * loads and replays the runs for this bench and for test/serving/fidelity.test.ts).
 *
 * `--fit [--engine v1|v0]` instead fits that engine's timing constants (runtime/serving/engine/
 * timing.ts) on its calibration runs, by coordinate descent over a grid each (FIT_GRIDS),
 * minimising the mean |log(sim ÷ published)| of the compared metrics, and prints each round's
 * point.
 *
 * Compared: output throughput and median TPOT (the issue's ±15% bar) and mean TTFT (±30%).
 * Two things about the published numbers matter here:
 * - requests that generated no text count as completed with a TTFT of 0 (the benchmark's
 *   client records no first chunk), which lowers the published TTFT mean, most for 70B (up to
 *   a quarter of the requests); the simulated mean is counted the same way;
 * - streamed chunks carried about 10 tokens each, so published ITL is per chunk and is not
 *   compared.
 *
 *   npm run bench:fidelity [-- --fit [--engine v1|v0] [--only <constant,…>]]
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import type { EngineVersion, TimingConstants } from "../runtime/serving/engine/config";
import { ENGINE_TIMING, V0_TIMING, V1_TIMING } from "../runtime/serving/engine/timing";
import type { ReplayReport } from "../runtime/serving/replay";
import { CALIBRATION, PUBLISHED_RUNS, meetsBar, replayPublishedRun, type FidelityRatios, type PublishedRun } from "./fidelity-runs";
import { V1_METRICS, V1_RUNS, meetsV1Bar, replayV1Run, v1MetricsOf, type PublishedV1Run, type V1Metric } from "./fidelity-v1-runs";

interface Row {
  run: PublishedRun;
  set: "calibration" | "validation";
  sim: ReplayReport;
  /** Mean TTFT counted as the benchmark's client counts it (0 for a request with no text). */
  clientTtftMs: number;
  ratios: FidelityRatios;
}

const meanAbsLog = (ratios: object[]) => {
  const logs = ratios.flatMap((r) => Object.values(r).map((x: number) => Math.abs(Math.log(x))));
  return logs.reduce((a, b) => a + b, 0) / logs.length;
};

/** The constants `--fit` chooses for each engine, each over its grid; the others stay as they are. */
const FIT_GRIDS: Record<EngineVersion, Partial<Record<keyof TimingConstants, number[]>>> = {
  v0: {
    forwardEfficiency: steps(0.4, 1, 0.02),
    memoryEfficiency: steps(0.6, 0.95, 0.01),
    stepOverheadS: steps(0.0005, 0.0025, 0.0001),
    allReduceLatencyS: steps(0, 40e-6, 1e-6),
    frontEndSecondsPerRequest: steps(0, 0.005, 0.00025),
    overlapPenalty: steps(0, 1, 0.05),
  },
  // Coarser grids: a V1 calibration pass replays long prompts and takes seconds.
  v1: {
    allReduceLatencyS: steps(0, 40e-6, 4e-6),
    forwardEfficiency: steps(0.5, 0.7, 0.03),
    memoryEfficiency: steps(0.76, 0.9, 0.02),
    kvMemoryEfficiency: steps(0.35, 0.65, 0.05),
    stepOverheadS: steps(0.0006, 0.0024, 0.0003),
    overlapPenalty: steps(0, 0.6, 0.1),
    frontEndSecondsPerRequest: steps(0.012, 0.024, 0.002),
    frontEndSecondsPerToken: steps(0, 0.0007, 0.00005),
    frontEndLatencyS: steps(0.016, 0.046, 0.005),
  },
};

function steps(from: number, to: number, step: number): number[] {
  return Array.from({ length: Math.round((to - from) / step) + 1 }, (_, i) => Math.round((from + i * step) * 1e7) / 1e7);
}

function fit(engine: EngineVersion): void {
  // Coordinate descent over the calibration runs: each constant in turn is set to the best of
  // its grid with the others held, until a whole round changes none.
  const v0Calibration = PUBLISHED_RUNS.filter((r) => CALIBRATION.has(r.numPrompts));
  const v1Calibration = V1_RUNS.filter((r) => r.set === "calibration");
  const errorAt = (point: TimingConstants) =>
    engine === "v0" ? meanAbsLog(v0Calibration.map((run) => replayPublishedRun(run, point).ratios)) : meanAbsLog(v1Calibration.map((run) => replayV1Run(run, point).ratios));
  // `--only a,b` fits those constants alone, the others held at their values in timing.ts.
  const at = process.argv.indexOf("--only");
  const only = at < 0 ? undefined : process.argv[at + 1]!.split(",");
  const unknown = only?.find((k) => FIT_GRIDS[engine][k as keyof TimingConstants] === undefined);
  if (unknown !== undefined) {
    process.stderr.write(`bench:fidelity: --only: ${JSON.stringify(unknown)} has no ${engine} grid; one of ${Object.keys(FIT_GRIDS[engine]).join(", ")}\n`);
    process.exit(2);
  }
  const grid = only ? Object.fromEntries(only.map((k) => [k, FIT_GRIDS[engine][k as keyof TimingConstants]])) : FIT_GRIDS[engine];
  let point: TimingConstants = { ...ENGINE_TIMING[engine] };
  let error = errorAt(point);
  const runs = engine === "v0" ? v0Calibration.length : v1Calibration.length;
  process.stdout.write(`${engine} start ${JSON.stringify(point)}: mean |log ratio| ${error.toFixed(4)} over ${runs} calibration runs\n`);
  for (let round = 1, changed = true; changed && round <= 10; round++) {
    changed = false;
    for (const key of Object.keys(grid) as (keyof TimingConstants)[]) {
      for (const value of grid[key]!) {
        const candidate = { ...point, [key]: value };
        const e = errorAt(candidate);
        if (e < error - 1e-9) {
          point = candidate;
          error = e;
          changed = true;
        }
      }
      process.stdout.write(`round ${round}, ${key}: ${JSON.stringify(point)}: mean |log ratio| ${error.toFixed(4)}\n`);
    }
  }
  process.stdout.write(`best: ${JSON.stringify(point)} (mean |log ratio| ${error.toFixed(4)})\n`);
}

if (process.argv.includes("--fit")) {
  const at = process.argv.indexOf("--engine");
  const engine = (at < 0 ? "v1" : process.argv[at + 1]) as EngineVersion;
  if (engine !== "v0" && engine !== "v1") {
    process.stderr.write(`bench:fidelity: --engine: expected v1 or v0, got ${JSON.stringify(engine)}\n`);
    process.exit(2);
  }
  fit(engine);
  process.exit(0);
}

const rows: Row[] = PUBLISHED_RUNS.map((run) => ({ run, set: CALIBRATION.has(run.numPrompts) ? "calibration" : "validation", ...replayPublishedRun(run) }));

const f1 = (x: number) => x.toFixed(1);
const f2 = (x: number) => x.toFixed(2);
const cell = (published: number, sim: number, ratio: number, digits: (x: number) => string) => `${digits(published)} / ${digits(sim)} (${f2(ratio)})`;
const pct = (x: number) => `${(100 * x).toFixed(0)}%`;

// V1: GPUStack's vLLM v0.11.0 runs, calibration first.
const v1Rows = (["calibration", "validation"] as const).flatMap((set) => V1_RUNS.filter((r) => r.set === set).map((run) => ({ run, ...replayV1Run(run) })));
const v1Label = (r: PublishedV1Run) => {
  const input = r.lengths ? `${r.lengths.input}${r.lengths.rangeRatio > 0 ? ` ±${100 * r.lengths.rangeRatio}%` : ""}` : `${Math.round(r.published.total_input_tokens! / r.numPrompts)}`;
  const load = r.maxConcurrency !== null ? `concurrency ${r.maxConcurrency}` : r.requestRate === "inf" ? `${r.numPrompts} at once` : `${r.numPrompts} at ${r.requestRate} req/s`;
  return `${r.model}, ${r.tensorParallelSize}×H100, ${r.dataset === "sharegpt" ? "ShareGPT" : `random, ${input} tokens in`}, ${load}`;
};
// One column per kind of figure; a run's cell holds the statistic its source published (median, mean or P99).
const V1_COLUMNS: { title: string; metrics: V1Metric[]; digits: (x: number) => string }[] = [
  { title: "output tok/s", metrics: ["output_throughput"], digits: f1 },
  { title: "TPOT ms", metrics: ["median_tpot_ms", "mean_tpot_ms"], digits: f2 },
  { title: "median ITL ms", metrics: ["median_itl_ms"], digits: f2 },
  { title: "TTFT ms", metrics: ["median_ttft_ms", "p99_ttft_ms"], digits: f1 },
];
const v1Cell = (run: PublishedV1Run, sim: ReplayReport, column: (typeof V1_COLUMNS)[number]) =>
  column.metrics
    .filter((m) => v1MetricsOf(run).includes(m))
    .map((m) => `${column.metrics.length > 1 ? `${m.split("_")[0]} ` : ""}${cell(run.published[m]!, V1_METRICS[m].sim(sim), V1_METRICS[m].sim(sim) / run.published[m]!, column.digits)}`)
    .join("<br>") || "—";
const v1Table = [
  `| run | set | engine | ${V1_COLUMNS.map((c) => `${c.title} published / sim (ratio)`).join(" | ")} | in the bar |`,
  `|---|---|---|${V1_COLUMNS.map(() => "---").join("|")}|---|`,
  ...v1Rows.map(({ run, sim, ratios }) => `| ${v1Label(run)} | ${run.set} | ${run.engine.split(" (")[0]!.split(";")[0]} | ${V1_COLUMNS.map((c) => v1Cell(run, sim, c)).join(" | ")} | ${meetsV1Bar(ratios) ? "yes" : "no"} |`),
].join("\n");
const v1Validation = v1Rows.filter((r) => r.run.set === "validation");
const v1Worst = (metric: V1Metric) => {
  const errors = v1Validation.flatMap((r) => (r.ratios[metric] === undefined ? [] : [Math.abs(r.ratios[metric]! - 1)]));
  return errors.length === 0 ? "none published" : pct(Math.max(...errors));
};
const v1Summary = [
  `V1 validation runs within the bar (output tok/s, TPOT and ITL ±15%, TTFT ±30%, each as published): ${v1Validation.filter((r) => meetsV1Bar(r.ratios)).length} of ${v1Validation.length}.`,
  `Largest V1 validation error: ${(Object.keys(V1_METRICS) as V1Metric[]).map((m) => `${V1_METRICS[m].label.replace(/ ms$/, "")} ${v1Worst(m)}`).join(", ")}.`,
].join("\n");

// V0: LambdaLabs' runs.
const label = (r: PublishedRun) => `${r.model === "llama-3-70b" ? "70B, 4×H100 TP4" : "8B, 1×H100"}, ${r.numPrompts} req`;
const table = [
  "| run | set | output tok/s published / sim (ratio) | median TPOT ms published / sim (ratio) | mean TTFT ms published / sim (ratio) |",
  "|---|---|---|---|---|",
  ...rows.map(({ run, set, sim, clientTtftMs, ratios }) => {
    const p = run.published;
    return `| ${label(run)} | ${set} | ${cell(p.output_throughput!, sim.outputTokensPerS, ratios.outputTokensPerS, f1)} | ${cell(p.median_tpot_ms!, sim.tpotMs.p50, ratios.medianTpot, f2)} | ${cell(p.mean_ttft_ms!, clientTtftMs, ratios.meanTtft, f1)} |`;
  }),
].join("\n");
const validation = rows.filter((r) => r.set === "validation");
const worst = (key: keyof Row["ratios"]) => Math.max(...validation.map((r) => Math.abs(r.ratios[key] - 1)));
const summary = [
  `V0 validation runs within the bar (output tok/s and median TPOT ±15%, mean TTFT ±30%): ${validation.filter((r) => meetsBar(r.ratios)).length} of ${validation.length}.`,
  `Largest V0 validation error: output tok/s ${pct(worst("outputTokensPerS"))}, median TPOT ${pct(worst("medianTpot"))}, mean TTFT ${pct(worst("meanTtft"))}.`,
].join("\n");
process.stdout.write(`V1\n${v1Table}\n\n${v1Summary}\n\nV0\n${table}\n\n${summary}\n`);

const constants = (t: TimingConstants) =>
  `forward-pass efficiency ${t.forwardEfficiency}, memory-bandwidth efficiency ${t.memoryEfficiency} (weights) and ${t.kvMemoryEfficiency} (KV cache), ` +
  `step overhead ${f2(t.stepOverheadS * 1000)} ms, all-reduce latency ${f1(t.allReduceLatencyS * 1e6)} µs, compute/memory overlap penalty ${t.overlapPenalty}, ` +
  `front end ${f2(t.frontEndSecondsPerRequest * 1000)} ms per request, ${f2(t.frontEndSecondsPerToken * 1000)} ms per streamed token, ${f2(t.frontEndLatencyS * 1000)} ms latency`;
const doc = [
  "# Serving fidelity: `gpk serve --replay` against published vLLM runs (written by `npm run bench:fidelity`)",
  "",
  "Each row replays one published run of vLLM's serving benchmark on the simulated GPUs (runtime/serving/replay.ts) and sets the simulator's figures",
  "beside the published ones. A ratio is simulated ÷ published. Each engine has its own timing constants (runtime/serving/engine/timing.ts),",
  "fitted on that engine's calibration runs only by `npm run bench:fidelity -- --fit --engine <v1|v0>`; the validation runs are not used in any fit.",
  "",
  "## V1 engine (`--engine v1`, the default)",
  "",
  "Sources (data/vllm-v1-benchmark; data/README.md cites each page, commit and figure):",
  "- gpustack/gpustack's performance-lab pages: vLLM v0.11.0 started as `vllm serve <model>` with no other flag on one H100 SXM, measured with",
  "  `vllm bench serve --backend openai-chat`. Qwen3-8B on ShareGPT at a fixed concurrency of 1 to 8 (100 requests), and Qwen3-14B on the random",
  "  dataset with all requests at once (32,000, 4,000, 2,000 and 128 input tokens). The pages give totals, not per-request lengths: each replayed",
  "  request gets the mean input length; bench/fidelity-v1-runs.ts says how outputs are shared out.",
  "- vLLM's blog (vllm-project/vllm-project.github.io): Llama-3.1-8B on one H100, 150 requests of ~20k input and ~2k output tokens (±15%) at",
  "  concurrency 8 (\"The State of FP8 KV-Cache\", Table 4, BF16); Llama-3.3-70B-Instruct on 4×H100 (tensor parallel 4), vLLM 0.20.2, 300 requests",
  "  of 1,024 input and 512 output tokens at 2 and 8 requests/s (Poisson) and all at once (the TurboQuant post's Figures 12 and 14, BF16: mean TPOT",
  "  and P99 TTFT, read off the PNGs, so ±0.3 ms and ±20–100 ms). Lengths are drawn as vLLM's random dataset draws them, from a fixed seed.",
  "The replay runs V1's defaults for each server (chunked prefill, 8,192-token budget and 1,024 sequences on an H100, prefix caching).",
  "Each run is compared on what its source published: the median where there is one, else the mean TPOT or P99 TTFT.",
  `V1 constants: ${constants(V1_TIMING)}.`,
  "",
  v1Table,
  "",
  v1Summary,
  "",
  "Why the runs from vLLM's blog miss, and why no refit closes it: on the same GPU product they show compute and KV-cache reads much faster than",
  "GPUStack's runs do, and one set of constants cannot hold both sources.",
  "- Prefill. Llama-3.3-70B's 300 prompts at once reach their P99 first token after 16.9 s: ≥ 640 TFLOP/s per GPU of matmul work, 0.94 of the",
  "  678 TFLOP/s the kit measured for bf16 matmuls on an H100 at its 700 W cap; Llama-3.1-8B's 20k-token prompts imply about 0.8 of it. GPUStack's",
  "  Qwen3-14B prefills (2k to 32k tokens, hundreds at once) hold at 0.59 of it, the fitted forward-pass share. Hence TTFT 1.5× (8B) and 2.1–2.7× (70B).",
  "- KV-cache reads. Llama-3.1-8B decoding 8 × ~21k-token contexts steps in 15.2 ms (median ITL): weights and KV read at about 0.85 of datasheet",
  "  bandwidth (the post's single-request fit, 4.37e-5 ms per context token, is 0.9 for the KV). GPUStack's Qwen3-14B steps over a full KV cache",
  "  (2k, 4k and 32k prompts alike) take 44–46 ms, which needs 0.4 for the KV. At 0.85 those three runs' median ITL falls to 0.6× published;",
  "  at 0.4 this run's is 1.55× and its output throughput 0.64×.",
  "- Tensor parallelism. At 2 requests/s (about 20 in flight, few prefills) Llama-3.3-70B's mean TPOT is 1.24× published: 160 all-reduces a",
  "  step at V0's 21 µs are 3.4 ms of a 24 ms step. The only TP calibration run is prefill-bound, and refitting the latency on it barely",
  "  moves the error (0.0747 at 21 µs, 0.0744 at 0), so V0's value stays; fitting it on this validation run would be fitting on validation.",
  "The sources differ in vLLM version (0.11.0 against 0.19–0.20, whose FlashAttention-3 decode and compile paths changed) and in machines",
  "neither describes beyond \"H100\" (clocks, power limit, cooling); the step model has no term for either. Closing the gap needs published runs",
  "from one source that span both regimes (or the kit's own measurement on a lent H100 with model weights, which this machine could not fetch).",
  "",
  "## V0 engine (`--engine v0`)",
  "",
  "Source: LambdaLabsML/vllm-benchmark, commit a4f9f4371a1ccac781293837fce2bce0cc6d25cc, runs dated 2024-09-07:",
  "ShareGPT, `--request-rate inf`, Meta-Llama-3-8B-Instruct (TP1) and Meta-Llama-3-70B-Instruct (TP4) on H100-80GB-SXM, each request's own input and output token counts.",
  "The harness that wrote them (benchmark.py at 29dd18a66f98b7c12ded0a85b603318a2764c7cd) started vLLM with `--max-model-len 2048 --gpu-memory-utilization 0.95 --max-num-seqs 1024`,",
  "so chunked prefill was off (V0's default below 32k context); the replay uses the same settings (`--engine v0 --no-enable-chunked-prefill`).",
  `The runs with ${[...CALIBRATION].join(", ")} requests are the calibration set; the others validate. V0 constants: ${constants(V0_TIMING)}.`,
  "The published runs streamed about 10 tokens per chunk, the mark of V0's multi-step scheduling (`--num-scheduler-steps 10`, though the harness's",
  "command line does not show it); the replay steps one token at a time.",
  "",
  table,
  "",
  summary,
  "",
  "Reading the published V0 figures:",
  "- Requests that produced no text count as completed with a TTFT of 0, which lowers the published TTFT mean (up to a quarter of the 70B requests). The simulated mean TTFT in the table is counted the same way; `gpk serve --replay` itself reports every request's real TTFT.",
  "- Streamed chunks carried about 10 tokens each, so published ITL is per chunk; it is not compared.",
  "",
].join("\n");
writeFileSync(path.join(__dirname, "..", "docs", "serving-fidelity.md"), doc);
process.stderr.write("bench:fidelity: wrote docs/serving-fidelity.md\n");
