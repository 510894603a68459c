/**
 * Which nodes kube-scheduler hands its extenders: it runs its filters from a rotating start
 * over the node list and stops once it has found `numFeasibleNodesToFind` feasible nodes, so an
 * extender ranks only those (k8s.io/kubernetes v1.35.4, pkg/scheduler/schedule_one.go:
 * `numFeasibleNodesToFind`, `findNodesThatPassFilters`, `nextStartNodeIndex`). The simulator
 * replays that sampling to measure what a `percentageOfNodesToScore` below 100 costs in
 * placement (docs/scheduler-extender.md). Its filter here is the extender's own `fits`, which
 * assumes kube-scheduler's in-tree filters pass the same nodes.
 */
import { fits } from "./feasibility";
import type { NodeState, PodRequest } from "./types";

/** kube-scheduler's floor on the nodes it looks for, and on the adaptive percentage. */
export const MIN_FEASIBLE_NODES_TO_FIND = 100;
export const MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5;
/** `percentageOfNodesToScore: 0` (or unset): kube-scheduler's adaptive default. */
export const ADAPTIVE_PERCENTAGE = 0;

/** How many feasible nodes kube-scheduler looks for among `allNodes` (0 = adaptive: 50 − nodes/125, at least 5%). */
export function feasibleNodesToFind(percentageOfNodesToScore: number, allNodes: number): number {
  if (allNodes < MIN_FEASIBLE_NODES_TO_FIND) return allNodes;
  let percentage = percentageOfNodesToScore;
  if (percentage === ADAPTIVE_PERCENTAGE) percentage = Math.max(MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND, 50 - Math.trunc(allNodes / 125));
  // Go's int32 arithmetic: numAllNodes * percentage / 100, truncated.
  const found = Math.trunc((allNodes * percentage) / 100);
  return found < MIN_FEASIBLE_NODES_TO_FIND ? MIN_FEASIBLE_NODES_TO_FIND : found;
}

/** Keeps kube-scheduler's rotating start between pods; one per simulated scheduler. */
export class NodeSampler {
  private nextStart = 0;

  constructor(readonly percentageOfNodesToScore: number) {
    if (!Number.isInteger(percentageOfNodesToScore) || percentageOfNodesToScore < 0 || percentageOfNodesToScore > 100) {
      throw new RangeError(`percentageOfNodesToScore: expected an integer from 0 (adaptive) to 100, got ${percentageOfNodesToScore}`);
    }
  }

  /** The feasible nodes kube-scheduler would pass its extender for this pod, in its order (all feasible ones at 100%). */
  candidates(nodes: readonly NodeState[], pod: PodRequest): NodeState[] {
    const wanted = this.percentageOfNodesToScore === 100 ? nodes.length : feasibleNodesToFind(this.percentageOfNodesToScore, nodes.length);
    const found: NodeState[] = [];
    let checked = 0;
    while (checked < nodes.length && found.length < wanted) {
      const node = nodes[(this.nextStart + checked) % nodes.length]!;
      checked++;
      if (fits(node, pod)) found.push(node);
    }
    if (nodes.length > 0) this.nextStart = (this.nextStart + checked) % nodes.length;
    return found;
  }
}
