/**
 * The timing model's fitted constants, one set per engine (`--engine v1`, the default, and
 * `--engine v0`). This file is their one home: the executor (executor.ts) and the replay's
 * front end (replay.ts) read them through `timingOf`, and `npm run bench:fidelity -- --fit
 * --engine <v>` refits a set on that engine's calibration runs (docs/serving-fidelity.md).
 *
 * Each set is fitted together: coordinate descent over a grid per constant, minimising the mean
 * |log(sim ÷ published)| of the compared metrics over the calibration runs of that engine.
 * - V0: LambdaLabs' vLLM runs (data/vllm-benchmark; V0 engine, prefill-only steps, all requests
 *   at once), metrics output throughput, median TPOT and mean TTFT.
 * - V1: GPUStack's vLLM v0.11.0 runs and vLLM's blog runs (data/vllm-v1-benchmark; V1 engine),
 *   metrics output throughput, TPOT, median ITL and TTFT, each as its source published it
 *   (median where published, else mean TPOT or P99 TTFT).
 */
import type { EngineConfig, EngineVersion, TimingConstants } from "./config";

/**
 * vLLM V0 (0.6.x): LambdaLabs' H100 runs. What each constant is: docs/serving.md.
 * - forwardEfficiency 0.58: share of the measured matmul rate a whole forward pass sustains
 *   (prefills are compute-bound, so it sets how long a prompt takes);
 * - memoryEfficiency 0.81: sustained share of datasheet HBM bandwidth while weights stream (it
 *   sets a decode step); kvMemoryEfficiency the same while attention reads the KV cache (one
 *   value in V0's fit, whose contexts were short);
 * - stepOverheadS 1.4 ms: per-step host time;
 * - allReduceLatencyS 21 µs: fixed cost of one tensor-parallel all-reduce (set by Llama-3-70B
 *   on 4×H100 decoding a few requests: 160 all-reduces a step are most of what the published
 *   TPOT holds beyond the roofline);
 * - overlapPenalty 0.1: share of the smaller of compute and memory time that adds to the larger;
 * - frontEndSecondsPerRequest 1.5 ms: the API server's intake per request, taken in turns with
 *   the engine's steps (V0 runs both on one process);
 * - frontEndSecondsPerToken 0 and frontEndLatencyS 0: V0's output path is inside the step overhead.
 */
export const V0_TIMING: TimingConstants = {
  forwardEfficiency: 0.58, memoryEfficiency: 0.81, kvMemoryEfficiency: 0.81, stepOverheadS: 0.0014, allReduceLatencyS: 21e-6, overlapPenalty: 0.1,
  frontEndSecondsPerRequest: 0.0015, frontEndSecondsPerToken: 0, frontEndLatencyS: 0,
};

/**
 * vLLM V1 (0.8 and later; the runs are 0.11.0 and 0.20.2): GPUStack's and vLLM's blog's H100 runs. Same meanings, except that
 * V1's API server is a process of its own beside the engine core, so its work overlaps the
 * engine's steps instead of taking turns with them (replay.ts): each request costs
 * frontEndSecondsPerRequest there before the engine sees it, and each streamed token
 * frontEndSecondsPerToken before the client sees it; frontEndLatencyS is the rest of a request's
 * way in (HTTP, the hop between the two processes), paid by each request without holding the
 * front end, so it sets a lone request's TTFT beyond its prefill. allReduceLatencyS is V0's: the
 * one V1 calibration run under tensor parallelism (Llama-3.3-70B on 4×H100, vLLM's blog) barely
 * moves with it (mean |log ratio| 0.0747 at 21 µs, 0.0744 at 0, the grid's edge), so it is not refitted.
 * What the fit found beyond V0's set: KV-cache reads run at 0.4 of datasheet bandwidth where
 * weights stream at 0.84 (Qwen3-14B decoding 32k-token contexts: 43 ms a step); compute and
 * memory overlap fully (penalty 0); 14 ms of intake per request (1,000 chat requests at once:
 * first tokens after 18 s); 30 ms more on a request's way in (a lone request's TTFT of 60 ms over
 * a 10 ms prefill); 0.15 ms per streamed token. That last was 0.4 ms when GPUStack's runs were the
 * only calibration (error 0.030 at 0, 0.017 at 0.4 ms, much of it the median TTFT at concurrency
 * 2 and 8, where the virtual clock fixes the phase at which a request meets the step cycle); at
 * 0.4 ms, 300 streams cost 120 ms of front end per token round, which made Llama-3.3-70B's mean
 * TPOT with 300 requests at once 2.4× the published. Refitted alone with that run in the
 * calibration set (`--fit --only frontEndSecondsPerToken,allReduceLatencyS`): 0.15 ms with the
 * all-reduce latency held at 21 µs, mean |log ratio| 0.104 → 0.075 (the joint optimum, 0.1 ms
 * with an all-reduce latency of 0 at the grid's edge, reaches 0.072; kept at V0's 21 µs, see above).
 */
export const V1_TIMING: TimingConstants = {
  forwardEfficiency: 0.59, memoryEfficiency: 0.84, kvMemoryEfficiency: 0.4, stepOverheadS: 0.0015, allReduceLatencyS: V0_TIMING.allReduceLatencyS, overlapPenalty: 0,
  frontEndSecondsPerRequest: 0.014, frontEndSecondsPerToken: 0.00015, frontEndLatencyS: 0.03,
};

export const ENGINE_TIMING: Readonly<Record<EngineVersion, TimingConstants>> = { v1: V1_TIMING, v0: V0_TIMING };

/** The constants a configuration runs with: its engine's set, under any override a fit tries. */
export function timingOf(config: Pick<EngineConfig, "engine" | "timing">): TimingConstants {
  return { ...ENGINE_TIMING[config.engine], ...config.timing };
}
