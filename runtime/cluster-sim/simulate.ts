/**
 * Trace-driven placement simulator following the FGD artifact's protocol
 * (data/openb/ANCHORS.md; artifact pkg/simulator):
 *
 * 1. The target workload (popular shapes) comes from the task list as given.
 * 2. The task list is shuffled (seeded); then, while the total GPU request is below
 *    `arrival` × capacity, tasks are sampled with replacement from the original list and
 *    appended, stopping at the first sample that would overshoot (above the target, random
 *    tasks are dropped instead until it fits).
 * 3. Tasks are placed one by one through runtime/scheduling, no departures; a task that fits
 *    nowhere fails and stays failed. Ties between equal scores go to a seeded random node
 *    rank (the artifact prefixes node names with a random permutation and picks the smallest).
 *    With `percentageOfNodesToScore` below 100 the policy ranks only the nodes kube-scheduler
 *    would have handed its extender (runtime/scheduling/sampling.ts), as gpk-scheduler does.
 * 4. After every task the allocated GPU share of capacity and the fragmentation rate are
 *    recorded against the arrived GPU request; the value at X% is the mean over the records
 *    whose arrived request rounds to X% (or to X±1% if none), as the artifact's analysis does.
 */
import { Fragmenter } from "../scheduling/fragmentation";
import { createPolicy, type PolicyName } from "../scheduling/registry";
import { mulberry32, shuffle } from "../scheduling/rng";
import type { PlacementPolicy } from "../scheduling/policy";
import { NodeSampler } from "../scheduling/sampling";
import { place } from "../scheduling/score";
import { MILLI, podGpuMilli, type NodeState, type PodRequest } from "../scheduling/types";
import { targetWorkload } from "../scheduling/workload";

export interface SimulationOptions {
  nodes: readonly NodeState[];
  pods: readonly PodRequest[];
  policy: PolicyName;
  seed?: number;
  /** Arrived GPU request as a multiple of GPU capacity (1.3 = 130%). */
  arrival?: number;
  /** kube-scheduler's percentageOfNodesToScore in front of the policy: 0 adaptive, 100 every node (default). */
  percentageOfNodesToScore?: number;
  /** Called every `progressEvery` tasks (progress goes to stderr in the CLI). */
  onProgress?: (done: number, total: number) => void;
  progressEvery?: number;
  /** Clock for wallSeconds, in ms (injected; defaults to performance.now). */
  now?: () => number;
}

/** The `gpk simulate --json` contract (ARCHITECTURE.md). */
export interface SimulationResult {
  policy: PolicyName;
  seed: number;
  /** The sampling in front of the policy: 100 every node, 0 kube-scheduler's adaptive default. */
  percentageOfNodesToScore: number;
  nodes: number;
  totalGpus: number;
  /** Tasks after inflation. */
  pods: number;
  failedPods: number;
  /** Allocated GPU, % of capacity, at each whole % of arrived GPU request ("1".."130"). */
  allocation: Record<string, number>;
  /** Fragmented share of idle GPU, %, at the same points. */
  fragmentationRate: Record<string, number>;
  wallSeconds: number;
}

export function cloneNode(n: NodeState): NodeState {
  return {
    ...n,
    gpus: n.gpus.map((g) => (g.telemetry ? { ...g, telemetry: { ...g.telemetry } } : { ...g })),
    gpuPodClasses: { ...n.gpuPodClasses },
    version: 0,
  };
}

/** Python's round() (half to even), which the artifact's analysis applies to arrival %. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Builds the task sequence: shuffled originals, then seeded samples up to arrival × capacity. */
export function arrivalSequence(pods: readonly PodRequest[], capacityMilli: number, arrival: number, seed: number): PodRequest[] {
  const rng = mulberry32(seed);
  const tasks = shuffle([...pods], rng);
  const target = arrival * capacityMilli;
  let requested = tasks.reduce((sum, p) => sum + podGpuMilli(p), 0);
  if (requested > target) {
    while (requested > target && tasks.length > 0) {
      const [removed] = tasks.splice(rng.int(tasks.length), 1);
      requested -= podGpuMilli(removed!);
    }
  } else if (pods.some((p) => podGpuMilli(p) > 0)) {
    // (A list without GPU requests can never reach the target: nothing to sample.)
    for (;;) {
      const sample = pods[rng.int(pods.length)]!;
      if (requested + podGpuMilli(sample) > target) break;
      requested += podGpuMilli(sample);
      tasks.push({ ...sample, name: `${sample.name}-tuned-${tasks.length}` });
    }
  }
  return tasks;
}

/** First task count at which a learning policy re-solves; then at every doubling (100, 200, 400, ...). */
export const FIRST_LEARNING_POINT = 100;

