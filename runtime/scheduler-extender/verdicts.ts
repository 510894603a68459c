/**
 * What filter and prioritize computed for a node, remembered per pod shape until the node
 * changes. Consecutive pods mostly share a handful of shapes (CPU, memory, GPUs, milli-GPU,
 * models), and between two of them only the nodes that took a pod meanwhile change, so the
 * verdict of every other node can be reused — the FragDeltas idea one level up. A verdict is
 * valid only for the same NodeState object at the same `version` (the cache bumps it on every
 * change: usage, capacity, telemetry), so a reused verdict is exactly what computing it fresh
 * would give. Raw policy scores are reused only for the same policy object at the same learning
 * epoch, and never for a policy whose score is not a function of node and shape (`random` draws
 * from its rng).
 */
import { deviceAccepted, fits, unfitReason, type NodeState, type PlacementPolicy, type PodRequest } from "../scheduling";
import type { NodeSlot } from "./cache";

export interface NodeVerdict {
  shape: Shape;
  node: NodeState;
  version: number;
  passes: boolean;
  /** Filter: `"name":"reason"` for a failing node, ready for FailedNodes / FailedAndUnresolvableNodes. */
  failedJson: string;
  /** Filter: no eviction could make the node fit (FailedAndUnresolvableNodes). */
  unresolvable: boolean;
  /** Prioritize: the raw score of `scoredBy` at its `scoredEpoch`. */
  raw: number;
  scoredBy: PlacementPolicy | null;
  scoredEpoch: number;
}

/** A remembered pod shape: verdicts live in each NodeSlot at `index`, tagged with this object. */
export interface Shape {
  readonly key: string;
  readonly index: number;
}

/** Shapes remembered; the least recently used one gives up its slot index first. */
const SHAPES = 32;

/** Policies whose score is not a pure function of (node state, pod shape). */
const IMPURE_SCORE = new Set(["random"]);

export class VerdictCache {
  private readonly shapes = new Map<string, Shape>();

  /** The pod's shape (most recently used last). */
  forPod(pod: PodRequest): Shape {
    const key = `${pod.cpuMilli}/${pod.memoryMiB}/${pod.numGpu}/${pod.gpuMilli}/${pod.gpuModels.join("|")}/${pod.migProfile ?? ""}`;
    let shape = this.shapes.get(key);
    if (shape) {
      this.shapes.delete(key);
    } else if (this.shapes.size >= SHAPES) {
      const oldest = this.shapes.values().next().value!;
      this.shapes.delete(oldest.key);
      // A new object for the reused index: verdicts tagged with the old shape read as stale.
      shape = { key, index: oldest.index };
    } else {
      shape = { key, index: this.shapes.size };
    }
    this.shapes.set(key, shape);
    return shape;
  }

  /** The node's current verdict for the pod's shape (computed when missing or stale). */
  static verdict(slot: NodeSlot, shape: Shape, pod: PodRequest): NodeVerdict {
    const node = slot.state;
    let v = slot.verdicts[shape.index] as NodeVerdict | undefined;
    if (v !== undefined && v.shape === shape && v.node === node && v.version === node.version) return v;
    const passes = fits(node, pod);
    const reason = passes ? "" : (unfitReason(node, pod) ?? "does not fit");
    v = {
      shape,
      node,
      version: node.version,
      passes,
      failedJson: passes ? "" : `${slot.nameJson}:${JSON.stringify(reason)}`,
      unresolvable: !passes && !curableByPreemption(node, pod),
      raw: 0,
      scoredBy: null,
      scoredEpoch: 0,
    };
    slot.verdicts[shape.index] = v;
    return v;
  }

  /** The policy's raw score of a node the pod fits, reused while node and policy are unchanged. */
  static raw(v: NodeVerdict, pod: PodRequest, policy: PlacementPolicy): number {
    if (IMPURE_SCORE.has(policy.name)) return policy.score(v.node, pod);
    // A learning policy (gpk-scarcity) bumps its epoch when it re-learns: its scores moved.
    const epoch = policy.epoch ?? 0;
    if (v.scoredBy !== policy || v.scoredEpoch !== epoch) {
      v.raw = policy.score(v.node, pod);
      v.scoredBy = policy;
      v.scoredEpoch = epoch;
    }
    return v.raw;
  }
}

/** False when no eviction could make the node fit: too small in total or no acceptable GPU. */
export function curableByPreemption(node: NodeState, pod: PodRequest): boolean {
  if (pod.cpuMilli > node.cpuMilli || pod.memoryMiB > node.memoryMiB) return false;
  if (pod.numGpu === 0) return true;
  let acceptable = 0;
  for (const g of node.gpus) if (deviceAccepted(pod, g)) acceptable++;
  return acceptable >= pod.numGpu;
}
