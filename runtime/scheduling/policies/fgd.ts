/**
 * FGD, Fragmentation Gradient Descent (USENIX ATC'23 "Beware of Fragmentation"; artifact
 * `FGDScorePlugin`): place the pod where it increases the node's fragmentation (measured
 * against the target workload, see fragmentation.ts) the least.
 *
 * Node score = trunc(100 × sigmoid((F_before − F_after) / 1000)), an integer as in the
 * artifact, so nodes within ~40 milli-GPU of each other tie and the tie-break rank decides.
 * GPU choice: a shared pod goes to the GPU with the best score (lowest index on ties); whole
 * GPUs are the first free ones.
 */
import { Fragmenter } from "../fragmentation";
import { deviceAccepted } from "../feasibility";
import { firstFreeGpus } from "../gpu-choice";
import type { PlacementPolicy, PolicyContext } from "../policy";
import { MILLI, type NodeState, type PodRequest } from "../types";
import { shapeKey } from "../workload";

/** Best placement of one pod shape on one node state. */
export interface FragMove {
  /** F_before − F_after in milli-GPU (positive: the placement reduces fragmentation). */
  delta: number;
  /** Shared GPU chosen (-1 for CPU-only or whole-GPU pods). */
  shareGpu: number;
}

/**
 * Evaluates fragmentation deltas of candidate placements, caching per (node, pod shape) until
 * the node changes (its `version`). Between two pods of one shape only the nodes that changed
 * meanwhile are recomputed, which is what makes a 10k-task run take seconds.
 */
export class FragDeltas {
  readonly fragmenter: Fragmenter;
  /** Dense id per node object, so the caches below are typed arrays rather than hash maps. */
  private readonly ids = new WeakMap<NodeState, number>();
  private nextId = 0;
  /** Cached F_before per node id, valid while the node's version matches (+1; 0 = empty). */
  private beforeVersion = new Float64Array(1024);
  private beforeValue = new Float64Array(1024);
  /** Per pod shape: cached moves per node id, same validity rule. */
  private readonly shapes = new Map<string, { version: Float64Array; delta: Float64Array; gpu: Int32Array }>();
  private lastPod: PodRequest | null = null;
  private lastShape: { version: Float64Array; delta: Float64Array; gpu: Int32Array } | null = null;
  private readonly left: number[] = [];

  constructor(
    ctx: PolicyContext,
    /** Picks between two shared GPUs: true when (adjusted) delta `a` beats delta `b`. */
    private readonly shareBetter: (a: number, b: number) => boolean,
    /** Subtracted from a shared GPU's delta (gpk: hot or power-capped GPUs). */
    private readonly gpuPenalty: (node: NodeState, gpu: number) => number = () => 0,
    /** Subtracted from a whole-GPU placement's delta (gpk: unhealthy GPUs, NUMA spans). */
    private readonly wholePenalty: (node: NodeState, pod: PodRequest) => number = () => 0,
  ) {
    this.fragmenter = new Fragmenter(ctx.workload);
  }

  private idOf(node: NodeState): number {
    let id = this.ids.get(node);
    if (id === undefined) {
      id = this.nextId++;
      this.ids.set(node, id);
      if (id >= this.beforeVersion.length) {
        this.beforeVersion = grow(this.beforeVersion);
        this.beforeValue = grow(this.beforeValue);
      }
    }
    return id;
  }

  /** Fragmentation of the node as it stands (cached). */
  before(node: NodeState): number {
    const id = this.idOf(node);
    if (this.beforeVersion[id] !== node.version + 1) {
      this.beforeValue[id] = this.fragmenter.nodeFrag(node, this.left);
      this.beforeVersion[id] = node.version + 1;
    }
    return this.beforeValue[id]!;
  }

  private shapeCache(pod: PodRequest) {
    if (pod !== this.lastPod || this.lastShape === null) {
      const key = shapeKey(pod);
      let cache = this.shapes.get(key);
      if (!cache) {
        const n = this.beforeVersion.length;
        cache = { version: new Float64Array(n), delta: new Float64Array(n), gpu: new Int32Array(n) };
        this.shapes.set(key, cache);
      }
      this.lastPod = pod;
      this.lastShape = cache;
    }
    return this.lastShape;
  }

