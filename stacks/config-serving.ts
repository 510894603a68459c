/** `gpk:serving`: vLLM(-style) OpenAI endpoints, each in a tenant's namespace on one GPU pool. */
import * as fs from "node:fs";
import * as path from "node:path";
import { z } from "zod";
import { ReplayInputError, type ReplayRequest } from "../runtime/serving/replay";
import { WORKLOAD_SHAPE_NAMES, fileRequests, isShapeName, shapeRequests } from "../runtime/serving/capacity/workload";
import { expect, positiveInt } from "./config-parts";

/** Where a serving entry's `traffic.workload` file is read from when its path is relative: the kit's stacks/ folder. */
export const STACKS_DIR = __dirname;

/** The seed a stack entry's traffic is replayed with (the policy and `gpk plan serving <stack>` alike). */
export const STACK_TRAFFIC_SEED = 0;

/**
 * The requests of a `traffic.workload`: a named shape's (drawn with `seed`) or a JSONL file's,
 * relative to stacks/. Throws ReplayInputError naming the file and line of a bad request.
 */
export function workloadRequests(workload: string, seed: number = STACK_TRAFFIC_SEED): ReplayRequest[] {
  if (isShapeName(workload)) return shapeRequests(workload, seed);
  const file = path.resolve(STACKS_DIR, workload);
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new ReplayInputError(`cannot read ${workload} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return fileRequests(workload, text);
}

const positiveNumber = (what: string) => z.number(expect(what)).positive(expect(what)).finite(expect(what));

/**
 * `traffic`: the load the endpoint must carry. `workload` is a named shape (`chat`, `rag`, `summarize`:
 * runtime/serving/capacity/workload.ts) or a JSONL file in `gpk serve --replay`'s format, relative to stacks/.
 */
export const trafficSchema = z
  .object({
    /** Requests per second at the busiest time the endpoint must serve within its SLO. */
    peakRequestsPerSecond: positiveNumber("a positive number of requests per second"),
    workload: z
      .string(expect(`a workload shape (${WORKLOAD_SHAPE_NAMES.join(", ")}) or a .jsonl file`))
      .superRefine((workload, ctx) => {
        if (isShapeName(workload)) return;
        if (!workload.endsWith(".jsonl")) {
          ctx.addIssue({ code: "custom", message: `expected a workload shape (${WORKLOAD_SHAPE_NAMES.join(", ")}) or a .jsonl file, got ${JSON.stringify(workload)}` });
          return;
        }
        try {
          workloadRequests(workload);
        } catch (err) {
          if (!(err instanceof ReplayInputError)) throw err;
          ctx.addIssue({ code: "custom", message: `expected a readable workload in gpk serve --replay's format: ${err.message}` });
        }
      }),
  }, expect("{peakRequestsPerSecond, workload}"))
  .strict();

/** `slo`: p99 bounds in milliseconds; at least one. */
export const sloSchema = z
  .object({
    ttftP99Ms: positiveNumber("a positive number of milliseconds").optional(),
    tpotP99Ms: positiveNumber("a positive number of milliseconds").optional(),
    e2eP99Ms: positiveNumber("a positive number of milliseconds").optional(),
  }, expect("{ttftP99Ms, tpotP99Ms, e2eP99Ms}"))
  .strict()
  .refine((s) => s.ttftP99Ms !== undefined || s.tpotP99Ms !== undefined || s.e2eP99Ms !== undefined, expect("at least one of ttftP99Ms, tpotP99Ms, e2eP99Ms"));

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
    /** The peak load the endpoint must carry (with `slo`, checked by the serving-capacity policy and sized by `gpk plan serving`). */
    traffic: trafficSchema.optional(),
    /** Latency bounds the endpoint must keep at `traffic`'s peak. */
    slo: sloSchema.optional(),
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
    if ((s.traffic === undefined) !== (s.slo === undefined)) {
      const missing = s.traffic === undefined ? "traffic" : "slo";
      ctx.addIssue({ code: "custom", path: at(missing), message: `expected ${missing} beside ${missing === "traffic" ? "slo" : "traffic"} (capacity is sized from both)` });
    }
    if (s.traffic !== undefined && config.target === "eks" && !knownSimulatedModel(s.model)) {
      ctx.addIssue({ code: "custom", path: at("model"), message: `expected a model the serving simulator knows, to size traffic against (llama-3-8b, llama-3.1-8b, llama-3-70b, mistral-7b, qwen3-8b, qwen2.5-0.5b or their repo ids), got "${s.model}"` });
    }
    if (config.target === "kind" && !knownSimulatedModel(s.model)) {
      ctx.addIssue({ code: "custom", path: at("model"), message: `expected a model the simulated runtime knows (llama-3-8b, llama-3-70b, mistral-7b, qwen2.5-0.5b or their repo ids), got "${s.model}"` });
    }
  });
}
