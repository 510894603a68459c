/**
 * Serving capacity against declared traffic and SLOs (runtime/serving/capacity): the questions a
 * reviewer of a serving change asks.
 * - `serving-capacity` (mandatory): can `maxReplicas` replicas of the entry's own configuration
 *   carry its peak, with the headroom, within its SLO? If not, the peak is an outage.
 * - `serving-capacity-cost` (advisory): does the entry pay for GPUs it cannot use: `minReplicas`
 *   that carry more than twice the peak, or a configuration meeting the SLO at the peak for at
 *   most half the cost?
 * Both read the VllmServing summaries of entries that declare `traffic` and `slo`. An assessment
 * replays the entry's workload on the virtual clock; it is cached on disk by the hash of its
 * inputs and the simulator's constants (cache.ts), so a second `gpk check` reads it back.
 */
import type { StackValidationPolicy } from "@pulumi/policy";
import { HOURS_PER_MONTH, ON_DEMAND_USD_PER_HOUR, pricedAs, type PricedInstance } from "../../gpu/pricing";
import { EC2_GPU_INSTANCES } from "../../gpu";
import type { ServingCapacitySummary } from "../../components/summaries";
import { assessEndpoint, type Assessment, type EndpointSpec } from "../../runtime/serving/capacity/assess";
import { cachedCompute, capacityKey } from "../../runtime/serving/capacity/cache";
import type { CandidateEngine } from "../../runtime/serving/capacity/search";
import { formatSlo } from "../../runtime/serving/capacity/slo";
import { STACK_TRAFFIC_SEED, workloadRequests } from "../../stacks/config-serving";
import { configSchema, readConfig } from "../lib/config";
import { components } from "../lib/stack";

function instanceOf(c: ServingCapacitySummary): PricedInstance | undefined {
  if (c.instanceType !== null) {
    const spec = EC2_GPU_INSTANCES[c.instanceType];
    const price = ON_DEMAND_USD_PER_HOUR[c.instanceType];
    return spec && price !== undefined ? { instanceType: c.instanceType, product: spec.product, gpus: spec.gpus, dollarsPerHour: price } : undefined;
  }
  return pricedAs(c.gpu, c.gpusPerNode);
}

export function engineOf(c: ServingCapacitySummary): CandidateEngine {
  return {
    model: c.model, gpu: c.gpu, tensorParallelSize: c.tensorParallelSize, maxNumSeqs: c.maxNumSeqs,
    ...(c.maxNumBatchedTokens !== null ? { maxNumBatchedTokens: c.maxNumBatchedTokens } : {}),
    ...(c.maxModelLen !== null ? { maxModelLen: c.maxModelLen } : {}),
    gpuMemoryUtilization: c.gpuMemoryUtilization, blockSize: c.blockSize, kvCacheDtype: c.kvCacheDtype as CandidateEngine["kvCacheDtype"],
    enablePrefixCaching: c.enablePrefixCaching,
  };
}

const memo = new Map<string, Assessment>();

/** The entry's assessment, from memory, the disk cache, or replays. */
export function assessmentOf(c: ServingCapacitySummary, headroomPercent: number): { assessment: Assessment; instance: PricedInstance } | undefined {
  const instance = instanceOf(c);
  if (!instance) return undefined;
  const spec: EndpointSpec = {
    engine: engineOf(c), instance, minReplicas: c.minReplicas, maxReplicas: c.maxReplicas, peakRequestsPerSecond: c.traffic.peakRequestsPerSecond,
    requests: workloadRequests(c.traffic.workload, STACK_TRAFFIC_SEED), slo: c.slo, seed: STACK_TRAFFIC_SEED, headroomPercent,
    // A kind pool's simulated GPUs are no purchase: a cheaper configuration there is one on the same product.
    ...(c.instanceType === null ? { alternatives: { gpus: [c.gpu] }, priceBy: "gpu" as const } : {}),
  };
  const key = capacityKey("endpoint", spec.engine, spec);
  let assessment = memo.get(key);
  if (!assessment) {
    assessment = cachedCompute(key, () => assessEndpoint(spec));
    memo.set(key, assessment);
  }
  return { assessment, instance };
}

const dollars = (x: number) => `$${Math.round(x).toLocaleString("en-US")}`;
const rate = (x: number) => `${x} req/s`;

function describeConfig(c: { gpu: string; tensorParallelSize: number; maxNumSeqs: number; maxNumBatchedTokens?: number | null }): string {
  const tokens = c.maxNumBatchedTokens ?? "the engine's default";
  return `${c.gpu}, tensorParallelSize ${c.tensorParallelSize}, maxNumSeqs ${c.maxNumSeqs}, maxNumBatchedTokens ${tokens}`;
}

function withCapacity(args: Parameters<StackValidationPolicy["validateStack"]>[0]) {
  return components(args.resources, "serving").filter((s) => s.props.capacity !== undefined && s.props.capacity !== null);
}

