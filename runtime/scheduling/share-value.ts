/**
 * Learned dual prices of GPU-share sizes, and what a GPU's leftover share is worth to the
 * arrivals to come. The gpk-scarcity policy ranks shared placements by it (policies/scarcity.ts,
 * docs/placement.md).
 *
 * On every openb trace the GPU that stays idle at the end sits in gaps beside shared pods
 * (no whole GPU is left idle). Which gaps remain depends on which share sizes end up together on
 * one GPU. The pattern LP of bin packing answers that for a known size mix: a pattern is a
 * multiset of share sizes that fits one GPU, and
 *
 *   min Σ_P x_P   s.t.  Σ_P a_{P,s} x_P ≥ n_s  for every size s,   x ≥ 0
 *
 * packs n_s pods of each size s into the fewest GPUs. Its dual,
 *
 *   max Σ_s n_s y_s   s.t.  Σ_s a_{P,s} y_s ≤ 1  for every pattern P,   y ≥ 0,
 *
 * prices each size in GPUs: y_s is the share of a GPU a pod of size s is worth when the mix
 * packs as well as it can. A common size that pairs with nothing (0.81 next to few ≤ 0.19) is
 * priced at a whole GPU; a size that fills other pods' gaps is priced low.
 *
 * From the prices, V(r) = the most price a leftover of r milli-GPU can still collect (an
 * unbounded knapsack over the sizes). Putting a pod of size s on a GPU with r left loses
 *
 *   loss = V(r) − V(r − s) − y_s  ≥ 0,
 *
 * which is 0 when the placement follows an optimal pattern and grows with the packing value it
 * destroys. The sizes and counts come only from arrivals already seen (Agrawal, Wang, Ye,
 * "A dynamic near-optimal algorithm for online linear programming", Operations Research 2014:
 * re-solve on the arrivals so far at geometric intervals).
 */
import { MILLI, isSharePod, type PodRequest } from "./types";

/** Resolution of share sizes and leftovers, milli-GPU (openb sizes are multiples of 10). */
export const SHARE_STEP = 10;
/** Sizes rarer than this share of the observed shared pods are left out of the LP. */
export const MIN_SIZE_SHARE = 0.005;
/** Default cap of `maximalPatterns` (the offline bound lists them all; openb mixes have about 175). */
const MAX_PATTERNS = 20_000;
/** Above this many maximal patterns, prices come from column generation instead of the full list. */
const LISTED_PATTERNS = 1000;
const LEVELS = MILLI / SHARE_STEP;

/**
 * Maximises c·x subject to A·x ≤ b and x ≥ 0, for b ≥ 0 (the origin is feasible, so no phase 1
 * is needed), by the dense tableau simplex with Bland's rule. Returns x, or null when unbounded.
 */
export function solveLp(A: readonly (readonly number[])[], b: readonly number[], c: readonly number[]): number[] | null {
  const m = A.length;
  const n = c.length;
  const width = n + m + 1;
  const t = new Float64Array((m + 1) * width);
  for (let i = 0; i < m; i++) {
    if (!(b[i]! >= 0)) throw new RangeError(`solveLp: b[${i}] = ${b[i]} is negative`);
    for (let j = 0; j < n; j++) t[i * width + j] = A[i]![j]!;
    t[i * width + n + i] = 1;
    t[i * width + width - 1] = b[i]!;
  }
  for (let j = 0; j < n; j++) t[m * width + j] = -c[j]!;
  const basis = Array.from({ length: m }, (_, i) => n + i);
  const eps = 1e-12;
  for (;;) {
    let col = -1;
    for (let j = 0; j < n + m; j++) {
      if (t[m * width + j]! < -eps) {
        col = j;
        break;
      }
    }
    if (col < 0) break; // optimal
    let row = -1;
    let ratio = Infinity;
    for (let i = 0; i < m; i++) {
      const a = t[i * width + col]!;
      if (a <= eps) continue;
      const r = t[i * width + width - 1]! / a;
      if (r < ratio - eps || (r <= ratio + eps && basis[i]! < basis[row]!)) {
        ratio = r;
        row = i;
      }
    }
    if (row < 0) return null;
    const pivot = t[row * width + col]!;
    for (let j = 0; j < width; j++) t[row * width + j]! /= pivot;
    for (let i = 0; i <= m; i++) {
      if (i === row) continue;
      const f = t[i * width + col]!;
      if (f === 0) continue;
      for (let j = 0; j < width; j++) t[i * width + j]! -= f * t[row * width + j]!;
    }
    basis[row] = col;
  }
  const x = new Array<number>(n).fill(0);
  basis.forEach((v, i) => {
    if (v < n) x[v] = t[i * width + width - 1]!;
  });
  return x;
}

/**
 * Maximal patterns: counts per size (positive sizes in steps) that fit `capacity` and admit no
 * further pod. Stops at `limit` patterns (`complete` false then).
 */
export function maximalPatterns(sizes: readonly number[], capacity: number, limit = MAX_PATTERNS): { patterns: number[][]; complete: boolean } {
  if (sizes.some((s) => !(s >= 1))) throw new RangeError("maximalPatterns: sizes must be at least 1");
  const out: number[][] = [];
  const current = new Array<number>(sizes.length).fill(0);
  const smallest = Math.min(...sizes);
  const walk = (k: number, left: number) => {
    if (out.length >= limit) return;
    if (k === sizes.length) {
      if (left < smallest) out.push([...current]);
      return;
    }
    for (let c = Math.floor(left / sizes[k]!); c >= 0; c--) {
      current[k] = c;
      walk(k + 1, left - c * sizes[k]!);
    }
    current[k] = 0;
  };
  walk(0, capacity);
  return { patterns: out, complete: out.length < limit };
}

