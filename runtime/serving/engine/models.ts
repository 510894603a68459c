/**
 * Model presets: the architecture figures the simulated engine needs, from each model's
 * Hugging Face `config.json` (hidden_size, num_hidden_layers, num_attention_heads,
 * num_key_value_heads, intermediate_size, vocab_size, max_position_embeddings) and the
 * parameter count on its model card. Weights are bf16 (torch_dtype bfloat16 in every config).
 */

export interface ModelSpec {
  /** The Hugging Face repo id; also the served model name. */
  id: string;
  /** Short preset name accepted by `--model` besides the repo id. */
  alias: string;
  params: number;
  numLayers: number;
  hiddenSize: number;
  numAttentionHeads: number;
  numKvHeads: number;
  headDim: number;
  intermediateSize: number;
  vocabSize: number;
  maxPositionEmbeddings: number;
  /** Bytes per weight (bf16). */
  weightBytes: number;
  /** Tensor-parallel degree the preset needs on 80 GB GPUs (the default `--tensor-parallel-size`). */
  defaultTensorParallel: number;
}

// meta-llama/Meta-Llama-3-8B-Instruct config.json; 8.03B parameters.
const LLAMA_3_8B: ModelSpec = {
  id: "meta-llama/Meta-Llama-3-8B-Instruct", alias: "llama-3-8b", params: 8.03e9,
  numLayers: 32, hiddenSize: 4096, numAttentionHeads: 32, numKvHeads: 8, headDim: 128,
  intermediateSize: 14336, vocabSize: 128256, maxPositionEmbeddings: 8192, weightBytes: 2, defaultTensorParallel: 1,
};
// meta-llama/Meta-Llama-3-70B-Instruct config.json; 70.6B parameters (141 GB in bf16: needs TP).
const LLAMA_3_70B: ModelSpec = {
  id: "meta-llama/Meta-Llama-3-70B-Instruct", alias: "llama-3-70b", params: 70.6e9,
  numLayers: 80, hiddenSize: 8192, numAttentionHeads: 64, numKvHeads: 8, headDim: 128,
  intermediateSize: 28672, vocabSize: 128256, maxPositionEmbeddings: 8192, weightBytes: 2, defaultTensorParallel: 4,
};

export const MODEL_PRESETS: readonly ModelSpec[] = [
  LLAMA_3_8B,
  LLAMA_3_70B,
  // meta-llama/Llama-3.1-{8B,70B}-Instruct config.json: Llama 3's architecture, sizes and
  // vocabulary with a 128k context (max_position_embeddings 131072, rope_scaling "llama3").
  { ...LLAMA_3_8B, id: "meta-llama/Llama-3.1-8B-Instruct", alias: "llama-3.1-8b", maxPositionEmbeddings: 131072 },
  { ...LLAMA_3_70B, id: "meta-llama/Llama-3.1-70B-Instruct", alias: "llama-3.1-70b", maxPositionEmbeddings: 131072 },
  // meta-llama/Llama-3.3-70B-Instruct config.json: Llama 3.1 70B's architecture (hidden_size 8192, 80 layers,
  // 64 heads, 8 KV heads, intermediate_size 28672, vocab 128256, max_position_embeddings 131072).
  // The published vLLM V1 runs under TP4 of data/vllm-v1-benchmark/vllm-blog-h100.json serve it.
  { ...LLAMA_3_70B, id: "meta-llama/Llama-3.3-70B-Instruct", alias: "llama-3.3-70b", maxPositionEmbeddings: 131072 },
  {
    // mistralai/Mistral-7B-Instruct-v0.3 config.json; 7.25B parameters.
    id: "mistralai/Mistral-7B-Instruct-v0.3", alias: "mistral-7b", params: 7.25e9,
    numLayers: 32, hiddenSize: 4096, numAttentionHeads: 32, numKvHeads: 8, headDim: 128,
    intermediateSize: 14336, vocabSize: 32768, maxPositionEmbeddings: 32768, weightBytes: 2, defaultTensorParallel: 1,
  },
  // Qwen/Qwen3-{8B,14B,32B} config.json (head_dim 128, 8 KV heads, vocab 151936, untied
  // embeddings, max_position_embeddings 40960); parameters from the model cards: 8.2B, 14.8B, 32.8B.
  // The published vLLM V1 runs of data/vllm-v1-benchmark serve them.
  {
    id: "Qwen/Qwen3-8B", alias: "qwen3-8b", params: 8.2e9,
    numLayers: 36, hiddenSize: 4096, numAttentionHeads: 32, numKvHeads: 8, headDim: 128,
    intermediateSize: 12288, vocabSize: 151936, maxPositionEmbeddings: 40960, weightBytes: 2, defaultTensorParallel: 1,
  },
  {
    id: "Qwen/Qwen3-14B", alias: "qwen3-14b", params: 14.8e9,
    numLayers: 40, hiddenSize: 5120, numAttentionHeads: 40, numKvHeads: 8, headDim: 128,
    intermediateSize: 17408, vocabSize: 151936, maxPositionEmbeddings: 40960, weightBytes: 2, defaultTensorParallel: 1,
  },
  {
    id: "Qwen/Qwen3-32B", alias: "qwen3-32b", params: 32.8e9,
    numLayers: 64, hiddenSize: 5120, numAttentionHeads: 64, numKvHeads: 8, headDim: 128,
    intermediateSize: 25600, vocabSize: 151936, maxPositionEmbeddings: 40960, weightBytes: 2, defaultTensorParallel: 1,
  },
  {
    // Qwen/Qwen2.5-0.5B-Instruct config.json; 0.49B parameters (tied embeddings).
    id: "Qwen/Qwen2.5-0.5B-Instruct", alias: "qwen2.5-0.5b", params: 0.494e9,
    numLayers: 24, hiddenSize: 896, numAttentionHeads: 14, numKvHeads: 2, headDim: 64,
    intermediateSize: 4864, vocabSize: 151936, maxPositionEmbeddings: 32768, weightBytes: 2, defaultTensorParallel: 1,
  },
];

export const DEFAULT_MODEL = "llama-3-8b";

/** Finds a preset by repo id or alias (case-insensitive); undefined when unknown. */
export function findModel(name: string): ModelSpec | undefined {
  const n = name.toLowerCase();
  return MODEL_PRESETS.find((m) => m.id.toLowerCase() === n || m.alias === n);
}

export function modelNames(): string[] {
  return MODEL_PRESETS.flatMap((m) => [m.alias, m.id]);
}
