/**
 * Replay with departures (`gpk simulate --mode replay`): pods arrive at their trace
 * `creation_time` (divided by the time scale, so a scale K raises the load K-fold) and run
 * for their trace duration (`deletion_time − creation_time`) from the moment they are placed.
 *
 * - **Queue.** A pod that fits nowhere waits. The queue is FIFO with backfill: whenever room
 *   frees up, the waiting pods are tried oldest first, and a later pod that fits is placed even
 *   if an older one still does not. Backfill keeps GPUs busy, and it starves large pods on a
 *   fragmented cluster. Defragmentation exists for exactly that.
 * - **Defragmentation**, one of:
 *   - `none`;
 *   - `high-node-utilization`: the Kubernetes descheduler's strategy (descheduler README,
 *     "HighNodeUtilization"). Every `intervalS` it finds the nodes whose requests are below
 *     `thresholdPercent` of every resource (cpu, memory, nvidia.com/gpu), and evicts all their
 *     pods while the other nodes have room for them. The evicted pods go back to the front of
 *     the queue, for the scheduler to place wherever its policy says;
 *   - `gpk`: the migration planner (runtime/scheduling/defrag.ts). When the oldest waiting
 *     multi-GPU pod fits nowhere although enough whole GPUs are free in total, it moves at most
 *     `budget` pods so that it fits, then places it.
 * - **Metrics.**
 *   - GPU allocation, time-weighted from the first arrival to the last.
 *   - Queueing delay p50/p99 per GPU class (`fractional`, `1`, `2`, `4`, `8`), over the pods
 *     that were placed.
 *   - Pods still waiting at the end, and migrations (a pod evicted or moved counts once each time).
 *
 * Same inputs and seed, same result: node ranks and the policy's randomness come from the
 * seed, and simultaneous events are taken departures first, then in trace order.
 */
import type { TimedPod } from "./csv";
import { steadyArrivals } from "./arrivals";
import { cloneNode, feedArrivals } from "./simulate";
import { freeWholeGpus, planForPendingPod, type PlacedPod } from "../scheduling/defrag";
import { assign, fits, unassign } from "../scheduling/feasibility";
import { createPolicy, type PolicyName } from "../scheduling/registry";
import { mulberry32, shuffle } from "../scheduling/rng";
import { selectNode } from "../scheduling/score";
import { MILLI, isSharePod, podGpuMilli, type NodeState, type PodRequest } from "../scheduling/types";
import { targetWorkload } from "../scheduling/workload";

export const DEFRAG_MODES = ["none", "high-node-utilization", "gpk"] as const;
export type DefragMode = (typeof DEFRAG_MODES)[number];

export const REPLAY_DEFAULTS = {
  timeScale: 1,
  seed: 42,
  /** gpk: most pods one plan moves. */
  budget: 4,
  /** gpk: a pod whose plan failed is tried again after this much simulated time. */
  retryS: 60,
  /** high-node-utilization: run interval and the utilisation threshold of every resource. */
  hnu: { intervalS: 300, thresholdPercent: 20 },
} as const;

export interface ReplayOptions {
  nodes: readonly NodeState[];
  pods: readonly TimedPod[];
  policy: PolicyName;
  defrag: DefragMode;
  timeScale?: number;
  /**
   * Steady arrivals instead of the trace's creation times: a seeded Poisson process offering
   * this fraction of the GPU capacity (runtime/cluster-sim/arrivals.ts). Excludes `timeScale`.
   */
  load?: number;
  seed?: number;
  budget?: number;
  onProgress?: (done: number, total: number) => void;
  /** Called once per placed GPU pod at the end, with its class and queueing delay (for percentiles over several classes). */
  onDelay?: (cls: string, delayS: number) => void;
  now?: () => number;
}

export interface DelayStats {
  p50: number;
  p99: number;
  count: number;
}

/** The `gpk simulate --mode replay --json` contract. */
export interface ReplayResult {
  mode: "replay";
  policy: PolicyName;
  defrag: DefragMode;
  timeScale: number;
  /** Present with steady arrivals: the offered GPU load they were drawn for. */
  load?: number;
  seed: number;
  /** Allocated GPU, % of capacity, averaged over time from the first arrival to the last. */
  allocationTimeWeighted: number;
  queueDelaySeconds: Record<string, DelayStats>;
  waitingAtEnd: number;
  migrations: number;
  wallSeconds: number;
}

/** The class a pod's queueing delay is reported under; undefined for a CPU-only pod. */
export function delayClass(pod: PodRequest): string | undefined {
  if (pod.numGpu === 0) return undefined;
  return isSharePod(pod) ? "fractional" : String(pod.numGpu);
}

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** A binary min-heap of departures by time, then by pod index (deterministic ties). */
type Departure = { t: number; i: number; gen: number };

