/**
 * What filter and prioritize computed for a node, remembered per pod shape until the node
 * changes. Consecutive pods mostly share a handful of shapes (CPU, memory, GPUs, milli-GPU,
 * models), and between two of them only the nodes that took a pod meanwhile change, so the
 * verdict of every other node can be reused — the FragDeltas idea one level up. A verdict is
 * valid only for the same NodeState object at the same `version` (the cache bumps it on every
 * change: usage, capacity, telemetry), so a reused verdict is exactly what computing it fresh
 * would give. Raw policy scores are reused only for the same policy object, and never for a
 * policy whose score is not a function of node and shape (`random` draws from its rng).
 */
import { fits, unfitReason, type NodeState, type PlacementPolicy, type PodRequest } from "../scheduling";
import { quoted } from "./wire";

export interface NodeVerdict {
  node: NodeState;
  version: number;
  passes: boolean;
  /** Filter: `"name":"reason"` for a failing node, ready for FailedNodes / FailedAndUnresolvableNodes. */
  failedJson: string;
  /** Filter: no eviction could make the node fit (FailedAndUnresolvableNodes). */
  unresolvable: boolean;
  /** Prioritize: the raw score of `scoredBy` (NaN until computed). */
  raw: number;
  scoredBy: PlacementPolicy | null;
}

/** Shapes remembered; older ones are dropped first (each holds at most one verdict per node). */
const SHAPES = 32;

/** Policies whose score is not a pure function of (node state, pod shape). */
const IMPURE_SCORE = new Set(["random"]);

export class VerdictCache {
  private readonly shapes = new Map<string, Map<string, NodeVerdict>>();

  /** The verdicts for this pod's shape, most recently used last. */
  forPod(pod: PodRequest): Map<string, NodeVerdict> {
    const key = `${pod.cpuMilli}/${pod.memoryMiB}/${pod.numGpu}/${pod.gpuMilli}/${pod.gpuModels.join("|")}`;
    let verdicts = this.shapes.get(key);
    if (verdicts) {
      this.shapes.delete(key);
    } else {
      verdicts = new Map();
      if (this.shapes.size >= SHAPES) this.shapes.delete(this.shapes.keys().next().value!);
    }
    this.shapes.set(key, verdicts);
    return verdicts;
  }

  /** The node's current verdict for the pod's shape (computed when missing or stale). */
  static verdict(verdicts: Map<string, NodeVerdict>, node: NodeState, pod: PodRequest): NodeVerdict {
    let v = verdicts.get(node.name);
    if (v !== undefined && v.node === node && v.version === node.version) return v;
    const passes = fits(node, pod);
    const reason = passes ? "" : (unfitReason(node, pod) ?? "does not fit");
    v = {
      node,
      version: node.version,
      passes,
      failedJson: passes ? "" : `${quoted(node.name)}:${JSON.stringify(reason)}`,
      unresolvable: !passes && !curableByPreemption(node, pod),
      raw: NaN,
      scoredBy: null,
    };
    verdicts.set(node.name, v);
    return v;
  }

  /** The policy's raw score of a node the pod fits, reused while node and policy are unchanged. */
  static raw(v: NodeVerdict, pod: PodRequest, policy: PlacementPolicy): number {
    if (IMPURE_SCORE.has(policy.name)) return policy.score(v.node, pod);
    if (v.scoredBy !== policy) {
      v.raw = policy.score(v.node, pod);
      v.scoredBy = policy;
    }
    return v.raw;
  }
}

/** False when no eviction could make the node fit: too small in total or no acceptable GPU. */
export function curableByPreemption(node: NodeState, pod: PodRequest): boolean {
  if (pod.cpuMilli > node.cpuMilli || pod.memoryMiB > node.memoryMiB) return false;
  if (pod.numGpu === 0) return true;
  let acceptable = 0;
  for (const g of node.gpus) if (pod.gpuModels.length === 0 || pod.gpuModels.includes(g.model)) acceptable++;
  return acceptable >= pod.numGpu;
}
