/**
 * A serving capacity plan: the candidates (GPU product, the instance types that carry it,
 * tensor parallelism, engine batch settings), the rate each replica sustains within the SLO
 * (search.ts), and what carrying the peak then costs. The runner that evaluates the tasks is
 * passed in (worker threads or Ray in the CLI, in-process in the policy): the plan is the
 * same whichever evaluates it.
 */
import { GPU_PRODUCT_IDS, type GpuProduct } from "../../../gpu";
import { cheapestInstancesOf } from "../../../gpu/pricing";
import type { ReplayRequest } from "../replay";
import type { CandidateEngine, CapacityResult, CapacityTask } from "./search";
import type { Slo } from "./slo";

/** `max-num-seqs` and `max-num-batched-tokens` pairs a plan tries by default. */
export interface EngineSetting {
  maxNumSeqs: number;
  maxNumBatchedTokens: number;
}
export const DEFAULT_ENGINE_SETTINGS: readonly EngineSetting[] = [
  { maxNumSeqs: 64, maxNumBatchedTokens: 2048 },
  { maxNumSeqs: 256, maxNumBatchedTokens: 4096 },
  { maxNumSeqs: 512, maxNumBatchedTokens: 8192 },
];
export const DEFAULT_TENSOR_PARALLEL = [1, 2, 4, 8] as const;

export interface PlanInput {
  model: string;
  requests: ReplayRequest[];
  peakRequestsPerSecond: number;
  slo: Slo;
  gpus: readonly GpuProduct[];
  tensorParallel: readonly number[];
  engineSettings: readonly EngineSetting[];
  headroomPercent: number;
  seed: number;
  /** Engine arguments every candidate shares (the stack entry's maxModelLen, utilization, …). */
  common?: Omit<CandidateEngine, "gpu" | "tensorParallelSize" | "maxNumSeqs" | "maxNumBatchedTokens" | "model">;
}

export interface PlanCandidate {
  gpu: GpuProduct;
  instanceType: string;
  tensorParallelSize: number;
  maxNumSeqs: number;
  maxNumBatchedTokens: number;
  maxRatePerReplica: number;
  replicas: number | null;
  gpus: number | null;
  nodes: number | null;
  dollarsPerHour: number | null;
  dollarsPerMillionOutputTokens: number | null;
  meetsSlo: boolean;
  /** p99 TTFT (ms) with each replica at its share of the peak. */
  ttftP99MsAtPeak: number | null;
  limit: CapacityResult["limit"];
  /** Why the configuration does not start, when it does not. */
  reason?: string;
}

export interface Plan {
  candidates: PlanCandidate[];
  best: PlanCandidate | null;
  /** Candidates no other beats on both cost and p99 TTFT at peak, cheapest first. */
  pareto: PlanCandidate[];
  /** Search probes per simulated configuration (task id), for the report's curves. */
  curves: Record<string, CapacityResult["curve"]>;
}

export type Runner = (tasks: CapacityTask[], onDone?: (result: CapacityResult, done: number, total: number) => void) => Promise<CapacityResult[]>;

export function taskId(e: Pick<CandidateEngine, "gpu" | "tensorParallelSize" | "maxNumSeqs" | "maxNumBatchedTokens">): string {
  return `${e.gpu}/tp${e.tensorParallelSize}/seqs${e.maxNumSeqs}/tokens${e.maxNumBatchedTokens}`;
}

/** One task per GPU product × TP (that some instance type of the product holds) × engine setting. */
export function planTasks(input: PlanInput): CapacityTask[] {
  const tasks: CapacityTask[] = [];
  for (const gpu of input.gpus) {
    const largest = Math.max(0, ...cheapestInstancesOf(gpu).map((i) => i.gpus));
    for (const tp of input.tensorParallel) {
      if (tp > largest) continue;
      for (const s of input.engineSettings) {
        const engine: CandidateEngine = { ...input.common, model: input.model, gpu, tensorParallelSize: tp, maxNumSeqs: s.maxNumSeqs, maxNumBatchedTokens: s.maxNumBatchedTokens };
        tasks.push({
          id: taskId({ gpu, tensorParallelSize: tp, ...s }), engine, requests: input.requests, slo: input.slo, seed: input.seed,
          peakRequestsPerSecond: input.peakRequestsPerSecond, headroomPercent: input.headroomPercent,
        });
      }
    }
  }
  return tasks;
}

