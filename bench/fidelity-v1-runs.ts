/**
 * The published vLLM V1-engine runs of docs/serving-fidelity.md and how one is replayed, shared
 * by `npm run bench:fidelity` (bench/fidelity.ts) and test/serving/fidelity.test.ts.
 *
 * Sources (data/README.md cites each): data/vllm-v1-benchmark/
 * - gpustack-h100-vllm-0.11.0.json (gpustack/gpustack's performance-lab pages): vLLM v0.11.0
 *   started as `vllm serve <model>` with no other flag, measured by `vllm bench serve` over the
 *   chat endpoint; the pages publish totals, not per-request lengths, so each replayed request
 *   gets the run's mean input length and its share of the total output (v1Requests);
 * - vllm-blog-h100.json (vLLM's blog): Llama-3.1-8B on one H100 with ~20k-token prompts at
 *   concurrency 8, and Llama-3.3-70B on 4×H100 at 2 and 8 requests/s and all at once; each run
 *   gives the lengths its harness drew (`lengths`: vLLM's random dataset, uniform within
 *   ±rangeRatio of the asked length).
 * No run names an engine flag the replay could not set, so every engine setting is V1's default
 * for an API server on the run's GPUs (engine/config.ts resolves the same defaults).
 * Each run is marked calibration (the V1 timing constants are fitted on it) or validation (no
 * constant is), and is compared on the metrics its source published (V1_METRICS).
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { VLLM_V1_BENCHMARK_DIR } from "../data/paths";
import { resolveEngineConfig, type EngineConfig } from "../runtime/serving/engine/config";
import { replayWorkload, type ReplayReport, type ReplayRequest } from "../runtime/serving/replay";
import { mulberry32 } from "../runtime/scheduling/rng";

export interface PublishedV1Run {
  run: string;
  set: "calibration" | "validation";
  source: { repo: string; path: string; commit: string; section: string };
  engine: string;
  gpu: "h100";
  tensorParallelSize: number;
  model: string;
  server: string;
  client: string;
  dataset: "sharegpt" | "random";
  numPrompts: number;
  maxConcurrency: number | null;
  requestRate: "inf" | number;
  /** The lengths the harness was told to draw, where the source gives them instead of totals. */
  lengths?: { input: number; output: number; rangeRatio: number };
  published: Record<string, number>;
}

const load = (file: string) => (JSON.parse(readFileSync(path.join(VLLM_V1_BENCHMARK_DIR, file), "utf8")) as { runs: PublishedV1Run[] }).runs;

export const V1_RUNS: readonly PublishedV1Run[] = [...load("gpustack-h100-vllm-0.11.0.json"), ...load("vllm-blog-h100.json")];

/**
 * The metrics a V1 run can be compared on: the published key (vLLM's result names), the
 * simulated figure, and the bar. Throughput, TPOT and ITL within ±15%, TTFT within ±30%.
 */
export const V1_METRICS = {
  output_throughput: { label: "output tok/s", sim: (r: ReplayReport) => r.outputTokensPerS, tolerance: 0.15 },
  median_tpot_ms: { label: "median TPOT ms", sim: (r: ReplayReport) => r.tpotMs.p50, tolerance: 0.15 },
  mean_tpot_ms: { label: "mean TPOT ms", sim: (r: ReplayReport) => r.tpotMs.mean, tolerance: 0.15 },
  median_itl_ms: { label: "median ITL ms", sim: (r: ReplayReport) => r.itlMs.p50, tolerance: 0.15 },
  median_ttft_ms: { label: "median TTFT ms", sim: (r: ReplayReport) => r.ttftMs.p50, tolerance: 0.3 },
  p99_ttft_ms: { label: "P99 TTFT ms", sim: (r: ReplayReport) => r.ttftMs.p99, tolerance: 0.3 },
} as const;
export type V1Metric = keyof typeof V1_METRICS;

