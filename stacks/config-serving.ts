/** `gpk:serving`: vLLM(-style) OpenAI endpoints, each in a tenant's namespace on one GPU pool. */
import { z } from "zod";
import { expect, positiveInt } from "./config-parts";

/** Defaults of a serving entry; the component applies the same ones (components/vllm-serving.ts). */
export const SERVING_DEFAULTS = {
  tensorParallelSize: 1,
  gpuMemoryUtilization: 0.9,
  maxNumSeqs: 256,
  blockSize: 16,
  kvCacheDtype: "auto",
  enablePrefixCaching: true,
  maxWaiting: 512,
  minReplicas: 1,
  maxReplicas: 2,
  targetWaitingPerReplica: 8,
  modelCacheGi: 200,
} as const;

export const servingEntrySchema = z
  .object({
    /** Deployment and Service name, unique in the tenant's namespace. */
    name: z.string(expect("a DNS label")).regex(/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/, expect("a DNS label")),
    /** Tenant whose namespace and quota the endpoint uses. */
    tenant: z.string(expect("a tenant name")),
    /** GPU pool the replicas run on; the tenant must be allowed on it. */
    pool: z.string(expect("a pool name")),
    /**
     * Model: a Hugging Face repo id for vLLM on eks; on kind one of the simulated runtime's
     * presets (llama-3-8b, llama-3-70b, mistral-7b, qwen2.5-0.5b, or their repo ids).
     */
    model: z.string(expect("a model id")).min(1, expect("a model id")),
    /** Name clients pass as `model`. Default: the model id. */
    servedModelName: z.string().min(1).optional(),
    tensorParallelSize: positiveInt().default(SERVING_DEFAULTS.tensorParallelSize),
    /** Fraction of GPU memory vLLM may use (policy caps it at 0.9). Default 0.9. */
    gpuMemoryUtilization: z.number(expect("a fraction")).gt(0, expect("a fraction")).max(1, expect("a fraction")).default(SERVING_DEFAULTS.gpuMemoryUtilization),
    /** Longest prompt + output. Default: the model's context length. */
    maxModelLen: positiveInt().optional(),
    maxNumSeqs: positiveInt().default(SERVING_DEFAULTS.maxNumSeqs),
    maxNumBatchedTokens: positiveInt().optional(),
    blockSize: z.union([z.literal(8), z.literal(16), z.literal(32)], expect("8, 16 or 32")).default(SERVING_DEFAULTS.blockSize),
    kvCacheDtype: z.enum(["auto", "bfloat16", "fp8", "fp8_e4m3", "fp8_e5m2"], expect('"auto", "bfloat16", "fp8", "fp8_e4m3" or "fp8_e5m2"')).default(SERVING_DEFAULTS.kvCacheDtype),
    enablePrefixCaching: z.boolean(expect("true or false")).default(SERVING_DEFAULTS.enablePrefixCaching),
    /** Requests that may wait for a batch slot per replica; beyond it clients get 429 + Retry-After. Default 512. */
    maxWaiting: positiveInt().default(SERVING_DEFAULTS.maxWaiting),
    minReplicas: positiveInt().default(SERVING_DEFAULTS.minReplicas),
    maxReplicas: positiveInt().default(SERVING_DEFAULTS.maxReplicas),
    /** Waiting requests per replica the autoscaler aims for (`vllm:num_requests_waiting`). Default 8. */
    targetWaitingPerReplica: positiveInt().default(SERVING_DEFAULTS.targetWaitingPerReplica),
    /** Per-replica model cache volume in GiB (eks). Default 200. */
    modelCacheGi: positiveInt().default(SERVING_DEFAULTS.modelCacheGi),
    /** Secret holding a Hugging Face token, for gated models (eks). */
    hfTokenSecret: z.object({ name: z.string().min(1), key: z.string().min(1) }).strict().optional(),
  })
  .strict();

export const servingSchema = z.array(servingEntrySchema, expect("a list of serving endpoints")).default([]);
export type ServingEntry = z.output<typeof servingEntrySchema>;

/** What the serving checks need to know of the rest of the config. */
interface ServingContext {
  target: "kind" | "eks";
  nodePools: { name: string; gpusPerNode?: number; instanceType?: string }[];
  tenants: { name: string; allowedPools: string[] }[];
  serving: ServingEntry[];
}

/**
 * Cross-key rules: the tenant exists and may use the pool, a replica fits on one node, and
 * on kind the model is one the simulated runtime knows.
 */
export function checkServingReferences(
  config: ServingContext,
  ctx: z.RefinementCtx,
  gpusPerNode: (pool: ServingContext["nodePools"][number]) => number | undefined,
  knownSimulatedModel: (model: string) => boolean,
): void {
  const seen = new Set<string>();
  config.serving.forEach((s, i) => {
    const at = (key: string) => ["serving", i, key];
    const tenant = config.tenants.find((t) => t.name === s.tenant);
    if (!tenant) {
      ctx.addIssue({ code: "custom", path: at("tenant"), message: `expected one of the tenants ${config.tenants.map((t) => t.name).join(", ")}, got "${s.tenant}"` });
    } else if (!tenant.allowedPools.includes(s.pool)) {
      ctx.addIssue({ code: "custom", path: at("pool"), message: `expected a pool tenant "${s.tenant}" may use (${tenant.allowedPools.join(", ")}), got "${s.pool}"` });
    }
    const key = `${s.tenant}/${s.name}`;
    if (seen.has(key)) ctx.addIssue({ code: "custom", path: at("name"), message: `expected a unique name in tenant "${s.tenant}", got "${s.name}" twice` });
    seen.add(key);
    const pool = config.nodePools.find((p) => p.name === s.pool);
    const perNode = pool ? gpusPerNode(pool) : undefined;
    if (pool && perNode !== undefined && s.tensorParallelSize > perNode) {
      ctx.addIssue({ code: "custom", path: at("tensorParallelSize"), message: `expected at most ${perNode} (the GPUs of one ${s.pool} node), got ${s.tensorParallelSize}` });
    }
    if (s.minReplicas > s.maxReplicas) {
      ctx.addIssue({ code: "custom", path: at("minReplicas"), message: `expected minReplicas ≤ maxReplicas, got ${s.minReplicas} > ${s.maxReplicas}` });
    }
    if (config.target === "kind" && !knownSimulatedModel(s.model)) {
      ctx.addIssue({ code: "custom", path: at("model"), message: `expected a model the simulated runtime knows (llama-3-8b, llama-3-70b, mistral-7b, qwen2.5-0.5b or their repo ids), got "${s.model}"` });
    }
  });
}
