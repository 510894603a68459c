/**
 * Command-line and environment arguments of the serving runtime, named as vLLM names its
 * engine args (`--max-num-seqs`, `--gpu-memory-utilization`, ...), shared by the in-cluster
 * entry (main.ts) and `gpk serve`. Each flag can also come from `GPK_SERVING_<FLAG>` (upper
 * snake case, e.g. `GPK_SERVING_MAX_NUM_SEQS=128`); a flag beats its variable.
 */
import { GPU_PRODUCT_IDS, type GpuProduct } from "../../gpu";
import { VirtualClock, WallClock, type Clock } from "./engine/clock";
import { ENGINE_VERSIONS, EngineConfigError, resolveEngineConfig, type EngineArgs, type EngineConfig, type EngineVersion, type KvCacheDtype } from "./engine/config";
import type { PreemptionMode } from "./engine/scheduler";

export const SERVE_FLAGS = {
  engine: { type: "string" },
  port: { type: "string" },
  host: { type: "string" },
  model: { type: "string" },
  "served-model-name": { type: "string" },
  gpu: { type: "string" },
  "tensor-parallel-size": { type: "string" },
  "gpu-memory-utilization": { type: "string" },
  "max-model-len": { type: "string" },
  "max-num-seqs": { type: "string" },
  "max-num-batched-tokens": { type: "string" },
  "block-size": { type: "string" },
  "enable-prefix-caching": { type: "boolean" },
  "no-enable-prefix-caching": { type: "boolean" },
  "enable-chunked-prefill": { type: "boolean" },
  "no-enable-chunked-prefill": { type: "boolean" },
  "kv-cache-dtype": { type: "string" },
  "num-gpu-blocks-override": { type: "string" },
  "max-waiting": { type: "string" },
  "preemption-mode": { type: "string" },
  "swap-space": { type: "string" },
  clock: { type: "string" },
  speedup: { type: "string" },
} as const;

export type ServeFlagName = keyof typeof SERVE_FLAGS;
export type ServeFlagValues = Partial<Record<ServeFlagName, string | boolean>>;

export const SERVE_USAGE = `Flags (vLLM's names; each also read from GPK_SERVING_<FLAG>, e.g. GPK_SERVING_MAX_NUM_SEQS):
  --engine v1                      vLLM engine modelled: v1 (default; chunked prefill always, V1's token budget
                                   per GPU, its own fitted timing) or v0 (prefill-only steps below 32k
                                   context, swap preemption, V0's fitted timing)
  --port 8000                      listen port (0: any free port)
  --host 0.0.0.0                   listen address
  --model llama-3-8b               preset: llama-3-8b, llama-3-70b, llama-3.1-8b, llama-3.1-70b, mistral-7b,
                                   qwen2.5-0.5b, qwen3-8b, qwen3-14b, qwen3-32b (or its HF repo id)
  --served-model-name <name>       name clients pass as "model" (default: the HF repo id)
  --gpu h100                       simulated GPU: ${GPU_PRODUCT_IDS.join(", ")}
  --tensor-parallel-size N         GPUs per replica (default 1; 4 for the 70B presets)
  --gpu-memory-utilization 0.9     fraction of GPU memory for weights, activations and KV cache
  --max-model-len N                longest prompt + output (default: the model's context)
  --max-num-seqs N                 most requests in a batch (v1: 1024 on H100, 256 on smaller GPUs and A100;
                                   v0: 256)
  --max-num-batched-tokens N       token budget per step (v1: 8192 on H100, 2048 on smaller GPUs and A100;
                                   v0: max(2048, max-num-seqs), or the longest prompt without chunked prefill)
  --block-size 16                  tokens per KV block
  --[no-]enable-prefix-caching     reuse KV blocks of equal prefixes (default on)
  --[no-]enable-chunked-prefill    mix prompt chunks into decode steps (v1: always; v0: default on only above
                                   32k context); off: whole prompts in prefill-only steps (v0 only)
  --kv-cache-dtype auto            auto | bfloat16 | fp8 | fp8_e4m3 | fp8_e5m2
  --num-gpu-blocks-override N      use N KV blocks instead of deriving them from memory
  --max-waiting 512                waiting-queue bound; beyond it requests get 429 + Retry-After
  --preemption-mode recompute      recompute | swap (v0 only; swap copies KV to host at ~55 GB/s)
  --swap-space 4                   host GiB per GPU for swapped KV
  --clock real                     real: wall time (× --speedup); virtual: steps run back to back,
                                   latencies reported in simulated seconds
  --speedup 1                      simulated seconds per wall second with --clock real`;

export interface ServeSettings {
  engine: EngineArgs;
  /** How a message names a flag's value: `max-num-seqs`, or `GPK_SERVING_MAX_NUM_SEQS` when it came from there. */
  label(flag: string): string;
  port: number;
  host: string;
  servedModelName: string | undefined;
  clock: Clock;
}

function envName(flag: string): string {
  return `GPK_SERVING_${flag.replaceAll("-", "_").toUpperCase()}`;
}

