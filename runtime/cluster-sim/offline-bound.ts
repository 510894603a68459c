/**
 * Offline bounds on GPU allocation for one arrival sequence (`bench:placement`, docs/placement.md):
 * what a packer that knows the whole task multiset in advance, and may leave any task out, can
 * reach.
 *
 * - `offlinePacking`: a witness from below. The GPU tasks sorted by decreasing GPU request (then
 *   CPU), placed one by one by gpk. CPU, memory, GPU models and per-GPU share limits are all
 *   enforced (the same feasibility code as the simulator). CPU-only tasks are left out: they
 *   add no GPU allocation. Also tried on the default trace, seed 42, all lower than its 98.87:
 *   gpk-scarcity priced on the whole multiset on the same order (not higher), plain best-fit
 *   decreasing (96.58) and a packing that realises the LP's share patterns first (96.85); the
 *   last two run out of CPU on the 8-GPU nodes.
 * - `patternUpperBound`: an LP relaxation over GPUs, ignoring CPU, memory, models and node
 *   boundaries. Each GPU either carries whole-GPU work (at most the whole-GPU demand) or a
 *   pattern of GPU shares (a multiset of share sizes that fits one GPU); shares packed are at
 *   most those that arrived. Its optimum bounds every packing, online or not.
 *
 * Both may leave tasks out, which an online scheduler cannot: it must place every task that
 * fits when it arrives. So not all of the gap between an online policy and these bounds is
 * recoverable by placement (docs/placement.md, "How far from the bound").
 */
import { createPolicy, type PolicyName } from "../scheduling/registry";
import { mulberry32 } from "../scheduling/rng";
import { place } from "../scheduling/score";
import { maximalPatterns, solveLp } from "../scheduling/share-value";
import { MILLI, isSharePod, podGpuMilli, type NodeState, type PodRequest } from "../scheduling/types";
import { targetWorkload } from "../scheduling/workload";
import { cloneNode } from "./simulate";

export interface OfflineBounds {
  /** Allocated milli-GPU of the best offline packing found. */
  packedMilli: number;
  /** Which packing found it. */
  packing: string;
  /** LP upper bound on allocated milli-GPU (capped at capacity). */
  upperBoundMilli: number;
  capacityMilli: number;
}

/** The GPU tasks in decreasing GPU request (then CPU), placed by the named policy; returns allocated milli-GPU. */
export function sortedPolicyPacking(nodes: readonly NodeState[], tasks: readonly PodRequest[], policyName: PolicyName): number {
  const state = nodes.map(cloneNode);
  state.forEach((n, i) => (n.rank = i));
  const policy = createPolicy(policyName, { workload: targetWorkload(tasks), rng: mulberry32(1) });
  policy.learn?.(tasks); // offline: the whole multiset is known in advance
  const decreasing = tasks.filter((t) => podGpuMilli(t) > 0).sort((a, b) => podGpuMilli(b) - podGpuMilli(a) || b.cpuMilli - a.cpuMilli);
  let packed = 0;
  for (const pod of decreasing) if (place(state, pod, policy)) packed += podGpuMilli(pod);
  return packed;
}

/** The offline packing the bench reports: gpk on the sorted tasks (the strongest we found). */
export function offlinePacking(nodes: readonly NodeState[], tasks: readonly PodRequest[]): { packedMilli: number; packing: string } {
  return { packedMilli: sortedPolicyPacking(nodes, tasks, "gpk"), packing: "gpk, tasks sorted by decreasing GPU request" };
}

/** Share sizes are grouped to this resolution (milli-GPU), rounded down, in the LP. */
const STEP = 10;

/**
 * LP upper bound on allocated milli-GPU (see module doc). Variables: whole-GPU GPUs w, GPUs
 * x_P per maximal share pattern P, shares packed u_s per size s. Maximise
 * w·1000 + Σ_s s·u_s subject to w + Σ x_P ≤ GPUs, w ≤ whole-GPU demand, u_s ≤ arrived_s,
 * u_s ≤ Σ_P a_{P,s}·x_P.
 */
export function patternUpperBound(nodes: readonly NodeState[], tasks: readonly PodRequest[]): number {
  const gpus = nodes.reduce((s, n) => s + n.gpus.length, 0);
  let wholeGpus = 0;
  const shares = new Map<number, { count: number; milli: number }>();
  // Shares below one step fit anywhere in the relaxation: counted in full.
  let tinyMilli = 0;
  for (const t of tasks) {
    if (podGpuMilli(t) === 0) continue;
    if (!isSharePod(t)) {
      wholeGpus += t.numGpu;
      continue;
    }
    if (t.gpuMilli < STEP) {
      tinyMilli += t.gpuMilli;
      continue;
    }
    // Rounding down only lets more shares into a pattern, so the bound stays a bound.
    const size = Math.floor(t.gpuMilli / STEP);
    const entry = shares.get(size) ?? { count: 0, milli: 0 };
    entry.count++;
    entry.milli += t.gpuMilli;
    shares.set(size, entry);
  }
  const sizes = [...shares.keys()].sort((a, b) => b - a);
  if (sizes.length === 0) return Math.min(gpus, wholeGpus) * MILLI + tinyMilli;
  const { patterns, complete } = maximalPatterns(sizes, MILLI / STEP);
  // A missing pattern would tighten the LP below the true optimum: refuse rather than under-bound.
  if (!complete) throw new Error(`patternUpperBound: more than ${patterns.length} share patterns; no bound computed`);
  const S = sizes.length;
  const P = patterns.length;
  // Columns: w, x_0..x_{P-1}, u_0..u_{S-1}.
  const cols = 1 + P + S;
  const A: number[][] = [];
  const b: number[] = [];
  const row = () => new Array<number>(cols).fill(0);
  const gpuRow = row();
  for (let j = 0; j < 1 + P; j++) gpuRow[j] = 1;
  A.push(gpuRow);
  b.push(gpus);
  const wholeRow = row();
  wholeRow[0] = 1;
  A.push(wholeRow);
  b.push(wholeGpus);
  sizes.forEach((size, s) => {
    const supply = row();
    supply[1 + P + s] = 1;
    A.push(supply);
    b.push(shares.get(size)!.count);
    const cover = row();
    cover[1 + P + s] = 1;
    patterns.forEach((p, k) => (cover[1 + k] = -p[s]!));
    A.push(cover);
    b.push(0);
  });
  // Each share counts its mean true size (at least its grouped size, so the bound holds).
  const c = [MILLI, ...new Array<number>(P).fill(0), ...sizes.map((size) => shares.get(size)!.milli / shares.get(size)!.count)];
  const x = solveLp(A, b, c);
  if (!x) throw new Error("patternUpperBound: LP unbounded (cannot happen: every variable is capped)");
  return c.reduce((sum, ci, j) => sum + ci * x[j]!, 0) + tinyMilli;
}

/** Both bounds for one arrival sequence. */
export function offlineBounds(nodes: readonly NodeState[], tasks: readonly PodRequest[]): OfflineBounds {
  const capacityMilli = nodes.reduce((s, n) => s + n.gpus.length, 0) * MILLI;
  const { packedMilli, packing } = offlinePacking(nodes, tasks);
  return { packedMilli, packing, upperBoundMilli: Math.min(capacityMilli, patternUpperBound(nodes, tasks)), capacityMilli };
}
