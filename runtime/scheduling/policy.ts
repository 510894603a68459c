/**
 * The one interface every placement policy implements. A policy scores a node that already
 * passed the feasibility filter and says which GPU(s) the pod would get there. The extender
 * and the simulator both reach policies only through this interface (see score.ts).
 */
import type { Rng } from "./rng";
import type { GpuAssignment, NodeState, PodRequest } from "./types";
import type { TargetWorkload } from "./workload";

export interface PlacementPolicy {
  readonly name: string;
  /**
   * Raw score of placing `pod` on the feasible `node`; higher is better. Scales differ per
   * policy (the baselines keep the artifact's integer 0..100 scores, ties included); only the
   * order matters. Ties go to the node with the lowest `rank`.
   */
  score(node: NodeState, pod: PodRequest): number;
  /** The GPU indices the pod gets on the feasible `node` ([] for a CPU-only pod). */
  chooseGpus(node: NodeState, pod: PodRequest): GpuAssignment;
  /**
   * Policies that learn from the workload (gpk-scarcity) take the arrivals seen so far here:
   * never a pod that has not arrived yet. Callers invoke it off the request path (the simulator
   * between tasks, the extender on a timer); it may take milliseconds.
   */
  learn?(arrived: readonly PodRequest[]): void;
  /**
   * Bumped by `learn` whenever scores may have changed for an unchanged node, so callers that
   * cache raw scores per node version (the extender) know to recompute. Absent: never changes.
   */
  readonly epoch?: number;
}

export interface PolicyContext {
  /** Target workload (popular task shapes) for fragmentation-aware policies. */
  workload: TargetWorkload;
  /** Source of randomness for `random` (and nothing else). */
  rng: Rng;
  /** gpk: a GPU at or above this temperature (°C) counts as hot. Default 83 (below typical slowdown). */
  hotTemperatureC?: number;
}
