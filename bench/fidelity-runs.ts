/**
 * The published vLLM runs of docs/serving-fidelity.md and how one is replayed: with the
 * harness's server flags, and TTFT counted as its client counted it. Shared by
 * `npm run bench:fidelity` (bench/fidelity.ts) and the test that holds the validation runs to
 * the bar (test/serving/fidelity.test.ts).
 *
 * Source: data/vllm-benchmark/lambdalabs-h100-2024-09-07.json (LambdaLabsML/vllm-benchmark at
 * a4f9f437; data/README.md). The harness that wrote the runs (benchmark.py at 29dd18a6) started
 * vLLM with `--max-model-len 2048 --gpu-memory-utilization 0.95 --max-num-seqs 1024` and no
 * other engine flag, so chunked prefill was off (vLLM's V0 default below 32k context).
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { VLLM_BENCHMARK_DIR } from "../data/paths";
import { resolveEngineConfig, type EngineConfig } from "../runtime/serving/engine/config";
import { replayWorkload, type ReplayReport } from "../runtime/serving/replay";

export interface PublishedRun {
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

/**
 * Request counts of the runs the timing model is fitted on; the others validate. The validation
 * set holds a low load (10 requests) and high ones (320 and 1,280 at once) for both models.
 */
export const CALIBRATION: ReadonlySet<number> = new Set([20, 40, 160, 640]);
/** The harness's server flags (benchmark.py @29dd18a6). */
const SERVER = { engine: "v0", gpuMemoryUtilization: 0.95, maxNumSeqs: 1024, enableChunkedPrefill: false } as const;

export const PUBLISHED_RUNS: readonly PublishedRun[] = (JSON.parse(readFileSync(path.join(VLLM_BENCHMARK_DIR, "lambdalabs-h100-2024-09-07.json"), "utf8")) as { runs: PublishedRun[] }).runs;

/** Simulated ÷ published. */
export interface FidelityRatios {
  outputTokensPerS: number;
  medianTpot: number;
  meanTtft: number;
}

/** The bar: output throughput and median TPOT within ±15%, mean TTFT within ±30%. */
export function meetsBar(r: FidelityRatios): boolean {
  const within = (ratio: number, tolerance: number) => Math.abs(ratio - 1) <= tolerance;
  return within(r.outputTokensPerS, 0.15) && within(r.medianTpot, 0.15) && within(r.meanTtft, 0.3);
}

export function replayPublishedRun(run: PublishedRun, timing?: EngineConfig["timing"]): { sim: ReplayReport; clientTtftMs: number; ratios: FidelityRatios } {
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
