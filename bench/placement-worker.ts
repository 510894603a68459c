/**
 * Worker of `npm run bench:placement`: runs simulations it is sent, one at a time, and posts
 * back the figures. Traces are parsed once per worker.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { parentPort } from "node:worker_threads";
import { parseNodes, parsePods } from "../runtime/cluster-sim/csv";
import { offlineBounds } from "../runtime/cluster-sim/offline-bound";
import { arrivalSequence, simulate } from "../runtime/cluster-sim/simulate";
import type { PolicyName } from "../runtime/scheduling/registry";
import type { NodeState, PodRequest } from "../runtime/scheduling/types";

export interface Job {
  dataDir: string;
  trace: string;
  policy: PolicyName;
  seed: number;
  /** kube-scheduler's sampling in front of the policy (default 100: every node). */
  percentageOfNodesToScore?: number;
}

/** Offline bounds of one trace and seed's arrival sequence at 130% (runtime/cluster-sim/offline-bound.ts). */
export interface BoundJob {
  dataDir: string;
  trace: string;
  seed: number;
  bound: true;
}

export interface BoundResult extends BoundJob {
  /** Best offline packing and LP upper bound, % of GPU capacity. */
  packed: number;
  packing: string;
  upperBound: number;
  wallSeconds: number;
}

export interface JobResult extends Job {
  pods: number;
  failedPods: number;
  allocation: Record<string, number>;
  fragmentationRate: Record<string, number>;
  wallSeconds: number;
}

let nodes: NodeState[] | null = null;
const pods = new Map<string, PodRequest[]>();

function load(dataDir: string, trace: string) {
  if (!nodes) {
    const file = path.join(dataDir, "openb_node_list_gpu_node.csv");
    nodes = parseNodes(file, readFileSync(file, "utf8"));
  }
  let list = pods.get(trace);
  if (!list) {
    const file = path.join(dataDir, `openb_pod_list_${trace}.csv`);
    list = parsePods(file, readFileSync(file, "utf8"));
    pods.set(trace, list);
  }
  return { nodes, pods: list };
}

/** Arrival level the bounds are computed at (the bench's headline figure is at 130%). */
const BOUND_ARRIVAL = 1.3;

function runBound(job: BoundJob): BoundResult {
  const started = performance.now();
  const input = load(job.dataDir, job.trace);
  const capacity = input.nodes.reduce((s, n) => s + n.gpus.length, 0) * 1000;
  const b = offlineBounds(input.nodes, arrivalSequence(input.pods, capacity, BOUND_ARRIVAL, job.seed));
  const pct = (milli: number) => Math.round((10000 * milli) / b.capacityMilli) / 100;
  return { ...job, packed: pct(b.packedMilli), packing: b.packing, upperBound: pct(b.upperBoundMilli), wallSeconds: (performance.now() - started) / 1000 };
}

parentPort?.on("message", (job: Job | BoundJob) => {
  if ("bound" in job) {
    parentPort!.postMessage(runBound(job));
    return;
  }
  const input = load(job.dataDir, job.trace);
  const r = simulate({ ...input, policy: job.policy, seed: job.seed, percentageOfNodesToScore: job.percentageOfNodesToScore });
  const result: JobResult = {
    ...job,
    pods: r.pods,
    failedPods: r.failedPods,
    allocation: r.allocation,
    fragmentationRate: r.fragmentationRate,
    wallSeconds: r.wallSeconds,
  };
  parentPort!.postMessage(result);
});
