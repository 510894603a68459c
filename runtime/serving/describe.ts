/** One human line about an engine's configuration and capacity, for startup logs. */
import type { EngineConfig } from "./engine/config";

const GiB = 1024 ** 3;

export function describeConfig(c: EngineConfig): string {
  const tokens = c.numGpuBlocks * c.blockSize;
  return (
    `${c.model.id} on simulated ${c.gpu}×${c.tensorParallelSize}: ` +
    `weights ${(c.memory.weights / GiB).toFixed(1)} GiB/GPU, KV cache ${(c.memory.kvCache / GiB).toFixed(1)} GiB/GPU = ` +
    `${c.numGpuBlocks} blocks × ${c.blockSize} tokens (${tokens} tokens, ${(tokens / c.maxModelLen).toFixed(1)}× max-model-len ${c.maxModelLen}); ` +
    `max-num-seqs ${c.maxNumSeqs}, max-num-batched-tokens ${c.maxNumBatchedTokens}, max-waiting ${c.maxWaiting}, ` +
    `prefix caching ${c.enablePrefixCaching ? "on" : "off"}, preemption ${c.preemptionMode}`
  );
}
