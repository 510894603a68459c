/**
 * The steady arrival model of the replay (`gpk simulate --mode replay --load ρ`).
 *
 * The openb task lists are snapshots: they hold the pods alive at one moment, so their creation
 * times bunch at the end and the long-lived pods come first. Compressing those times keeps that
 * shape, and the cluster fills only at the very end. Churn at a steady load needs arrivals
 * spread by a rate instead.
 *
 * - The window W is the span of arrivals. A pod that would outlive it (duration ≥ W) is already
 *   running when the window opens, as long-lived jobs are in a cluster observed at any moment:
 *   it arrives at 0. The others arrive in a seeded random order as a Poisson process over W,
 *   each with its own trace duration (`deletion_time − creation_time`).
 * - W is the one at which the pods offer `load` × capacity: the long-lived ones hold their GPU
 *   share g for all of W, a short one for its duration d, so the offered load is
 *   (Σ_long g · W + Σ_short g · d) / (capacity · W). That grows as W shrinks, and W is found by
 *   bisection. With no waiting, it is the time-weighted allocation the replay reports, up to
 *   the ramp of the first short pods and the tails of the last.
 * - The highest load the list can offer is its whole request at once (W → 0); a higher one is
 *   refused with that limit.
 */
import type { TimedPod } from "./csv";
import { shuffle, type Rng } from "../scheduling/rng";
import { MILLI, podGpuMilli } from "../scheduling/types";

const durationS = (p: TimedPod) => p.deletionS - p.creationS;
const gpus = (p: TimedPod) => podGpuMilli(p.request) / MILLI;

/** Offered GPU load, as a fraction of `capacityGpus`, of these pods over an arrival window of `windowS` seconds. */
export function offeredLoad(pods: readonly TimedPod[], capacityGpus: number, windowS: number): number {
  let gpuSeconds = 0;
  for (const p of pods) gpuSeconds += gpus(p) * Math.min(durationS(p), windowS);
  return gpuSeconds / (capacityGpus * windowS);
}

/** The most load the pods can offer: all of their request at once. */
export function maxOfferedLoad(pods: readonly TimedPod[], capacityGpus: number): number {
  return pods.reduce((s, p) => s + (durationS(p) > 0 ? gpus(p) : 0), 0) / capacityGpus;
}

/** The arrival window over which the pods offer `load` of the capacity; `load` must be below `maxOfferedLoad`. */
export function windowForLoad(pods: readonly TimedPod[], capacityGpus: number, load: number): number {
  const most = maxOfferedLoad(pods, capacityGpus);
  if (!(load > 0 && load < most)) throw new RangeError(`load ${load} is out of reach: these pods offer at most ${most.toFixed(3)} of the GPU capacity (all at once)`);
  let lo = 1e-6;
  let hi = 1e12;
  for (let k = 0; k < 200 && hi / lo > 1 + 1e-12; k++) {
    const mid = Math.sqrt(lo * hi);
    if (offeredLoad(pods, capacityGpus, mid) > load) lo = mid;
    else hi = mid;
  }
  return hi;
}

/** Pod indices in arrival order with their arrival times (seconds from 0): the long-lived at 0, the others Poisson over the window. */
export function steadyArrivals(pods: readonly TimedPod[], capacityGpus: number, load: number, rng: Rng): { index: number; arrivalS: number }[] {
  const windowS = windowForLoad(pods, capacityGpus, load);
  const order = shuffle(pods.map((_, i) => i), rng);
  const longLived = order.filter((i) => durationS(pods[i]!) >= windowS);
  const churn = order.filter((i) => durationS(pods[i]!) < windowS);
  const ratePerS = churn.length / windowS;
  let t = 0;
  return [
    ...longLived.map((index) => ({ index, arrivalS: 0 })),
    ...churn.map((index) => {
      // Exponential gaps; 1 − U lies in (0, 1], so the log is finite.
      t += -Math.log(1 - rng.next()) / ratePerS;
      return { index, arrivalS: t };
    }),
  ];
}
