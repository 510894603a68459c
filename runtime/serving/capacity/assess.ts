/**
 * One serving endpoint weighed against its traffic and SLO, for the serving-capacity policies:
 * - how many replicas of its own configuration carry the peak (with headroom) within the SLO;
 * - what its `minReplicas` carry, against the peak;
 * - whether another configuration meets the SLO at the peak for at most half the cost. That
 *   question needs no full search: for each alternative, the most replicas half the budget buys
 *   are replayed once at their share of the peak, cheapest first, until one meets the SLO.
 */
import { GPU_PRODUCT_IDS, type GpuProduct } from "../../../gpu";
import { cheapestInstancesOf, type PricedInstance } from "../../../gpu/pricing";
import { resolveEngineConfig } from "../engine/config";
import { replayWorkload, type ReplayRequest } from "../replay";
import { DEFAULT_ENGINE_SETTINGS, DEFAULT_TENSOR_PARALLEL, type EngineSetting } from "./plan";
import { evaluateTask, roundRate, type CandidateEngine, type CapacityResult } from "./search";
import { measuredOf, meetsSlo, type Measured, type Slo } from "./slo";

export interface EndpointSpec {
  engine: CandidateEngine;
  /** The instance type the endpoint's pool is priced as. */
  instance: PricedInstance;
  /**
   * `node`: the replicas cost the whole nodes they need (an EC2 pool); `gpu`: their share of the
   * nodes' GPUs (a pool of simulated GPUs, priced per GPU). Default `node`.
   */
  priceBy?: "node" | "gpu";
  minReplicas: number;
  maxReplicas: number;
  peakRequestsPerSecond: number;
  requests: ReplayRequest[];
  slo: Slo;
  seed: number;
  headroomPercent: number;
  /** What the cheaper-configuration check tries. Default: every product, TP 1–8, the plan's engine settings. */
  alternatives?: { gpus?: readonly GpuProduct[]; tensorParallel?: readonly number[]; engineSettings?: readonly EngineSetting[] };
}

export interface CheaperConfiguration {
  gpu: GpuProduct;
  instanceType: string;
  tensorParallelSize: number;
  maxNumSeqs: number;
  maxNumBatchedTokens: number;
  replicas: number;
  nodes: number;
  ratePerReplica: number;
  dollarsPerHour: number;
  measured: Measured;
}

export interface Assessment {
  own: CapacityResult;
  /** Replicas of the endpoint's configuration the peak needs with headroom (null: no rate meets the SLO). */
  replicasNeeded: number | null;
  /** What those replicas cost on the endpoint's instance type. */
  dollarsPerHour: number | null;
  perReplicaDollarsPerHour: number;
  cheaper: CheaperConfiguration | null;
}

const cents = (x: number) => Math.round(x * 100) / 100;

function nodesFor(replicas: number, tp: number, instance: PricedInstance): number {
  return Math.ceil(replicas / Math.max(1, Math.floor(instance.gpus / tp)));
}

export function assessEndpoint(spec: EndpointSpec): Assessment {
  const own = evaluateTask({
    id: "own", engine: spec.engine, requests: spec.requests, slo: spec.slo, seed: spec.seed,
    peakRequestsPerSecond: spec.peakRequestsPerSecond, headroomPercent: spec.headroomPercent,
  });
  const tp = spec.engine.tensorParallelSize ?? 1;
  const perReplicaDollarsPerHour = cents((spec.instance.dollarsPerHour / spec.instance.gpus) * tp);
  const replicasNeeded = own.replicas;
  const dollarsPerHour = replicasNeeded === null ? null
    : spec.priceBy === "gpu" ? cents(replicasNeeded * perReplicaDollarsPerHour) : cents(nodesFor(replicasNeeded, tp, spec.instance) * spec.instance.dollarsPerHour);
  return { own, replicasNeeded, dollarsPerHour, perReplicaDollarsPerHour, cheaper: dollarsPerHour === null ? null : cheaperConfiguration(spec, dollarsPerHour) };
}

function cheaperConfiguration(spec: EndpointSpec, ownDollarsPerHour: number): CheaperConfiguration | null {
  const budget = ownDollarsPerHour / 2;
  const need = spec.peakRequestsPerSecond * (1 + spec.headroomPercent / 100);
  const options: { engine: CandidateEngine; instance: PricedInstance; replicas: number; nodes: number; dollarsPerHour: number }[] = [];
  const alt = spec.alternatives ?? {};
  const settings = [...(alt.engineSettings ?? DEFAULT_ENGINE_SETTINGS)];
  for (const gpu of alt.gpus ?? GPU_PRODUCT_IDS) {
    for (const tp of alt.tensorParallel ?? DEFAULT_TENSOR_PARALLEL) {
      for (const instance of cheapestInstancesOf(gpu)) {
        const perNode = Math.floor(instance.gpus / tp);
        const nodes = Math.floor(budget / instance.dollarsPerHour);
        if (perNode < 1 || nodes < 1) continue;
        for (const s of settings) {
          const engine: CandidateEngine = { ...spec.engine, gpu, tensorParallelSize: tp, ...s };
          options.push({ engine, instance, replicas: nodes * perNode, nodes, dollarsPerHour: cents(nodes * instance.dollarsPerHour) });
        }
      }
    }
  }
  // Cheapest first; among equals, the most replicas (the easiest to meet), then a fixed order.
  options.sort((a, b) => a.dollarsPerHour - b.dollarsPerHour || b.replicas - a.replicas || JSON.stringify(a.engine).localeCompare(JSON.stringify(b.engine)));
  for (const o of options) {
    let config;
    try {
      config = resolveEngineConfig(o.engine);
    } catch {
      continue; // the model does not fit this GPU at this TP
    }
    const ratePerReplica = roundRate(need / o.replicas);
    const measured = measuredOf(replayWorkload(config, spec.requests, { requestRate: ratePerReplica, seed: spec.seed }));
    if (!meetsSlo(measured, spec.slo)) continue;
    return {
      gpu: o.engine.gpu!, instanceType: o.instance.instanceType, tensorParallelSize: o.engine.tensorParallelSize!, maxNumSeqs: o.engine.maxNumSeqs!,
      maxNumBatchedTokens: o.engine.maxNumBatchedTokens!, replicas: o.replicas, nodes: o.nodes, ratePerReplica, dollarsPerHour: o.dollarsPerHour, measured,
    };
  }
  return null;
}
