/**
 * Worker of `npm run bench:placement`: runs simulations it is sent, one at a time, and posts
 * back the figures. Traces are parsed once per worker.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { parentPort } from "node:worker_threads";
import { parseNodes, parsePods } from "../runtime/cluster-sim/csv";
import { simulate } from "../runtime/cluster-sim/simulate";
import type { PolicyName } from "../runtime/scheduling/registry";
import type { NodeState, PodRequest } from "../runtime/scheduling/types";

export interface Job {
  dataDir: string;
  trace: string;
  policy: PolicyName;
  seed: number;
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

parentPort?.on("message", (job: Job) => {
  const input = load(job.dataDir, job.trace);
  const r = simulate({ ...input, policy: job.policy, seed: job.seed });
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
