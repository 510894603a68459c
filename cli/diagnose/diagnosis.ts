/**
 * `gpk diagnose`'s findings from one read of the cluster: where each pool's GPUs stand, why
 * each pending GPU pod waits, and which GPUs run hot. Pure over the objects read; the
 * measures are the extender's own: its cache turns nodes and pods into placement state
 * (runtime/scheduler-extender/cache.ts), `placementRefusal` is the rule set it binds by,
 * `fits` and `freeWholeGpus` come from runtime/scheduling, and pool accounting from
 * runtime/scheduling/accounting.ts.
 */
import { GPK_SCHEDULER_NAME } from "../../gpu";
import { placementRefusal } from "../../runtime/scheduler-extender/bind-guard";
import { ClusterCache } from "../../runtime/scheduler-extender/cache";
import { PolicyHolder } from "../../runtime/scheduler-extender/placement";
import { podToRequest } from "../../runtime/scheduler-extender/translate";
import type { K8sNode, K8sPod } from "../../runtime/scheduler-extender/wire";
import { poolGpuAccounts } from "../../runtime/scheduling/accounting";
import { freeWholeGpus } from "../../runtime/scheduling/defrag";
import { fits } from "../../runtime/scheduling/feasibility";
import { MILLI, isSharePod, type NodeState, type PodRequest } from "../../runtime/scheduling/types";
import type { GpuTelemetry } from "../../runtime/telemetry/parse";

/** Why a GPU pod is pending. */
export type PendingReason = "insufficient-gpus" | "fragmented" | "taints-or-affinity" | "extender-down" | "schedulable";

export interface PoolReport {
  pool: string;
  nodes: number;
  gpus: number;
  allocated: number;
  idle: number;
  /** Idle GPUs the observed workload cannot use where they are (FGD's measure). */
  fragmented: number;
  /** Idle GPUs the CPU left on their nodes cannot carry. */
  cpuStranded: number;
}

export interface PendingReport {
  namespace: string;
  name: string;
  /** GPUs asked for (a fraction for a shared GPU). */
  gpus: number;
  reason: PendingReason;
  detail: string;
}

export interface HotGpu {
  node: string;
  gpu: string;
  uuid: string;
  temperatureC?: number;
  powerCapped: boolean;
  thermalSlowdown: boolean;
}

export interface Diagnosis {
  pools: PoolReport[];
  pending: PendingReport[];
  hotGpus: HotGpu[];
}

export interface DiagnoseInput {
  nodes: K8sNode[];
  pods: K8sPod[];
  /** Samples of the telemetry exporters that answered. */
  telemetry?: GpuTelemetry[];
  /** °C at or above which a GPU is hot (the extender's default, 83). */
  hotTemperatureC: number;
  /** Whether the scheduler extender answered; undefined when not probed. */
  extenderReachable?: boolean;
}

const round = (x: number) => Math.round(x * 1000) / 1000;

function requestOf(pod: K8sPod): PodRequest | undefined {
  try {
    return podToRequest(pod);
  } catch {
    return undefined; // a pod the extender cannot read is reported by the extender, not here
  }
}

function waitingGpuPod(pod: K8sPod): boolean {
  return !pod.spec?.nodeName && (pod.status?.phase ?? "Pending") === "Pending";
}

