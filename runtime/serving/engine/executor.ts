/**
 * The simulated GPU worker: a roofline model of one engine step. A step runs every scheduled
 * token through the model once, so its time is the larger of
 * - compute: 2·params FLOPs per token (the matmuls) plus attention, 4·layers·heads·headDim FLOPs
 *   per (new token, context token) pair (QKᵀ and PV), over the GPUs' bf16 dense TFLOPs, and
 * - memory: the weights read once per step plus every scheduled request's KV (context read, new
 *   tokens written), over HBM bandwidth,
 * each divided by the tensor-parallel degree, plus a share of the smaller one (the two overlap
 * only in part: most where one dominates, least near the ridge point, where they are equal),
 * plus a fixed per-step host overhead and any swap copies over the host↔device link. Large
 * prefills are compute-bound, decode batches are memory-bound, and the crossover falls where
 * the roofline says.
 *
 * Under tensor parallelism each layer ends its attention and its MLP with an all-reduce of the
 * step's activations (Megatron-LM's layout, Shoeybi et al. 2019, §3: two per layer in the
 * forward pass). They sit on the critical path, so their time adds to the step: per call a
 * fixed latency plus a ring all-reduce's 2·(tp−1)/tp of the bytes over the GPU interconnect.
 */
import { GPU_PRODUCTS } from "../../../gpu";
import type { EngineConfig, TimingConstants } from "./config";
import type { SchedulerOutput } from "./scheduler";

/**
 * Sustained fraction of datasheet bf16 TFLOPs: 678 TFLOP/s measured for 8192³ bf16 matmuls on
 * an H100 (989 datasheet) held at its 700 W cap, data/h100/thermal_trace.csv.
 */
export const COMPUTE_EFFICIENCY = 678 / GPU_PRODUCTS.h100.bf16DenseTflops;
/*
 * The fitted constants. FORWARD_EFFICIENCY, MEMORY_EFFICIENCY, STEP_OVERHEAD_S,
 * ALL_REDUCE_LATENCY_S and OVERLAP_PENALTY, with the replay's FRONT_END_SECONDS_PER_REQUEST, are
 * fitted together on the calibration runs of docs/serving-fidelity.md (published vLLM runs on
 * H100s) by `npm run bench:fidelity -- --fit`: coordinate descent over a grid each, minimising
 * the mean |log(sim ÷ published)| of output throughput, median TPOT and mean TTFT.
 */
/**
 * The share of that matmul rate a whole forward pass sustains (smaller GEMM shapes, attention,
 * norms, rotary, sampling). Prefills are compute-bound, so it sets how long a prompt takes.
 */
export const FORWARD_EFFICIENCY = 0.58;
/** Sustained fraction of datasheet HBM bandwidth while weights and KV stream: it sets a decode step. */
export const MEMORY_EFFICIENCY = 0.81;
/** Host↔device copy bandwidth for swap, bytes/s: pinned copies in data/h100/transfer.json run 51–55 GB/s. */
export const SWAP_BANDWIDTH_BYTES_PER_S = 55e9;
/** Per-step host time (scheduling, input preparation, sampling, output processing). */
export const STEP_OVERHEAD_S = 0.0014;
/**
 * Fixed cost of one tensor-parallel all-reduce of a small message. What sets it: Llama-3-70B on
 * 4×H100 decoding a few requests, where a step's 160 all-reduces are most of what the published
 * TPOT holds beyond the roofline (18.4 ms published at 20 requests, about 15 ms without them).
 */
export const ALL_REDUCE_LATENCY_S = 21e-6;
/** All-reduces per layer in a forward pass under tensor parallelism (attention output, MLP output). */
export const ALL_REDUCES_PER_LAYER = 2;

/**
 * The share of the smaller of compute and memory time that adds to the larger: a step takes
 * max(C, M) + this · min(C, M). 0 would be perfect overlap, 1 none. It matters at the large
 * decode batches of a loaded server, where the two are closest, and hardly at small ones, where
 * memory time dwarfs compute.
 */
export const OVERLAP_PENALTY = 0.1;

/** The fitted constants, overridable for fitting them (bench/fidelity.ts). */
export const DEFAULT_TIMING: TimingConstants = {
  forwardEfficiency: FORWARD_EFFICIENCY, memoryEfficiency: MEMORY_EFFICIENCY, stepOverheadS: STEP_OVERHEAD_S, allReduceLatencyS: ALL_REDUCE_LATENCY_S, overlapPenalty: OVERLAP_PENALTY,
};

export interface StepCost {
  seconds: number;
  computeSeconds: number;
  memorySeconds: number;
  /** Tensor-parallel all-reduces; 0 on one GPU. */
  commSeconds: number;
  swapSeconds: number;
  flops: number;
  bytes: number;
}

export class SimulatedExecutor {
  private readonly flopsPerS: number;
  private readonly bytesPerS: number;
  private readonly linkBytesPerS: number;
  private readonly timing: TimingConstants;

  constructor(private readonly config: EngineConfig) {
    const gpu = GPU_PRODUCTS[config.gpu];
    this.timing = { ...DEFAULT_TIMING, ...config.timing };
    this.flopsPerS = gpu.bf16DenseTflops * 1e12 * COMPUTE_EFFICIENCY * this.timing.forwardEfficiency * config.tensorParallelSize;
    this.bytesPerS = gpu.memBandwidthGBps * 1e9 * this.timing.memoryEfficiency * config.tensorParallelSize;
    this.linkBytesPerS = gpu.interconnectGBps * 1e9;
  }

  /** The step's all-reduces: 2 per layer over `tokens` activations of hidden_size bf16 values. */
  private commSeconds(tokens: number): number {
    const tp = this.config.tensorParallelSize;
    if (tp === 1 || tokens === 0) return 0;
    const m = this.config.model;
    const bytes = tokens * m.hiddenSize * 2;
    const perCall = this.timing.allReduceLatencyS + ((2 * (tp - 1)) / tp) * (bytes / this.linkBytesPerS);
    return ALL_REDUCES_PER_LAYER * m.numLayers * perCall;
  }

  stepCost(output: SchedulerOutput): StepCost {
    const m = this.config.model;
    const attnWidth = m.numAttentionHeads * m.headDim;
    let flops = 0;
    let bytes = output.scheduled.length > 0 ? m.params * m.weightBytes : 0;
    for (const s of output.scheduled) {
      const n = s.numNewTokens;
      // Causal attention: new token j sees the context plus the new tokens before it.
      const pairs = n * s.numContextTokens + (n * (n + 1)) / 2;
      flops += 2 * m.params * n + 4 * m.numLayers * attnWidth * pairs;
      bytes += this.config.kvBytesPerToken * (s.numContextTokens + n);
    }
    const computeSeconds = flops / this.flopsPerS;
    const memorySeconds = bytes / this.bytesPerS;
    // Swaps are per GPU over each GPU's own link, so TP ranks copy in parallel.
    const swapSeconds = (output.swapOutBytes + output.swapInBytes) / this.config.tensorParallelSize / SWAP_BANDWIDTH_BYTES_PER_S;
    const commSeconds = this.commSeconds(output.scheduled.reduce((sum, x) => sum + x.numNewTokens, 0));
    const seconds = (output.scheduled.length > 0 ? Math.max(computeSeconds, memorySeconds) + this.timing.overlapPenalty * Math.min(computeSeconds, memorySeconds) + commSeconds + this.timing.stepOverheadS : 0) + swapSeconds;
    return { seconds, computeSeconds, memorySeconds, commSeconds, swapSeconds, flops, bytes };
  }
}