  move(node: NodeState, pod: PodRequest): FragMove {
    const id = this.idOf(node);
    let cache = this.shapeCache(pod);
    if (id >= cache.version.length) {
      cache.version = grow(cache.version);
      cache.delta = grow(cache.delta);
      const gpu = new Int32Array(cache.version.length);
      gpu.set(cache.gpu);
      cache.gpu = gpu;
    }
    if (cache.version[id] !== node.version + 1) {
      const move = this.compute(node, pod, this.before(node));
      cache.delta[id] = move.delta;
      cache.gpu[id] = move.shareGpu;
      cache.version[id] = node.version + 1;
      return move;
    }
    return { delta: cache.delta[id]!, shareGpu: cache.gpu[id]! };
  }

  /** Just the delta (no allocation): the hot path of node scoring. */
  delta(node: NodeState, pod: PodRequest): number {
    const id = this.idOf(node);
    const cache = this.shapeCache(pod);
    if (id < cache.version.length && cache.version[id] === node.version + 1) return cache.delta[id]!;
    return this.move(node, pod).delta;
  }

  private compute(node: NodeState, pod: PodRequest, before: number): FragMove {
    const g = node.gpus.length;
    const left = this.left;
    for (let i = 0; i < g; i++) left[i] = MILLI - node.gpus[i]!.usedMilli;
    const model = g > 0 ? node.gpus[0]!.model : "";
    const cpuAfter = node.cpuMilli - node.cpuUsedMilli - pod.cpuMilli;
    const f = this.fragmenter;
    if (pod.numGpu === 0) return { delta: before - f.fragOf(model, cpuAfter, left, g), shareGpu: -1 };
    if (pod.gpuMilli < MILLI) {
      let best: FragMove = { delta: -Infinity, shareGpu: -1 };
      const tried = new Set<number>();
      for (let i = 0; i < g; i++) {
        const l = left[i]!;
        if (l < pod.gpuMilli || tried.has(l)) continue; // equal GPUs give equal results; keep the lowest index
        if (!deviceAccepted(pod, node.gpus[i]!)) continue;
        if (this.gpuPenalty(node, i) === 0) tried.add(l); // a penalised GPU does not stand for its healthy twins
        left[i] = l - pod.gpuMilli;
        const delta = before - f.fragOf(model, cpuAfter, left, g) - this.gpuPenalty(node, i);
        left[i] = l;
        if (best.shareGpu < 0 || this.shareBetter(delta, best.delta)) best = { delta, shareGpu: i };
      }
      return best;
    }
    for (const i of firstFreeGpus(node, pod)) left[i] = 0;
    return { delta: before - f.fragOf(model, cpuAfter, left, g) - this.wholePenalty(node, pod), shareGpu: -1 };
  }
}

function grow(a: Float64Array): Float64Array<ArrayBuffer> {
  const out = new Float64Array(a.length * 2);
  out.set(a);
  return out;
}

/** The artifact's integer FGD score of a fragmentation delta. */
export function fgdScore(delta: number): number {
  return Math.trunc(100 / (1 + Math.exp(-delta / 1000)));
}

export function fgdPolicy(ctx: PolicyContext): PlacementPolicy {
  // Between shared GPUs the artifact compares the truncated scores, keeping the first on ties.
  const deltas = new FragDeltas(ctx, (a, b) => fgdScore(a) > fgdScore(b));
  return {
    name: "fgd",
    score: (node, pod) => fgdScore(deltas.delta(node, pod)),
    chooseGpus(node, pod) {
      if (pod.numGpu === 0) return [];
      if (pod.gpuMilli < MILLI) {
        const i = deltas.move(node, pod).shareGpu;
        return i < 0 ? [] : [i];
      }
      return firstFreeGpus(node, pod);
    },
  };
}