class Departures {
  private heap: Departure[] = [];
  get size(): number {
    return this.heap.length;
  }
  peek(): Departure | undefined {
    return this.heap[0];
  }
  private less(a: Departure, b: Departure): boolean {
    return a.t < b.t || (a.t === b.t && a.i < b.i);
  }
  push(e: Departure): void {
    const h = this.heap;
    h.push(e);
    for (let k = h.length - 1; k > 0; ) {
      const parent = (k - 1) >> 1;
      if (!this.less(h[k]!, h[parent]!)) break;
      [h[k], h[parent]] = [h[parent]!, h[k]!];
      k = parent;
    }
  }
  pop(): Departure | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      for (let k = 0; ; ) {
        const l = 2 * k + 1;
        const r = l + 1;
        let m = k;
        if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
        if (m === k) break;
        [h[k], h[m]] = [h[m]!, h[k]!];
        k = m;
      }
    }
    return top;
  }
}

export function replay(options: ReplayOptions): ReplayResult {
  const now = options.now ?? (() => performance.now());
  const started = now();
  const seed = options.seed ?? REPLAY_DEFAULTS.seed;
  const timeScale = options.timeScale ?? REPLAY_DEFAULTS.timeScale;
  const budget = options.budget ?? REPLAY_DEFAULTS.budget;
  const nodes = options.nodes.map(cloneNode);
  const capacity = nodes.reduce((s, n) => s + n.gpus.length, 0) * MILLI;
  if (capacity === 0) throw new Error("the node list has no GPUs");
  const ranks = shuffle(nodes.map((_, i) => i), mulberry32(seed ^ 0x5bd1e995));
  nodes.forEach((n, i) => (n.rank = ranks[i]!));
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const policy = createPolicy(options.policy, { workload: targetWorkload(options.pods.map((p) => p.request)), rng: mulberry32(seed ^ 0x9e3779b9) });

  // Pods in arrival order (stable on ties: trace order). Names made unique by index.
  const order =
    options.load === undefined
      ? options.pods.map((p, index) => ({ index, arrivalS: p.creationS / timeScale })).sort((a, b) => options.pods[a.index]!.creationS - options.pods[b.index]!.creationS || a.index - b.index)
      : steadyArrivals(options.pods, capacity / MILLI, options.load, mulberry32(seed ^ 0x27d4eb2f));
  const pods = order.map(({ index, arrivalS }, i) => {
    const p = options.pods[index]!;
    return { request: { ...p.request, name: `${p.request.name}#${i}` }, arrivalS, durationS: p.deletionS - p.creationS };
  });
  const indexByName = new Map(pods.map((p, i) => [p.request.name, i]));
  const placedAt = new Array<number | undefined>(pods.length);
  // Run time a pod still needs, and the generation of its live departure event (an eviction
  // cancels it; the pod's next placement schedules a new one for what remains).
  const remainingS = pods.map((p) => p.durationS);
  const departAt = new Array<number>(pods.length).fill(Infinity);
  const generation = new Array<number>(pods.length).fill(0);
  const where = new Map<number, PlacedPod>();
  const departures = new Departures();
  let queue: number[] = [];
  let allocated = 0;
  let migrations = 0;
  const retryAt = new Map<number, number>();

  const start = pods[0]?.arrivalS ?? 0;
  const end = pods.at(-1)?.arrivalS ?? 0;
  let clock = start;
  let allocIntegral = 0;
  const advance = (t: number) => {
    const upTo = Math.min(t, end);
    if (upTo > clock) allocIntegral += allocated * (upTo - clock);
    clock = Math.max(clock, t);
  };

  const record = (i: number, node: NodeState, gpus: number[], t: number) => {
    const running = departAt[i] !== Infinity; // a migration keeps the pod running
    where.set(i, { pod: pods[i]!.request, node: node.name, gpus, movable: true });
    if (placedAt[i] === undefined) placedAt[i] = t;
    if (!running) {
      departAt[i] = t + remainingS[i]!;
      departures.push({ t: departAt[i]!, i, gen: generation[i]! });
    }
    allocated += podGpuMilli(pods[i]!.request);
  };
  const remove = (i: number) => {
    const at = where.get(i)!;
    unassign(byName.get(at.node)!, at.pod, at.gpus);
    where.delete(i);
    allocated -= podGpuMilli(at.pod);
  };
  /** Places what fits, oldest first; `only` limits the nodes tried (the one that gained room). */
  const drain = (t: number, only?: NodeState) => {
    const still: number[] = [];
    for (const i of queue) {
      const pod = pods[i]!.request;
      let node: NodeState | null;
      if (only) node = fits(only, pod) ? only : null;
      else node = selectNode(nodes, pod, policy);
      if (!node) {
        still.push(i);
        continue;
      }
      const gpus = policy.chooseGpus(node, pod);
      assign(node, pod, gpus);
      record(i, node, gpus, t);
    }
    queue = still;
  };
  const gpkDefrag = (t: number) => {
    const oldest = queue.find((i) => pods[i]!.request.numGpu >= 2 && (retryAt.get(i) ?? -Infinity) <= t);
    if (oldest === undefined) return;
    const pod = pods[oldest]!.request;
    if (freeWholeGpus(nodes, pod) < pod.numGpu) return;
    const plan = planForPendingPod(nodes, [...where.values()], pod, policy, { budget });
    if (!plan || plan.moves.length === 0) {
      retryAt.set(oldest, t + REPLAY_DEFAULTS.retryS);
      return;
    }
    for (const move of plan.moves) {
      const i = indexByName.get(move.pod)!;
      remove(i);
      const to = byName.get(move.to)!;
      assign(to, pods[i]!.request, move.gpus);
      record(i, to, move.gpus, t);
      migrations++;
    }
    drain(t);
  };
  const hnu = (t: number) => {
    const threshold = REPLAY_DEFAULTS.hnu.thresholdPercent / 100;
    const podsOn = new Map<string, number[]>();
    for (const [i, p] of where) {
      const list = podsOn.get(p.node);
      if (list) list.push(i);
      else podsOn.set(p.node, [i]);
    }
    const under = nodes.filter((n) => {
      if (n.gpus.length === 0 || !podsOn.has(n.name)) return false;
      const gpuUsed = n.gpus.reduce((s, g) => s + g.usedMilli, 0) / (n.gpus.length * MILLI);
      return gpuUsed < threshold && n.cpuUsedMilli < threshold * n.cpuMilli && n.memoryUsedMiB < threshold * n.memoryMiB;
    });
    if (under.length === 0) return;
    const underNames = new Set(under.map((n) => n.name));
    let room = nodes.filter((n) => !underNames.has(n.name)).reduce((s, n) => s + n.gpus.reduce((a, g) => a + MILLI - g.usedMilli, 0), 0);
    const evicted: number[] = [];
    for (const n of under) {
      const onNode = podsOn.get(n.name)!;
      const need = onNode.reduce((s, i) => s + podGpuMilli(pods[i]!.request), 0);
      if (need > room) continue; // the descheduler evicts only while other nodes can take the pods
      room -= need;
      for (const i of onNode) {
        remove(i);
        // Evicted: it restarts elsewhere with the run time it had left, under a new departure.
        remainingS[i] = departAt[i]! - t;
        departAt[i] = Infinity;
        generation[i]!++;
        evicted.push(i);
        migrations++;
      }
    }
    queue = [...evicted, ...queue];
    drain(t);
  };

  const requests = pods.map((p) => p.request);
  let nextHnu = start + REPLAY_DEFAULTS.hnu.intervalS;
  let arrivedCount = 0;
  const every = 1000;
  for (let a = 0; a < pods.length || departures.size > 0; ) {
    const nextArrival = a < pods.length ? pods[a]!.arrivalS : Infinity;
    const nextDeparture = departures.peek()?.t ?? Infinity;
    const t = Math.min(nextArrival, nextDeparture);
    if (t === Infinity) break;
    if (options.defrag === "high-node-utilization" && nextHnu <= t && nextHnu <= end) {
      advance(nextHnu);
      hnu(nextHnu);
      nextHnu += REPLAY_DEFAULTS.hnu.intervalS;
      continue;
    }
    advance(t);
    if (nextDeparture <= nextArrival) {
      const { i, gen } = departures.pop()!;
      if (gen !== generation[i]) continue; // cancelled by an eviction
      const node = byName.get(where.get(i)!.node)!;
      remove(i);
      departAt[i] = Infinity;
      drain(t, node);
    } else {
      feedArrivals(policy, requests, a); // a learning policy sees the pods that arrived before this one
      queue.push(a);
      drain(t);
      a++;
      arrivedCount++;
      if (options.onProgress && arrivedCount % every === 0) options.onProgress(arrivedCount, pods.length);
    }
    if (options.defrag === "gpk" && queue.length > 0) gpkDefrag(t);
    // Nothing left to arrive and nothing running: what still waits will wait forever.
    if (a >= pods.length && departures.size === 0) break;
  }

  const delays = new Map<string, number[]>();
  pods.forEach((p, i) => {
    const cls = delayClass(p.request);
    const at = placedAt[i];
    if (cls === undefined || at === undefined) return;
    options.onDelay?.(cls, at - p.arrivalS);
    const list = delays.get(cls);
    if (list) list.push(at - p.arrivalS);
    else delays.set(cls, [at - p.arrivalS]);
  });
  const queueDelaySeconds: Record<string, DelayStats> = {};
  for (const cls of ["fractional", "1", "2", "4", "8", ...[...delays.keys()].sort()]) {
    const values = delays.get(cls);
    if (!values || cls in queueDelaySeconds) continue;
    values.sort((x, y) => x - y);
    const round = (x: number) => Math.round(x * 1000) / 1000;
    queueDelaySeconds[cls] = { p50: round(percentile(values, 50)), p99: round(percentile(values, 99)), count: values.length };
  }
  const span = end - start;
  return {
    mode: "replay",
    policy: options.policy,
    defrag: options.defrag,
    timeScale,
    ...(options.load === undefined ? {} : { load: options.load }),
    seed,
    allocationTimeWeighted: span > 0 ? Math.round((10000 * allocIntegral) / (capacity * span)) / 100 : 0,
    queueDelaySeconds,
    waitingAtEnd: queue.length,
    migrations,
    wallSeconds: Math.round(now() - started) / 1000,
  };
}
