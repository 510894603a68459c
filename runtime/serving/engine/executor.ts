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
import { timingOf } from "./timing";

/**
 * Sustained fraction of datasheet bf16 TFLOPs: 678 TFLOP/s measured for 8192³ bf16 matmuls on
 * an H100 (989 datasheet) held at its 700 W cap, data/h100/thermal_trace.csv.
 */
export const COMPUTE_EFFICIENCY = 678 / GPU_PRODUCTS.h100.bf16DenseTflops;
/** Host↔device copy bandwidth for swap, bytes/s: pinned copies in data/h100/transfer.json run 51–55 GB/s. */
export const SWAP_BANDWIDTH_BYTES_PER_S = 55e9;
/** All-reduces per layer in a forward pass under tensor parallelism (attention output, MLP output). */
export const ALL_REDUCES_PER_LAYER = 2;
/*
 * The fitted constants (forward-pass share of the matmul rate, HBM efficiency, per-step host
 * time, all-reduce latency, compute/memory overlap penalty) live in timing.ts, one set per
 * engine. A step takes max(C, M) + overlapPenalty · min(C, M) + all-reduces + step overhead:
 * compute and memory overlap only in part, most where one dominates, least near the ridge point.
 */

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
    this.timing = timingOf(config);
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
    const weightBytes = output.scheduled.length > 0 ? m.params * m.weightBytes : 0;
    let kvBytes = 0;
    for (const s of output.scheduled) {
      const n = s.numNewTokens;
      // Causal attention: new token j sees the context plus the new tokens before it.
      const pairs = n * s.numContextTokens + (n * (n + 1)) / 2;
      flops += 2 * m.params * n + 4 * m.numLayers * attnWidth * pairs;
      kvBytes += this.config.kvBytesPerToken * (s.numContextTokens + n);
    }
    const computeSeconds = flops / this.flopsPerS;
    const bytes = weightBytes + kvBytes;
    // Attention reads the KV cache in scattered blocks, less evenly than weights stream.
    const memorySeconds = weightBytes / this.bytesPerS + kvBytes / (this.bytesPerS * (this.timing.kvMemoryEfficiency / this.timing.memoryEfficiency));
    // Swaps are per GPU over each GPU's own link, so TP ranks copy in parallel.
    const swapSeconds = (output.swapOutBytes + output.swapInBytes) / this.config.tensorParallelSize / SWAP_BANDWIDTH_BYTES_PER_S;
    const commSeconds = this.commSeconds(output.scheduled.reduce((sum, x) => sum + x.numNewTokens, 0));
    const seconds = (output.scheduled.length > 0 ? Math.max(computeSeconds, memorySeconds) + this.timing.overlapPenalty * Math.min(computeSeconds, memorySeconds) + commSeconds + this.timing.stepOverheadS : 0) + swapSeconds;
    return { seconds, computeSeconds, memorySeconds, commSeconds, swapSeconds, flops, bytes };
  }
}
