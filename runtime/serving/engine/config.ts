/**
 * Engine arguments (named and defaulted like vLLM's engine args) and the capacity they imply:
 * how many KV blocks fit on the simulated GPUs once weights and the activation reserve are
 * taken out of `memory × gpu-memory-utilization`.
 */
import { GPU_PRODUCTS, GPU_PRODUCT_IDS, type GpuProduct } from "../../../gpu";
import { DEFAULT_MODEL, findModel, modelNames, type ModelSpec } from "./models";
import { PreemptionMode } from "./scheduler";

export const KV_CACHE_DTYPES = ["auto", "bfloat16", "fp8", "fp8_e4m3", "fp8_e5m2"] as const;
export type KvCacheDtype = (typeof KV_CACHE_DTYPES)[number];
/** vLLM's engines: V1 (the default since vLLM 0.8, the only one since 0.11) and V0 (0.6–0.10). */
export const ENGINE_VERSIONS = ["v1", "v0"] as const;
export type EngineVersion = (typeof ENGINE_VERSIONS)[number];

export interface EngineArgs {
  /**
   * Which vLLM engine to model: `v1` (default) always chunks prefills, has its token budget per
   * GPU and runs its API server beside the engine core; `v0` keeps prefill-only steps below 32k
   * context and takes requests in turns with the steps. Each has its own fitted timing (timing.ts).
   */
  engine?: EngineVersion;
  /** Model preset, by Hugging Face repo id or alias. Default `llama-3-8b`. */
  model?: string;
  /** Simulated GPU product (gpu/index.ts ids). Default `h100`. */
  gpu?: GpuProduct;
  /** GPUs the model is sharded over. Default: the preset's (1, or 4 for Llama-3-70B). */
  tensorParallelSize?: number;
  /** Fraction of each GPU's memory the engine may use. Default 0.9 (vLLM's). */
  gpuMemoryUtilization?: number;
  /** Longest prompt + output. Default: the model's max_position_embeddings. */
  maxModelLen?: number;
  /** Most requests running at once. Default: V1's per GPU (1024 on GPUs of 70 GiB or more but A100, else 256); V0 256. */
  maxNumSeqs?: number;
  /**
   * Token budget per step. Default: V1's per GPU (8192 on GPUs of 70 GiB or more but A100, else
   * 2048), at least maxNumSeqs; V0 with chunked prefill max(2048, maxNumSeqs), without it
   * max(2048, maxNumSeqs, maxModelLen).
   */
  maxNumBatchedTokens?: number;
  /**
   * Mix prompt chunks into decode steps. V1 always does (false is refused); in V0 the default is
   * on only above 32k context, as V0 chose: below it, whole prompts in prefill-only steps.
   */
  enableChunkedPrefill?: boolean;
  /** Tokens per KV block. Default 16 (vLLM's). */
  blockSize?: number;
  /** Reuse cached full blocks across requests with equal prefixes. Default true (vLLM v1's). */
  enablePrefixCaching?: boolean;
  /** KV cache element type; fp8 variants halve the bytes per token. Default `auto` (the weights' bf16). */
  kvCacheDtype?: KvCacheDtype;
  /** Skip the memory arithmetic and use this many KV blocks (vLLM's `num_gpu_blocks_override`). */
  numGpuBlocksOverride?: number;
  /** Bound of the waiting queue; a full queue refuses with 429. Default 512. gpk's addition (vLLM queues without bound). */
  maxWaiting?: number;
  /** What a preemption does to the victim's KV. Default `recompute`, V1's only mode (`swap` needs V0). */
  preemptionMode?: PreemptionMode;
  /** Host memory per GPU for swapped KV, GiB. Default 4 (vLLM's `swap_space`). */
  swapSpaceGiB?: number;
}

/**
 * Bad engine arguments; `flag` names the offending argument the way the CLI spells it
 * (`max-num-seqs`, shown as `--max-num-seqs`), or the variable its value came from
 * (`GPK_SERVING_MAX_NUM_SEQS`, shown as it is).
 */
export class EngineConfigError extends Error {
  constructor(readonly flag: string, readonly detail: string) {
    super(`${/^[A-Z]/.test(flag) ? flag : `--${flag}`}: ${detail}`);
  }
}

export interface EngineConfig {
  engine: EngineVersion;
  model: ModelSpec;
  gpu: GpuProduct;
  tensorParallelSize: number;
  gpuMemoryUtilization: number;
  maxModelLen: number;
  maxNumSeqs: number;
  maxNumBatchedTokens: number;
  enableChunkedPrefill: boolean;
  blockSize: number;
  enablePrefixCaching: boolean;
  kvCacheDtype: KvCacheDtype;
  maxWaiting: number;
  preemptionMode: PreemptionMode;
  swapSpaceBytes: number;
  numGpuBlocks: number;
  /** KV bytes per token summed over all tensor-parallel ranks. */
  kvBytesPerToken: number;
  /** How the memory was split on each GPU, in bytes (for /v1/models-style introspection and the docs). */
  memory: { usable: number; weights: number; activationReserve: number; kvCache: number };
  /** Overrides of the engine's fitted timing constants (timing.ts), when a fit tries others. */
  timing?: Partial<TimingConstants>;
}

