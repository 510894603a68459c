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
import { fits, assign } from "./feasibility";
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
 * Extender scores 0..10 in input order (-1 for a node the pod does not fit), without choosing
 * GPUs or sorting: the prioritize verb's hot path. Same mapping as `scoreNodes` (module doc).
 */
export function extenderScores(
  nodes: readonly NodeState[],
  pod: PodRequest,
  policy: PlacementPolicy,
  /** Receives each feasible node's raw policy score, when given. */
  raws: Float64Array = new Float64Array(nodes.length),
): Int8Array {
  return extenderScoresWith(nodes, (node) => (fits(node, pod) ? policy.score(node, pod) : undefined), raws);
}

/**
 * `extenderScores` over raw scores supplied by the caller (`undefined`: the pod does not fit
 * that node), for callers that already hold some of them (the extender reuses a node's raw
 * score while the node is unchanged). Same mapping, same tie-break.
 */
export function extenderScoresWith(
  nodes: readonly NodeState[],
  rawOf: (node: NodeState, index: number) => number | undefined,
  raws: Float64Array = new Float64Array(nodes.length),
): Int8Array {
  const out = new Int8Array(nodes.length).fill(-1);
  let winner = -1;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < nodes.length; i++) {
    const node = nodes[i]!;
    const raw = rawOf(node, i);
    if (raw === undefined) continue;
    raws[i] = raw;
    out[i] = 0;
    if (raw < min) min = raw;
    if (raw > max) max = raw;
    if (winner < 0 || better(raw, node, raws[winner]!, nodes[winner]!)) winner = i;
  }
  for (let i = 0; i < nodes.length; i++) {
    if (out[i]! < 0) continue;
    if (i === winner) out[i] = MAX_EXTENDER_PRIORITY;
    else if (max === min) out[i] = MAX_EXTENDER_PRIORITY - 1;
    else out[i] = Math.min(MAX_EXTENDER_PRIORITY - 1, Math.floor(((MAX_EXTENDER_PRIORITY - 1) * (raws[i]! - min)) / (max - min)));
  }
  return out;
}

/**
 * The index of the node `extenderScoresWith` would score 10 (highest raw score, lowest rank on
 * ties), or -1 when the pod fits none: what the extender's filter answers alone in its `pick`
 * mode, so that kube-scheduler, left one feasible node, skips scoring and prioritize.
 */
export function bestIndexWith(nodes: readonly NodeState[], rawOf: (node: NodeState, index: number) => number | undefined): number {
  let winner = -1;
  let winnerRaw = -Infinity;
  for (let i = 0; i < nodes.length; i++) {
    const raw = rawOf(nodes[i]!, i);
    if (raw === undefined) continue;
    if (winner < 0 || better(raw, nodes[i]!, winnerRaw, nodes[winner]!)) {
      winner = i;
      winnerRaw = raw;
    }
  }
  return winner;
}

/**
 * Scores every feasible node for the extender's prioritize verb (infeasible ones are left out;
 * `filterNodes` says why they failed), with the GPUs each would give. Sorted best first.
 */
export function scoreNodes(nodes: readonly NodeState[], pod: PodRequest, policy: PlacementPolicy): NodeScore[] {
  const raws = new Float64Array(nodes.length);
  const scores = extenderScores(nodes, pod, policy, raws);
  const scored: NodeScore[] = [];
  nodes.forEach((node, i) => {
    if (scores[i]! < 0) return;
    scored.push({ node: node.name, score: scores[i]!, raw: raws[i]!, gpus: policy.chooseGpus(node, pod) });
  });
  return scored.sort((a, b) => b.score - a.score || b.raw - a.raw);
}
