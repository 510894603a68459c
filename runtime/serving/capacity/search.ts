/**
 * The highest request rate one replica sustains within an SLO: a search over replays of the
 * workload on the virtual clock, with Poisson arrivals drawn from a fixed seed (replay.ts), so
 * each probe is exactly what `gpk serve --replay <workload> --request-rate <rate> --seed <seed>`
 * reports for the same engine flags. One candidate is one `CapacityTask`; tasks are
 * independent and plain JSON, which is what lets the plan fan them out over worker threads or
 * Ray tasks and get the same answer from each.
 *
 * The search:
 * 1. the saturation rate: the request throughput with every request sent at once. A replica
 *    cannot sustain more in steady state (its queue would grow without bound, which a finite
 *    replay hides), so no rate above it counts;
 * 2. a probe at 1/64 of it, where requests barely overlap: if that misses, no rate meets the
 *    SLO (a lone request's latency is already too long);
 * 3. bisection in log space between a rate that meets and one that misses, until they are
 *    within RESOLUTION of each other;
 * 4. a probe at MISS_FACTOR × the rate found: latency is not strictly monotone in the rate
 *    with one seed, so if that meets too the search goes on above it. The rate reported
 *    therefore meets the SLO and MISS_FACTOR × it misses, both as a replay at that rate shows.
 * Rates are rounded to four significant digits, so the rate printed is the rate replayed.
 */
import { resolveEngineConfig, type EngineArgs } from "../engine/config";
import { replayWorkload, type ReplayRequest } from "../replay";
import { measuredOf, meetsSlo, type Measured, type Slo } from "./slo";

/** Ratio between the bracketing rates at which bisection stops. */
export const RESOLUTION = 1.04;
/** The rate above the one found that the search checks misses. */
export const MISS_FACTOR = 1.15;
/** The lowest rate probed, as a share of the saturation rate. */
const LOWEST_SHARE = 1 / 64;
const MAX_RETRIES_ABOVE = 6;

/** The engine arguments a candidate fixes (plain JSON: it crosses thread and process boundaries). */
export type CandidateEngine = Pick<
  EngineArgs,
  "engine" | "model" | "gpu" | "tensorParallelSize" | "maxNumSeqs" | "maxNumBatchedTokens" | "maxModelLen" | "gpuMemoryUtilization" | "blockSize" | "kvCacheDtype" | "enablePrefixCaching"
>;

export interface CapacityTask {
  /** Key of the candidate in its plan. */
  id: string;
  engine: CandidateEngine;
  requests: ReplayRequest[];
  slo: Slo;
  seed: number;
  peakRequestsPerSecond: number;
  /** Share of the peak (percent) the replicas must carry beyond it. */
  headroomPercent: number;
}

export interface Probe extends Measured {
  rate: number;
  meets: boolean;
}

export interface CapacityResult {
  id: string;
  /** Whether the configuration starts at all (the model fits the GPUs); else `reason` says why. */
  fits: boolean;
  reason?: string;
  /** Highest rate per replica that meets the SLO (0 when none does). */
  maxRatePerReplica: number;
  /** Request throughput with every request sent at once. */
  saturationRate: number;
  /** What bounds maxRatePerReplica: the SLO, the saturation throughput, or nothing (no rate meets). */
  limit: "slo" | "throughput" | "none";
  /** Replicas that carry the peak with the headroom; null when no rate meets the SLO. */
  replicas: number | null;
  /** The replay at the rate each replica gets at peak (peak ÷ replicas). */
  atPeak: Probe | null;
  /** Every probe, ascending by rate. */
  curve: Probe[];
}

/** Rounds to `digits` significant digits (a rate that prints as it is replayed). */
export function roundRate(x: number, digits = 4): number {
  if (!(x > 0) || !Number.isFinite(x)) return x;
  const scale = 10 ** (digits - 1 - Math.floor(Math.log10(x)));
  return Math.round(x * scale) / scale;
}

/** Replicas needed for `peak` requests/s with `headroomPercent` on top, each carrying `rate`. */
export function replicasFor(peak: number, headroomPercent: number, rate: number): number {
  // Hundredths, so 10 × 1.2 is 12 and not 12.000000000000002 rounded up.
  const need = Math.round(peak * (100 + headroomPercent) * 1e6) / 1e8;
  return Math.max(1, Math.ceil(need / rate - 1e-9));
}

export function evaluateTask(task: CapacityTask): CapacityResult {
  let config;
  try {
    config = resolveEngineConfig(task.engine);
  } catch (err) {
    return { id: task.id, fits: false, reason: (err as Error).message, maxRatePerReplica: 0, saturationRate: 0, limit: "none", replicas: null, atPeak: null, curve: [] };
  }
  const probes = new Map<number, Probe>();
  const probe = (rate: number): Probe => {
    const seen = probes.get(rate);
    if (seen) return seen;
    const measured = measuredOf(replayWorkload(config, task.requests, { requestRate: rate, seed: task.seed }));
    const p = { rate, ...measured, meets: meetsSlo(measured, task.slo) };
    probes.set(rate, p);
    return p;
  };
  const burst = replayWorkload(config, task.requests, { seed: task.seed });
  const saturationRate = roundRate(burst.requestThroughput);
  const done = (maxRate: number, limit: CapacityResult["limit"]): CapacityResult => {
    const replicas = maxRate > 0 ? replicasFor(task.peakRequestsPerSecond, task.headroomPercent, maxRate) : null;
    const atPeak = replicas === null ? null : probe(roundRate(task.peakRequestsPerSecond / replicas));
    const curve = [...probes.values()].sort((a, b) => a.rate - b.rate);
    return { id: task.id, fits: true, maxRatePerReplica: maxRate, saturationRate, limit, replicas, atPeak, curve };
  };
  if (!(saturationRate > 0) || burst.failed > 0) {
    return { ...done(0, "none"), reason: burst.failed > 0 ? `${burst.failed} request(s) longer than --max-model-len ${config.maxModelLen}` : "no request completed" };
  }
  if (probe(saturationRate).meets) return done(saturationRate, "throughput");
  let lo = roundRate(saturationRate * LOWEST_SHARE);
  if (!probe(lo).meets) return done(0, "none");
  let hi = saturationRate;
  for (let round = 0; ; round++) {
    while (hi / lo > RESOLUTION) {
      const mid = roundRate(Math.sqrt(lo * hi));
      if (mid <= lo || mid >= hi) break;
      if (probe(mid).meets) lo = mid;
      else hi = mid;
    }
    const above = roundRate(lo * MISS_FACTOR);
    if (!probe(above).meets) return done(lo, "slo");
    // Beyond the saturation rate a finite replay can still meet the SLO; the rate stops there.
    if (above >= saturationRate || round >= MAX_RETRIES_ABOVE) return done(lo, "throughput");
    // Met above the bracket: search on between there and the saturation rate.
    lo = above;
    hi = saturationRate;
  }
}