/**
 * The timing model's fitted constants, one set per engine (timing.ts gives each its value and
 * source): the executor's step cost and the API server's front end (replay.ts).
 */
export interface TimingConstants {
  forwardEfficiency: number;
  memoryEfficiency: number;
  kvMemoryEfficiency: number;
  stepOverheadS: number;
  allReduceLatencyS: number;
  overlapPenalty: number;
  frontEndSecondsPerRequest: number;
  frontEndSecondsPerToken: number;
  frontEndLatencyS: number;
}

const GiB = 1024 ** 3;
/** CUDA context, cuBLAS workspaces and CUDA graphs: memory outside the model that vLLM's profiler sees. An estimate. */
const NON_TORCH_RESERVE_BYTES = 1 * GiB;

function kvElementBytes(dtype: KvCacheDtype, model: ModelSpec): number {
  return dtype.startsWith("fp8") ? 1 : dtype === "bfloat16" ? 2 : model.weightBytes;
}

function int(flag: string, v: number | undefined, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const x = v ?? fallback;
  const range = max === Number.MAX_SAFE_INTEGER ? `of at least ${min}` : `between ${min} and ${max}`;
  if (!Number.isInteger(x) || x < min || x > max) throw new EngineConfigError(flag, `expected an integer ${range}, got ${x}`);
  return x;
}

/**
 * V1's scheduler defaults for an API server (vLLM's OPENAI_API_SERVER usage context), from
 * vllm/engine/arg_utils.py `EngineArgs.get_batch_defaults`: GPUs with at least 70 GiB that are
 * not A100s (H100, H200, MI300X) get a budget of 8192 tokens and 1024 sequences; the rest 2048
 * and 256 (vLLM measured the larger budget slowing A100s, PR #17885).
 */
function v1BatchDefaults(gpu: GpuProduct): { maxNumBatchedTokens: number; maxNumSeqs: number } {
  const large = GPU_PRODUCTS[gpu].memoryMiB >= 70 * 1024 && gpu !== "a100";
  return large ? { maxNumBatchedTokens: 8192, maxNumSeqs: 1024 } : { maxNumBatchedTokens: 2048, maxNumSeqs: 256 };
}