const cents = (x: number) => Math.round(x * 100) / 100;

/** Ranks the candidates: SLO met first, then cheapest, then lowest p99 TTFT at peak, then by key. */
function rank(a: PlanCandidate, b: PlanCandidate): number {
  if (a.meetsSlo !== b.meetsSlo) return a.meetsSlo ? -1 : 1;
  const cost = (a.dollarsPerHour ?? Infinity) - (b.dollarsPerHour ?? Infinity);
  if (cost !== 0 && Number.isFinite(cost)) return cost;
  const ttft = (a.ttftP99MsAtPeak ?? Infinity) - (b.ttftP99MsAtPeak ?? Infinity);
  if (ttft !== 0 && Number.isFinite(ttft)) return ttft;
  return a.gpu.localeCompare(b.gpu) || a.tensorParallelSize - b.tensorParallelSize || a.maxNumSeqs - b.maxNumSeqs ||
    a.maxNumBatchedTokens - b.maxNumBatchedTokens || a.instanceType.localeCompare(b.instanceType);
}

/** The rows of a plan from the tasks' results: each simulated configuration once per instance type that holds its TP. */
export function assemblePlan(input: PlanInput, tasks: readonly CapacityTask[], results: readonly CapacityResult[]): Plan {
  const byId = new Map(results.map((r) => [r.id, r]));
  const meanOutput = input.requests.reduce((s, r) => s + r.outputTokens, 0) / input.requests.length;
  const outputTokensPerHourAtPeak = input.peakRequestsPerSecond * meanOutput * 3600;
  const candidates: PlanCandidate[] = [];
  const curves: Plan["curves"] = {};
  for (const task of tasks) {
    const r = byId.get(task.id);
    if (!r) throw new Error(`no result for candidate ${task.id}`);
    curves[task.id] = r.curve;
    const e = task.engine as Required<Pick<CandidateEngine, "gpu" | "tensorParallelSize" | "maxNumSeqs" | "maxNumBatchedTokens">>;
    for (const instance of cheapestInstancesOf(e.gpu)) {
      if (instance.gpus < e.tensorParallelSize) continue;
      const replicas = r.replicas;
      const perNode = Math.floor(instance.gpus / e.tensorParallelSize);
      const nodes = replicas === null ? null : Math.ceil(replicas / perNode);
      const dollarsPerHour = nodes === null ? null : cents(nodes * instance.dollarsPerHour);
      candidates.push({
        gpu: e.gpu, instanceType: instance.instanceType, tensorParallelSize: e.tensorParallelSize, maxNumSeqs: e.maxNumSeqs, maxNumBatchedTokens: e.maxNumBatchedTokens,
        maxRatePerReplica: r.maxRatePerReplica, replicas, gpus: replicas === null ? null : replicas * e.tensorParallelSize, nodes, dollarsPerHour,
        dollarsPerMillionOutputTokens: dollarsPerHour === null || outputTokensPerHourAtPeak === 0 ? null : cents((dollarsPerHour * 1e6) / outputTokensPerHourAtPeak),
        meetsSlo: r.maxRatePerReplica > 0, ttftP99MsAtPeak: r.atPeak?.ttftP99Ms ?? null, limit: r.limit,
        ...(r.reason !== undefined ? { reason: r.reason } : {}),
      });
    }
  }
  candidates.sort(rank);
  const meeting = candidates.filter((c) => c.meetsSlo);
  const pareto: PlanCandidate[] = [];
  let bestTtft = Infinity;
  for (const c of meeting) {
    // Ascending cost (ties by TTFT): a candidate is on the front when it beats every cheaper one's TTFT.
    if (c.ttftP99MsAtPeak! < bestTtft) {
      pareto.push(c);
      bestTtft = c.ttftP99MsAtPeak!;
    }
  }
  return { candidates, best: meeting[0] ?? null, pareto, curves };
}

export async function runPlan(input: PlanInput, runner: Runner, onDone?: Parameters<Runner>[1]): Promise<Plan> {
  const tasks = planTasks(input);
  const results = await runner(tasks, onDone);
  return assemblePlan(input, tasks, results);
}

export function isGpuProduct(name: string): name is GpuProduct {
  return (GPU_PRODUCT_IDS as string[]).includes(name);
}