/** True before task `i` (0-based) when a learning policy re-solves: i = 100 · 2^k. */
export function isLearningPoint(i: number): boolean {
  if (i < FIRST_LEARNING_POINT || i % FIRST_LEARNING_POINT !== 0) return false;
  const k = i / FIRST_LEARNING_POINT;
  return (k & (k - 1)) === 0;
}

/**
 * Before task `i` is placed: a policy that learns from the workload gets the tasks that have
 * arrived, tasks[0..i), at geometric intervals (the dynamic-learning schedule of online LP,
 * Agrawal-Wang-Ye 2014). It never sees task i or later.
 */
export function feedArrivals(policy: PlacementPolicy, tasks: readonly PodRequest[], i: number): void {
  if (policy.learn && isLearningPoint(i)) policy.learn(tasks.slice(0, i));
}

export function simulate(options: SimulationOptions): SimulationResult {
  const now = options.now ?? (() => performance.now());
  const started = now();
  const seed = options.seed ?? 42;
  const arrival = options.arrival ?? 1.3;
  const nodes = options.nodes.map(cloneNode);
  const totalGpus = nodes.reduce((sum, n) => sum + n.gpus.length, 0);
  const capacity = totalGpus * MILLI;
  if (capacity === 0) throw new Error("the node list has no GPUs");

  const workload = targetWorkload(options.pods);
  const tasks = arrivalSequence(options.pods, capacity, arrival, seed);
  // Separate streams, so the random policy's draws do not change the task sequence or ranks.
  const ranks = shuffle(nodes.map((_, i) => i), mulberry32(seed ^ 0x5bd1e995));
  nodes.forEach((n, i) => (n.rank = ranks[i]!));
  const policy = createPolicy(options.policy, { workload, rng: mulberry32(seed ^ 0x9e3779b9) });

  const fragmenter = new Fragmenter(workload);
  const scratch: number[] = [];
  const nodeFrag = nodes.map((n) => fragmenter.nodeFrag(n, scratch));
  let fragTotal = nodeFrag.reduce((a, b) => a + b, 0);
  const index = new Map(nodes.map((n, i) => [n, i] as const));

  const buckets = Math.max(1, roundHalfEven(arrival * 100)) + 2;
  const allocSum = new Float64Array(buckets);
  const fragSum = new Float64Array(buckets);
  const count = new Float64Array(buckets);
  let arrived = 0;
  let allocated = 0;
  const record = () => {
    const b = roundHalfEven((100 * arrived) / capacity);
    if (b >= buckets) return;
    const idle = capacity - allocated;
    allocSum[b]! += Math.round((10000 * allocated) / capacity) / 100;
    fragSum[b]! += idle > 0 ? (100 * fragTotal) / idle : 0;
    count[b]!++;
  };
  record();

  let failed = 0;
  const every = options.progressEvery ?? 1000;
  const percentage = options.percentageOfNodesToScore ?? 100;
  const sampler = percentage < 100 ? new NodeSampler(percentage) : undefined;
  tasks.forEach((pod, i) => {
    feedArrivals(policy, tasks, i);
    arrived += podGpuMilli(pod);
    const placed = place(sampler ? sampler.candidates(nodes, pod) : nodes, pod, policy);
    if (placed) {
      allocated += podGpuMilli(pod);
      const k = index.get(placed.node)!;
      const f = fragmenter.nodeFrag(placed.node, scratch);
      fragTotal += f - nodeFrag[k]!;
      nodeFrag[k] = f;
    } else {
      failed++;
    }
    record();
    if (options.onProgress && (i + 1) % every === 0) options.onProgress(i + 1, tasks.length);
  });

  const allocation: Record<string, number> = {};
  const fragmentationRate: Record<string, number> = {};
  for (let x = 1; x <= roundHalfEven(arrival * 100); x++) {
    let n = count[x]!;
    let a = allocSum[x]!;
    let f = fragSum[x]!;
    if (n === 0) {
      for (const y of [x - 1, x + 1]) {
        if (y >= 0 && y < buckets) {
          n += count[y]!;
          a += allocSum[y]!;
          f += fragSum[y]!;
        }
      }
    }
    if (n === 0) continue;
    allocation[String(x)] = Math.round((100 * a) / n) / 100;
    fragmentationRate[String(x)] = Math.round((100 * f) / n) / 100;
  }
  return {
    policy: options.policy,
    seed,
    percentageOfNodesToScore: percentage,
    nodes: nodes.length,
    totalGpus,
    pods: tasks.length,
    failedPods: failed,
    allocation,
    fragmentationRate,
    wallSeconds: Math.round(now() - started) / 1000,
  };
}