/** Validates the arguments and derives the KV capacity; throws EngineConfigError naming the flag. */
export function resolveEngineConfig(args: EngineArgs = {}): EngineConfig {
  const engine = args.engine ?? "v1";
  if (!ENGINE_VERSIONS.includes(engine)) throw new EngineConfigError("engine", `expected one of ${ENGINE_VERSIONS.join(", ")}, got ${JSON.stringify(engine)}`);
  const model = findModel(args.model ?? DEFAULT_MODEL);
  if (!model) throw new EngineConfigError("model", `unknown model ${JSON.stringify(args.model)}; presets: ${modelNames().join(", ")}`);
  const gpu = args.gpu ?? "h100";
  if (!GPU_PRODUCT_IDS.includes(gpu)) throw new EngineConfigError("gpu", `unknown GPU ${JSON.stringify(gpu)}; one of ${GPU_PRODUCT_IDS.join(", ")}`);
  const tp = int("tensor-parallel-size", args.tensorParallelSize, model.defaultTensorParallel, 1, 64);
  if (model.numAttentionHeads % tp !== 0) {
    throw new EngineConfigError("tensor-parallel-size", `${tp} does not divide ${model.id}'s ${model.numAttentionHeads} attention heads`);
  }
  const util = args.gpuMemoryUtilization ?? 0.9;
  if (!(util > 0 && util <= 1)) throw new EngineConfigError("gpu-memory-utilization", `expected a number in (0, 1], got ${util}`);
  const v1 = engine === "v1" ? v1BatchDefaults(gpu) : undefined;
  const maxNumSeqs = int("max-num-seqs", args.maxNumSeqs, v1?.maxNumSeqs ?? 256, 1);
  if (v1 && args.enableChunkedPrefill === false) throw new EngineConfigError("enable-chunked-prefill", "vLLM V1 always chunks prefills; prefill-only steps need --engine v0");
  if (v1 && args.preemptionMode === PreemptionMode.Swap) throw new EngineConfigError("preemption-mode", "vLLM V1 only recomputes preempted requests; swap needs --engine v0");
  // V0 turned chunked prefill on by itself only above 32k context (vllm v0.6.0 arg_utils.py).
  const enableChunkedPrefill = args.enableChunkedPrefill ?? (v1 !== undefined || (args.maxModelLen ?? model.maxPositionEmbeddings) > 32768);
  // V0 without chunked prefill sizes the step for the longest prompt (vllm v0.6.0 config.py, SchedulerConfig).
  const batchedDefault = v1
    ? Math.max(v1.maxNumBatchedTokens, maxNumSeqs)
    : enableChunkedPrefill ? Math.max(2048, maxNumSeqs) : Math.max(2048, maxNumSeqs, args.maxModelLen ?? model.maxPositionEmbeddings);
  const maxNumBatchedTokens = int("max-num-batched-tokens", args.maxNumBatchedTokens, batchedDefault, 1);
  if (maxNumBatchedTokens < maxNumSeqs) {
    throw new EngineConfigError("max-num-batched-tokens", `${maxNumBatchedTokens} is below --max-num-seqs ${maxNumSeqs}`);
  }
  const blockSize = int("block-size", args.blockSize, 16, 1, 256);
  const kvCacheDtype = args.kvCacheDtype ?? "auto";
  if (!KV_CACHE_DTYPES.includes(kvCacheDtype)) throw new EngineConfigError("kv-cache-dtype", `expected one of ${KV_CACHE_DTYPES.join(", ")}, got ${kvCacheDtype}`);
  const maxWaiting = int("max-waiting", args.maxWaiting, 512, 0);
  const preemptionMode = args.preemptionMode ?? PreemptionMode.Recompute;
  if (!Object.values(PreemptionMode).includes(preemptionMode)) throw new EngineConfigError("preemption-mode", `expected recompute or swap, got ${preemptionMode}`);
  const swapSpaceGiB = args.swapSpaceGiB ?? 4;
  if (!(swapSpaceGiB >= 0)) throw new EngineConfigError("swap-space", `expected a non-negative number, got ${swapSpaceGiB}`);

  // KV heads are split over TP ranks; with more ranks than KV heads each rank keeps a replica.
  const kvHeadsPerRank = Math.max(1, model.numKvHeads / tp);
  const kvBytesPerTokenPerRank = 2 * model.numLayers * kvHeadsPerRank * model.headDim * kvElementBytes(kvCacheDtype, model);
  const blockBytesPerRank = blockSize * kvBytesPerTokenPerRank;

  const product = GPU_PRODUCTS[gpu];
  const usable = product.memoryMiB * 1024 * 1024 * util;
  const weights = (model.params * model.weightBytes) / tp;
  // vLLM profiles a forward pass of max_num_batched_tokens; estimate its peak: per token the
  // residual stream, QKV/attention output and the gated MLP's two intermediate tensors, plus
  // fp32 logits for the sampled rows (at most max_num_seqs).
  const activationPeak =
    (maxNumBatchedTokens * (4 * model.hiddenSize + 2 * model.intermediateSize) * model.weightBytes) / tp +
    maxNumSeqs * model.vocabSize * 4;
  const activationReserve = NON_TORCH_RESERVE_BYTES + activationPeak;
  const kvCache = usable - weights - activationReserve;

  let numGpuBlocks: number;
  if (args.numGpuBlocksOverride !== undefined) {
    numGpuBlocks = int("num-gpu-blocks-override", args.numGpuBlocksOverride, 0, 1);
  } else {
    numGpuBlocks = Math.floor(kvCache / blockBytesPerRank);
    if (numGpuBlocks < 1) {
      const need = ((weights + activationReserve) / GiB).toFixed(1);
      throw new EngineConfigError(
        "gpu-memory-utilization",
        `no memory left for the KV cache: ${model.id} needs ${need} GiB per GPU for weights and activations at --tensor-parallel-size ${tp}, ` +
          `${gpu} gives ${(usable / GiB).toFixed(1)} GiB at utilization ${util}; raise --tensor-parallel-size or pick a larger GPU`,
      );
    }
  }
  const capacityTokens = numGpuBlocks * blockSize;
  const maxModelLen = int("max-model-len", args.maxModelLen, Math.min(model.maxPositionEmbeddings, capacityTokens), 1, model.maxPositionEmbeddings);
  if (maxModelLen > capacityTokens) {
    throw new EngineConfigError(
      "max-model-len",
      `${maxModelLen} tokens do not fit the KV cache (${capacityTokens} tokens in ${numGpuBlocks} blocks); lower it or raise --gpu-memory-utilization`,
    );
  }
  if (!enableChunkedPrefill && maxNumBatchedTokens < maxModelLen) {
    throw new EngineConfigError("max-num-batched-tokens", `${maxNumBatchedTokens} is below --max-model-len ${maxModelLen}; without chunked prefill a whole prompt must fit one step`);
  }
  return {
    engine, model, gpu, tensorParallelSize: tp, gpuMemoryUtilization: util, maxModelLen, maxNumSeqs, maxNumBatchedTokens, enableChunkedPrefill,
    blockSize, enablePrefixCaching: args.enablePrefixCaching ?? true, kvCacheDtype, maxWaiting, preemptionMode,
    swapSpaceBytes: swapSpaceGiB * GiB * tp, numGpuBlocks, kvBytesPerToken: kvBytesPerTokenPerRank * tp,
    memory: { usable, weights, activationReserve, kvCache: numGpuBlocks * blockBytesPerRank },
  };
}