/** The reason one pending pod waits, against every node. */
function pendingReason(pod: K8sPod, request: PodRequest, nodes: { object: K8sNode; state: NodeState }[], extenderReachable?: boolean): Omit<PendingReport, "namespace" | "name" | "gpus"> {
  const eligible = nodes.filter((n) => !placementRefusal(pod, n.object));
  const fitting = eligible.filter((n) => fits(n.state, request));
  if (fitting.length > 0) {
    if (pod.spec?.schedulerName === GPK_SCHEDULER_NAME && extenderReachable === false) {
      return { reason: "extender-down", detail: `${fitting.length} node(s) fit it, but the scheduler extender does not answer, so ${GPK_SCHEDULER_NAME} cannot place it` };
    }
    return { reason: "schedulable", detail: `${fitting.length} node(s) fit it now (${fitting.slice(0, 3).map((n) => n.object.metadata.name).join(", ")}); it waits for the scheduler` };
  }
  // Fragmented comes before taints-or-affinity: a pod kept to its pool by design is helped by
  // moving pods within the pool (gpk defrag), not by the room other pools have.
  const blocked = nodes.find((n) => fits(n.state, request));
  const elsewhere = blocked ? { reason: "taints-or-affinity" as const, detail: `only nodes it may not use fit it: ${placementRefusal(pod, blocked.object)!.message}` } : undefined;
  const states = eligible.map((n) => n.state);
  if (isSharePod(request)) {
    const idle = states.flatMap((s) => s.gpus).reduce((sum, g) => sum + MILLI - g.usedMilli, 0);
    const best = Math.max(0, ...states.flatMap((s) => s.gpus.map((g) => MILLI - g.usedMilli)));
    if (idle >= request.gpuMilli) return { reason: "fragmented", detail: `needs ${request.gpuMilli / MILLI} of a GPU; ${round(idle / MILLI)} GPU idle across ${states.length} eligible node(s), at most ${round(best / MILLI)} on one GPU` };
    return elsewhere ?? { reason: "insufficient-gpus", detail: `needs ${request.gpuMilli / MILLI} of a GPU; ${round(idle / MILLI)} GPU idle across ${states.length} eligible node(s)` };
  }
  const free = freeWholeGpus(states, request);
  const most = Math.max(0, ...states.map((s) => freeWholeGpus([s], request)));
  const where = `${free} whole GPU(s) free across ${states.length} eligible node(s), at most ${most} on one`;
  if (free >= request.numGpu) return { reason: "fragmented", detail: `needs ${request.numGpu} GPU(s) on one node; ${where}` };
  return elsewhere ?? { reason: "insufficient-gpus", detail: `needs ${request.numGpu} GPU(s); ${where}` };
}

/** The extender's view of the objects read: placement state per node, pods bound and pending. */
export function clusterCacheOf(nodes: readonly K8sNode[], pods: readonly K8sPod[]): ClusterCache {
  const cache = new ClusterCache();
  for (const node of nodes) cache.upsertNode(node);
  for (const pod of pods) cache.upsertPod(pod);
  return cache;
}

/** `cache` must hold exactly `input`'s nodes and pods; gpk defrag passes the one it plans on. */
export function diagnose(input: DiagnoseInput, cache: ClusterCache = clusterCacheOf(input.nodes, input.pods)): Diagnosis {
  const pooled = cache.nodesWithPool().sort((a, b) => a.name.localeCompare(b.name));
  const nodes = pooled.map((n) => ({ object: cache.nodeObject(n.name)!, state: n.node }));

  const workload = new PolicyHolder(cache, { policy: "gpk" }).workload();
  const accounts = poolGpuAccounts(pooled, workload);
  const pools = [...accounts.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([pool, a]) => {
    const members = pooled.filter((n) => n.pool === pool);
    return {
      pool,
      nodes: members.length,
      gpus: members.reduce((sum, n) => sum + n.node.gpus.length, 0),
      allocated: round(a.allocated), idle: round(a.idle), fragmented: round(a.fragmented), cpuStranded: round(a.cpuStranded),
    };
  });

  const pending: PendingReport[] = [];
  for (const pod of input.pods) {
    if (!waitingGpuPod(pod)) continue;
    const request = requestOf(pod);
    if (!request || request.numGpu === 0) continue;
    pending.push({
      namespace: pod.metadata.namespace ?? "default",
      name: pod.metadata.name,
      gpus: round((request.numGpu * request.gpuMilli) / MILLI),
      ...pendingReason(pod, request, nodes, input.extenderReachable),
    });
  }
  pending.sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));

  const hotGpus = (input.telemetry ?? [])
    .filter((t) => (t.temp ?? -Infinity) >= input.hotTemperatureC || t.powerCapped || t.thermalSlowdown)
    .map((t) => ({ node: t.hostname, gpu: t.gpu ?? "", uuid: t.uuid, temperatureC: t.temp, powerCapped: t.powerCapped, thermalSlowdown: t.thermalSlowdown }))
    .sort((a, b) => `${a.node}/${a.gpu}`.localeCompare(`${b.node}/${b.gpu}`));

  return { pools, pending, hotGpus };
}