export const servingCapacity: StackValidationPolicy = {
  name: "serving-capacity",
  description:
    "Checks whether each serving endpoint that declares `traffic` and `slo` can carry its peak, with `headroomPercent` on top, within its SLO at `maxReplicas` replicas of its own configuration.",
  enforcementLevel: "mandatory",
  configSchema: configSchema("headroomPercent"),
  validateStack: (args, reportViolation) => {
    const { headroomPercent } = readConfig(args, "headroomPercent");
    for (const s of withCapacity(args)) {
      const c = s.props.capacity!;
      const found = assessmentOf(c, headroomPercent);
      const where = `Serving endpoint "${s.props.name}" (${c.keyPath})`;
      const slo = formatSlo(c.slo);
      if (!found) {
        reportViolation(`${where} runs on an instance type the kit has no price for (${c.instanceType}); use one of gpu/pricing.ts's.`, s.urn);
        continue;
      }
      const { own, replicasNeeded } = found.assessment;
      if (replicasNeeded === null) {
        const lowest = own.curve[0];
        reportViolation(
          `${where} cannot meet its SLO (${slo}) at any request rate with its configuration (${describeConfig(c)})` +
            (own.reason ? `: ${own.reason}` : lowest ? `: even at ${rate(lowest.rate)} one replica measures p99 TTFT ${lowest.ttftP99Ms} ms, TPOT ${lowest.tpotP99Ms} ms, E2E ${lowest.e2eP99Ms} ms` : "") +
            `; change the configuration or the SLO (\`gpk plan serving <stack> --entry ${s.props.name}\` ranks configurations that meet it).`,
          s.urn,
        );
        continue;
      }
      if (c.maxReplicas < replicasNeeded) {
        reportViolation(
          `${where} cannot carry its peak of ${rate(c.traffic.peakRequestsPerSecond)} within its SLO (${slo}) at maxReplicas ${c.maxReplicas}: ` +
            `one replica of its configuration (${describeConfig(c)}) sustains ${rate(own.maxRatePerReplica)}, so the peak with ${headroomPercent}% headroom needs ${replicasNeeded} replicas; ` +
            `raise \`${c.keyPath}.maxReplicas\` to at least ${replicasNeeded} (and the tenant's GPU quota to match), or change the configuration (\`gpk plan serving <stack> --entry ${s.props.name}\`).`,
          s.urn,
        );
      }
    }
  },
};

export const servingCapacityCost: StackValidationPolicy = {
  name: "serving-capacity-cost",
  description:
    "Checks whether each serving endpoint that declares `traffic` and `slo` keeps `minReplicas` that carry at most twice its peak, and whether no configuration costing at most half as much meets its SLO at the peak.",
  enforcementLevel: "advisory",
  configSchema: configSchema("headroomPercent"),
  validateStack: (args, reportViolation) => {
    const { headroomPercent } = readConfig(args, "headroomPercent");
    for (const s of withCapacity(args)) {
      const c = s.props.capacity!;
      const found = assessmentOf(c, headroomPercent);
      if (!found || found.assessment.replicasNeeded === null) continue; // serving-capacity reports these
      const { own, replicasNeeded, dollarsPerHour, perReplicaDollarsPerHour, cheaper } = found.assessment;
      const where = `Serving endpoint "${s.props.name}" (${c.keyPath})`;
      const carried = Math.round(c.minReplicas * own.maxRatePerReplica * 1000) / 1000;
      if (carried > 2 * c.traffic.peakRequestsPerSecond && c.minReplicas > replicasNeeded) {
        const monthly = (c.minReplicas - replicasNeeded) * perReplicaDollarsPerHour * HOURS_PER_MONTH;
        reportViolation(
          `${where} keeps minReplicas ${c.minReplicas}, which carry ${rate(carried)} within its SLO, more than twice its peak of ${rate(c.traffic.peakRequestsPerSecond)}: ` +
            `the peak with ${headroomPercent}% headroom needs ${replicasNeeded}; lowering \`${c.keyPath}.minReplicas\` to ${replicasNeeded} saves about ${dollars(monthly)} a month on ${found.instance.instanceType} (on-demand).`,
          s.urn,
        );
      }
      if (cheaper && dollarsPerHour !== null) {
        const monthly = (dollarsPerHour - cheaper.dollarsPerHour) * HOURS_PER_MONTH;
        reportViolation(
          `${where} needs ${replicasNeeded} replica(s) on ${found.instance.instanceType} at its peak, $${dollarsPerHour}/h; ${cheaper.replicas} replica(s) of ${describeConfig(cheaper)} ` +
            `on ${cheaper.nodes} ${cheaper.instanceType} meet its SLO (${formatSlo(c.slo)}) at that peak for $${cheaper.dollarsPerHour}/h, about ${dollars(monthly)} a month less ` +
            `(measured at ${rate(cheaper.ratePerReplica)} per replica: p99 TTFT ${cheaper.measured.ttftP99Ms} ms); \`gpk plan serving <stack> --entry ${s.props.name}\` ranks the options.`,
          s.urn,
        );
      }
    }
  },
};

export const servingCapacityPolicies = [servingCapacity, servingCapacityCost];
