/**
 * The published vLLM V1-engine runs of docs/serving-fidelity.md and how one is replayed, shared
 * by `npm run bench:fidelity` (bench/fidelity.ts) and test/serving/fidelity.test.ts.
 *
 * Source: data/vllm-v1-benchmark/gpustack-h100-vllm-0.11.0.json (gpustack/gpustack's
 * performance-lab pages; data/README.md): vLLM v0.11.0 started as `vllm serve <model>` with no
 * other flag, so every engine setting is V1's default for an API server on an H100 (the replay
 * resolves the same defaults: engine/config.ts), measured by `vllm bench serve` over the chat
 * endpoint. Each run is marked calibration (the V1 timing constants are fitted on it) or
 * validation (no constant is).
 *
 * The pages publish totals, not per-request lengths, so each replayed request gets the run's
 * mean input length and its share of the total output (the remainder spread one token each over
 * the first requests): exact for the random-dataset runs' inputs, an approximation for the
 * ShareGPT runs, whose lengths vary. Those run at a fixed concurrency of 1 to 8, where a decode
 * step's time hardly depends on the mix.
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
  published: Record<string, number>;
}

export const V1_RUNS: readonly PublishedV1Run[] = (JSON.parse(readFileSync(path.join(VLLM_V1_BENCHMARK_DIR, "gpustack-h100-vllm-0.11.0.json"), "utf8")) as { runs: PublishedV1Run[] }).runs;

/** Simulated ÷ published, the four metrics the issue bounds. */
export interface V1Ratios {
  outputTokensPerS: number;
  medianTpot: number;
  medianItl: number;
  medianTtft: number;
}

/** The bar: output throughput, median TPOT and median ITL within ±15%, median TTFT within ±30%. */
export function meetsV1Bar(r: V1Ratios): boolean {
  const within = (ratio: number, tolerance: number) => Math.abs(ratio - 1) <= tolerance;
  return within(r.outputTokensPerS, 0.15) && within(r.medianTpot, 0.15) && within(r.medianItl, 0.15) && within(r.medianTtft, 0.3);
}

/**
 * The run's requests, from its published totals: each gets the mean input length. Outputs: a
 * random-dataset run's are the mean each (its requests asked for the same length); a ShareGPT
 * run's, whose lengths were not published, are spread evenly over 0.2–1.8 × the mean in a fixed
 * shuffled order, so finishes do not fall in lockstep at a fixed concurrency (an assumption of
 * the replay, not a published figure). Either way the total is the published one.
 */
export function v1Requests(run: PublishedV1Run): ReplayRequest[] {
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

export function replayV1Run(run: PublishedV1Run, timing?: EngineConfig["timing"]): { sim: ReplayReport; ratios: V1Ratios } {
  const config = { ...resolveEngineConfig({ engine: "v1", model: run.model, gpu: run.gpu, tensorParallelSize: run.tensorParallelSize }), timing };
  const rate = run.requestRate === "inf" ? Infinity : run.requestRate;
  const sim = replayWorkload(config, v1Requests(run), { requestRate: rate, maxConcurrency: run.maxConcurrency ?? Infinity });
  const p = run.published;
  return {
    sim,
    ratios: {
      outputTokensPerS: sim.outputTokensPerS / p.output_throughput!,
      medianTpot: sim.tpotMs.p50 / p.median_tpot_ms!,
      medianItl: sim.itlMs.p50 / p.median_itl_ms!,
      medianTtft: sim.ttftMs.p50 / p.median_ttft_ms!,
    },
  };
}