/** Flag values merged over environment values; throws EngineConfigError naming the flag. */
export function serveSettings(values: ServeFlagValues, env: NodeJS.ProcessEnv = process.env): ServeSettings {
  const label = (flag: string): string => (values[flag as ServeFlagName] === undefined && env[envName(flag)] ? envName(flag) : flag);
  const str = (flag: ServeFlagName): string | undefined => {
    const v = values[flag];
    if (typeof v === "string") return v;
    const e = env[envName(flag)];
    return e === undefined || e === "" ? undefined : e;
  };
  const num = (flag: ServeFlagName, integer: boolean): number | undefined => {
    const raw = str(flag);
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (raw.trim() === "" || !Number.isFinite(n) || (integer && !Number.isInteger(n))) {
      throw new EngineConfigError(label(flag), `expected ${integer ? "an integer" : "a number"}, got ${JSON.stringify(raw)}`);
    }
    return n;
  };
  const bool = (flag: ServeFlagName): boolean | undefined => {
    if (values[flag] === true) return true;
    const e = env[envName(flag)];
    if (e === undefined || e === "") return undefined;
    if (!["true", "false", "1", "0"].includes(e)) throw new EngineConfigError(envName(flag), `expected true or false, got ${JSON.stringify(e)}`);
    return e === "true" || e === "1";
  };

  const gpu = str("gpu");
  if (gpu !== undefined && !GPU_PRODUCT_IDS.includes(gpu as GpuProduct)) {
    throw new EngineConfigError(label("gpu"), `unknown GPU ${JSON.stringify(gpu)}; one of ${GPU_PRODUCT_IDS.join(", ")}`);
  }
  const prefixOn = bool("enable-prefix-caching");
  const prefixOff = bool("no-enable-prefix-caching");
  if (prefixOn && prefixOff) throw new EngineConfigError("enable-prefix-caching", "given together with --no-enable-prefix-caching");

  const engineVersion = str("engine");
  if (engineVersion !== undefined && !ENGINE_VERSIONS.includes(engineVersion as EngineVersion)) {
    throw new EngineConfigError(label("engine"), `expected one of ${ENGINE_VERSIONS.join(", ")}, got ${JSON.stringify(engineVersion)}`);
  }

  const engine: EngineArgs = {};
  const set = <K extends keyof EngineArgs>(key: K, v: EngineArgs[K] | undefined) => {
    if (v !== undefined) engine[key] = v;
  };
  set("engine", engineVersion as EngineVersion | undefined);
  set("model", str("model"));
  set("gpu", gpu as GpuProduct | undefined);
  set("tensorParallelSize", num("tensor-parallel-size", true));
  set("gpuMemoryUtilization", num("gpu-memory-utilization", false));
  set("maxModelLen", num("max-model-len", true));
  set("maxNumSeqs", num("max-num-seqs", true));
  set("maxNumBatchedTokens", num("max-num-batched-tokens", true));
  set("blockSize", num("block-size", true));
  set("enablePrefixCaching", prefixOff ? false : prefixOn);
  const chunkedOn = bool("enable-chunked-prefill");
  const chunkedOff = bool("no-enable-chunked-prefill");
  if (chunkedOn && chunkedOff) throw new EngineConfigError("enable-chunked-prefill", "given together with --no-enable-chunked-prefill");
  set("enableChunkedPrefill", chunkedOff ? false : chunkedOn);
  set("kvCacheDtype", str("kv-cache-dtype") as KvCacheDtype | undefined);
  set("numGpuBlocksOverride", num("num-gpu-blocks-override", true));
  set("maxWaiting", num("max-waiting", true));
  set("preemptionMode", str("preemption-mode") as PreemptionMode | undefined);
  set("swapSpaceGiB", num("swap-space", false));

  const port = num("port", true) ?? 8000;
  if (port < 0 || port > 65535) throw new EngineConfigError(label("port"), `expected an integer between 0 and 65535, got ${port}`);
  const clockName = str("clock") ?? "real";
  const speedup = num("speedup", false) ?? 1;
  if (!(speedup > 0)) throw new EngineConfigError(label("speedup"), `expected a positive number, got ${speedup}`);
  let clock: Clock;
  if (clockName === "real") clock = new WallClock(speedup);
  else if (clockName === "virtual") clock = new VirtualClock();
  else throw new EngineConfigError(label("clock"), `expected real or virtual, got ${JSON.stringify(clockName)}`);
  return { engine, label, port, host: str("host") ?? "0.0.0.0", servedModelName: str("served-model-name"), clock };
}

/**
 * The engine configuration the settings describe; an engine argument it refuses is reported
 * under the flag, or the GPK_SERVING_* variable, it came from.
 */
export function resolveServeConfig(settings: ServeSettings): EngineConfig {
  try {
    return resolveEngineConfig(settings.engine);
  } catch (err) {
    if (err instanceof EngineConfigError) throw new EngineConfigError(settings.label(err.flag), err.detail);
    throw err;
  }
}
