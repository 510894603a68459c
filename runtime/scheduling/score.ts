/**
 * Filter → score → pick, shared by the kube-scheduler extender and the simulator.
 *
 * - `selectNode` / `place`: the simulator's hot path (no allocation per node).
 * - `scoreNodes`: the extender's prioritize verb. It maps the policy's raw scores onto the
 *   extender range 0..10 (MaxExtenderPriority) so that the node the simulator would pick is
 *   the ONLY node with 10; every other feasible node gets floor(9 × (raw − min)/(max − min)),
 *   i.e. 0..9 (9 for all of them when the raw scores are equal). With the extender's weight
 *   larger than the sum of the other score plugins (or those disabled in the gpk-scheduler
 *   profile), kube-scheduler then binds exactly where the simulator would.
 */
import { fits, unfitReason, assign } from "./feasibility";
import type { PlacementPolicy } from "./policy";
import type { GpuAssignment, NodeState, PodRequest } from "./types";

/** kube-scheduler extender v1 MaxExtenderPriority. */
export const MAX_EXTENDER_PRIORITY = 10;

export interface NodeScore {
  node: string;
  /** Extender score 0..10 (see module doc). */
  score: number;
  /** The policy's raw score. */
  raw: number;
  /** GPU indices the pod would get on this node. */
  gpus: GpuAssignment;
}

function better(score: number, node: NodeState, bestScore: number, best: NodeState | null): boolean {
  return best === null || score > bestScore || (score === bestScore && node.rank < best.rank);
}

/** The feasible node the policy prefers (highest score, lowest rank on ties), or null. */
export function selectNode(nodes: readonly NodeState[], pod: PodRequest, policy: PlacementPolicy): NodeState | null {
  let best: NodeState | null = null;
  let bestScore = -Infinity;
  for (const node of nodes) {
    if (!fits(node, pod)) continue;
    const s = policy.score(node, pod);
    if (better(s, node, bestScore, best)) {
      best = node;
      bestScore = s;
    }
  }
  return best;
}

export interface Placement {
  node: NodeState;
  gpus: GpuAssignment;
}

/** Selects a node, chooses the GPUs and assigns the pod; null (state unchanged) if nothing fits. */
export function place(nodes: readonly NodeState[], pod: PodRequest, policy: PlacementPolicy): Placement | null {
  const node = selectNode(nodes, pod, policy);
  if (!node) return null;
  const gpus = policy.chooseGpus(node, pod);
  assign(node, pod, gpus);
  return { node, gpus };
}

/**
 * Scores every feasible node for the extender's prioritize verb (infeasible ones are left out;
 * `filterNodes` says why they failed). Sorted best first.
 */
export function scoreNodes(nodes: readonly NodeState[], pod: PodRequest, policy: PlacementPolicy): NodeScore[] {
  const feasible = nodes.filter((n) => unfitReason(n, pod) === null);
  const raws = feasible.map((n) => policy.score(n, pod));
  let winner = -1;
  let min = Infinity;
  let max = -Infinity;
  feasible.forEach((node, i) => {
    const raw = raws[i]!;
    min = Math.min(min, raw);
    max = Math.max(max, raw);
    if (winner < 0 || better(raw, node, raws[winner]!, feasible[winner]!)) winner = i;
  });
  const scored = feasible.map((node, i): NodeScore => {
    const raw = raws[i]!;
    let score: number;
    if (i === winner) score = MAX_EXTENDER_PRIORITY;
    else if (max === min) score = MAX_EXTENDER_PRIORITY - 1;
    else score = Math.min(MAX_EXTENDER_PRIORITY - 1, Math.floor(((MAX_EXTENDER_PRIORITY - 1) * (raw - min)) / (max - min)));
    return { node: node.name, score, raw, gpus: policy.chooseGpus(node, pod) };
  });
  return scored.sort((a, b) => b.score - a.score || b.raw - a.raw);
}