/**
 * V(r) for r = 0..LEVELS steps (into `value`): the most price a leftover of r can collect, by the
 * unbounded knapsack over the sizes. Returns the pattern that collects V(LEVELS).
 */
function knapsack(sizes: readonly number[], prices: readonly number[], value: Float64Array): number[] {
  const last = new Int32Array(LEVELS + 1).fill(-1);
  value[0] = 0;
  for (let r = 1; r <= LEVELS; r++) {
    let v = value[r - 1]!;
    let pick = -2; // -2: same as r − 1 (one step left unused)
    for (let i = 0; i < sizes.length; i++) {
      if (sizes[i]! > r) continue;
      const w = value[r - sizes[i]!]! + prices[i]!;
      if (w > v) {
        v = w;
        pick = i;
      }
    }
    value[r] = v;
    last[r] = pick;
  }
  const pattern = new Array<number>(sizes.length).fill(0);
  for (let r = LEVELS; r > 0; ) {
    const i = last[r]!;
    if (i === -2) r--;
    else {
      pattern[i]!++;
      r -= sizes[i]!;
    }
  }
  return pattern;
}

/**
 * Optimal dual prices of the pattern LP without listing every pattern (a mix of many small
 * sizes has thousands; the dense simplex would not keep up): start from the one-size patterns, solve, and add the pattern the prices
 * value most (the knapsack) while it is worth more than one GPU. This is Gilmore-Gomory column
 * generation, seen from the dual; the LP stays a few dozen rows.
 */
function dualPrices(sizes: readonly number[], counts: readonly number[]): number[] {
  const patterns = sizes.map((s, i) => sizes.map((_, j) => (j === i ? Math.floor(LEVELS / s) : 0)));
  const value = new Float64Array(LEVELS + 1);
  let y = solveLp(patterns, patterns.map(() => 1), counts)!;
  for (let round = 0; round < 1000; round++) {
    const best = knapsack(sizes, y, value);
    if (value[LEVELS]! <= 1 + 1e-9) break;
    patterns.push(best);
    // A ≥ 0 and every size has its own one-size row, so the LP stays bounded.
    y = solveLp(patterns, patterns.map(() => 1), counts)!;
  }
  return y;
}

/** Prices and the leftover value function learned from a set of observed pods. */
export class ShareValue {
  /** y per size in steps (0 for sizes not priced). */
  private readonly price = new Float64Array(LEVELS + 1);
  /** V per leftover in steps. */
  private readonly value = new Float64Array(LEVELS + 1);
  /** Number of shared pods the current prices were learned from (0: nothing learned). */
  private learnedFrom = 0;

  get learnedPods(): number {
    return this.learnedFrom;
  }

  /** Re-solves the pattern LP on the share sizes of `pods` (the arrivals seen so far). */
  learn(pods: readonly PodRequest[]): void {
    const counts = new Map<number, number>();
    let shared = 0;
    for (const pod of pods) {
      if (!isSharePod(pod) || pod.migProfile !== undefined || pod.gpuMilli <= 0) continue;
      const size = Math.ceil(pod.gpuMilli / SHARE_STEP);
      counts.set(size, (counts.get(size) ?? 0) + 1);
      shared++;
    }
    const kept = [...counts.entries()].filter(([, n]) => n >= MIN_SIZE_SHARE * shared).sort((a, b) => b[0] - a[0]);
    this.price.fill(0);
    this.value.fill(0);
    this.learnedFrom = kept.length > 0 ? shared : 0;
    if (kept.length === 0) return;
    const sizes = kept.map(([s]) => s);
    const demand = kept.map(([, n]) => n);
    // Few patterns (openb: about 175): the LP over all of them. Many: column generation.
    const listed = maximalPatterns(sizes, LEVELS, LISTED_PATTERNS);
    // A ≥ 0 and every size fits some pattern, so the LP is bounded.
    const y = listed.complete ? solveLp(listed.patterns, listed.patterns.map(() => 1), demand)! : dualPrices(sizes, demand);
    sizes.forEach((s, i) => (this.price[s] = y[i]!));
    knapsack(sizes, y, this.value);
  }

  /** Price of a share size (milli-GPU), in GPUs. */
  priceOf(milli: number): number {
    return this.price[Math.ceil(milli / SHARE_STEP)] ?? 0;
  }

  /** V: price a leftover of `leftMilli` can still collect, in GPUs. */
  valueOf(leftMilli: number): number {
    return this.value[Math.max(0, Math.min(LEVELS, Math.floor(leftMilli / SHARE_STEP)))]!;
  }

  /**
   * Packing value lost by putting `milli` on a GPU with `leftMilli` left, in GPUs, rounded to
   * 1e-6 so that equal losses compare equal. 0 before anything is learned.
   */
  loss(leftMilli: number, milli: number): number {
    if (this.learnedFrom === 0) return 0;
    const raw = this.valueOf(leftMilli) - this.valueOf(leftMilli - milli) - this.priceOf(milli);
    return Math.max(0, Math.round(raw * 1e6) / 1e6);
  }
}