/** Simulated ÷ published, for each metric the run's source published. */
export type V1Ratios = Partial<Record<V1Metric, number>>;

/** What a run is compared on, one statistic of each kind: the first of each list its source published. */
export const V1_COMPARED: readonly (readonly V1Metric[])[] = [["output_throughput"], ["median_tpot_ms", "mean_tpot_ms"], ["median_itl_ms"], ["median_ttft_ms", "p99_ttft_ms"]];

/** The metrics a run is compared on: the median where its source published one, else the mean or P99 it did publish. */
export function v1MetricsOf(run: PublishedV1Run): V1Metric[] {
  return V1_COMPARED.flatMap((kind) => kind.filter((m) => run.published[m] !== undefined).slice(0, 1));
}

/** The bar: every compared metric within its tolerance. */
export function meetsV1Bar(r: V1Ratios): boolean {
  return (Object.entries(r) as [V1Metric, number][]).every(([m, ratio]) => Math.abs(ratio - 1) <= V1_METRICS[m].tolerance);
}

/**
 * The run's requests, from its published totals: each gets the mean input length. Outputs: a
 * random-dataset run's are the mean each (its requests asked for the same length); a ShareGPT
 * run's, whose lengths were not published, are spread evenly over 0.2–1.8 × the mean in a fixed
 * shuffled order, so finishes do not fall in lockstep at a fixed concurrency (an assumption of
 * the replay, not a published figure). Either way the total is the published one.
 */
export function v1Requests(run: PublishedV1Run): ReplayRequest[] {
  if (run.lengths) return drawnRequests(run.numPrompts, run.lengths);
  const n = run.published.completed!;
  const input = Math.round(run.published.total_input_tokens! / n);
  const total = run.published.total_output_tokens!;
  const rng = mulberry32(7);
  const factors = Array.from({ length: n }, (_, i) => (run.dataset === "sharegpt" ? 0.2 + (1.6 * (i + 0.5)) / n : 1));
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [factors[i], factors[j]] = [factors[j]!, factors[i]!];
  }
  const outputs = factors.map((f) => Math.floor((f * total) / n));
  let left = total - outputs.reduce((a, b) => a + b, 0);
  for (let i = 0; left > 0; i = (i + 1) % n, left--) outputs[i]!++;
  return outputs.map((outputTokens) => ({ inputTokens: input, outputTokens }));
}

/**
 * vLLM's random dataset: each request's input and output lengths drawn uniformly from the
 * integers within ±rangeRatio of the asked lengths (vllm/benchmarks/datasets.py,
 * RandomDataset); drawn here from a fixed seed, so the mix, not the exact draw, is the published one.
 */
function drawnRequests(n: number, lengths: NonNullable<PublishedV1Run["lengths"]>): ReplayRequest[] {
  const rng = mulberry32(11);
  const draw = (len: number) => {
    const lo = Math.floor(len * (1 - lengths.rangeRatio));
    const hi = Math.ceil(len * (1 + lengths.rangeRatio));
    return lo + Math.floor(rng.next() * (hi - lo + 1));
  };
  return Array.from({ length: n }, () => ({ inputTokens: draw(lengths.input), outputTokens: draw(lengths.output) }));
}

export function replayV1Run(run: PublishedV1Run, timing?: EngineConfig["timing"]): { sim: ReplayReport; ratios: V1Ratios } {
  const config = { ...resolveEngineConfig({ engine: "v1", model: run.model, gpu: run.gpu, tensorParallelSize: run.tensorParallelSize }), timing };
  const rate = run.requestRate === "inf" ? Infinity : run.requestRate;
  const sim = replayWorkload(config, v1Requests(run), { requestRate: rate, maxConcurrency: run.maxConcurrency ?? Infinity });
  return { sim, ratios: Object.fromEntries(v1MetricsOf(run).map((m) => [m, V1_METRICS[m].sim(sim) / run.published[m]!])) };
}
