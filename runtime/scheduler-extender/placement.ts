/**
 * Which placement policy the extender runs, over which target workload. FGD and gpk measure
 * fragmentation against the workload's popular task shapes (workload.ts); in a cluster those
 * are the shapes of the pods the extender knows (bound and pending). Until enough pods are
 * known, or when the snapshot names none, a fixed mix of common shapes stands in.
 */
import {
  createPolicy, mulberry32, targetWorkload, type PlacementPolicy, type PolicyName, type TargetWorkload, type TaskShape,
} from "../scheduling";
import type { ClusterCache } from "./cache";

/**
 * Stand-in target workload (an assumption, not a measurement): mostly single GPUs, some
 * multi-GPU jobs and some GPU shares, with a few CPU cores per GPU.
 */
export const DEFAULT_WORKLOAD_SHAPES: readonly TaskShape[] = [
  { cpuMilli: 8000, gpuMilli: 1000, numGpu: 1, gpuModels: [], weight: 0.4 },
  { cpuMilli: 16000, gpuMilli: 1000, numGpu: 2, gpuModels: [], weight: 0.15 },
  { cpuMilli: 32000, gpuMilli: 1000, numGpu: 4, gpuModels: [], weight: 0.1 },
  { cpuMilli: 64000, gpuMilli: 1000, numGpu: 8, gpuModels: [], weight: 0.1 },
  { cpuMilli: 4000, gpuMilli: 500, numGpu: 1, gpuModels: [], weight: 0.15 },
  { cpuMilli: 2000, gpuMilli: 250, numGpu: 1, gpuModels: [], weight: 0.1 },
];

/** Fewer known pods than this: the stand-in workload is used. */
export const MIN_OBSERVED_PODS = 20;

export interface PolicyHolderOptions {
  policy: PolicyName;
  /** gpk: GPU temperature (°C) at or above which a GPU counts as hot. */
  hotTemperatureC?: number;
  /** Seed of the `random` policy. Default 42. */
  seed?: number;
  /** A fixed target workload (snapshot `workload`); otherwise observed pods or the stand-in. */
  workload?: TargetWorkload;
  /** How often the observed workload may be recomputed, ms. Default 60 s. */
  refreshMs?: number;
  /** How often a learning policy (gpk-scarcity) may re-learn from the known pods, ms. Default 10 s. */
  learnMs?: number;
  /** Runs a learning step off the request path (injected for tests). Default: setImmediate. */
  defer?: (work: () => void) => void;
  /** Clock in ms (injected for tests). */
  now?: () => number;
}

/** Holds the current policy and rebuilds it when the observed workload has moved on. */
export class PolicyHolder {
  private policy: PlacementPolicy;
  private workloadKey: string;
  private seenPodsVersion: number;
  private lastRefresh: number;
  private readonly now: () => number;
  /** Pods version and time of the last learning step; whether one is queued. */
  private learnedVersion = -1;
  private lastLearn = -Infinity;
  private learnQueued = false;

  constructor(private readonly cache: ClusterCache, private readonly options: PolicyHolderOptions) {
    this.now = options.now ?? (() => performance.now());
    this.lastRefresh = this.now();
    this.seenPodsVersion = cache.podsVersion;
    const workload = this.workload();
    this.workloadKey = JSON.stringify(workload);
    this.policy = this.build(workload);
    this.learnNow(); // at startup, not on a request
  }

  get name(): PolicyName {
    return this.options.policy;
  }

  /** The policy to use for this request (cheap: a version compare on the hot path). */
  current(): PlacementPolicy {
    this.maybeLearn();
    if (this.options.workload || this.cache.podsVersion === this.seenPodsVersion) return this.policy;
    const now = this.now();
    if (now - this.lastRefresh < (this.options.refreshMs ?? 60_000)) return this.policy;
    this.lastRefresh = now;
    this.seenPodsVersion = this.cache.podsVersion;
    const workload = this.workload();
    const key = JSON.stringify(workload);
    if (key !== this.workloadKey) {
      this.workloadKey = key;
      this.policy = this.build(workload);
      // The new policy object has learned nothing yet: learn at the next chance.
      this.learnedVersion = -1;
      this.lastLearn = -Infinity;
    }
    return this.policy;
  }

  /**
   * A learning policy re-learns from the pods the extender knows (bound and pending: the
   * arrivals so far) when they changed and `learnMs` has passed. The step is deferred, so the
   * request that noticed it is answered with the prices it started with.
   */
  private maybeLearn(): void {
    if (!this.policy.learn || this.learnQueued || this.cache.podsVersion === this.learnedVersion) return;
    if (this.now() - this.lastLearn < (this.options.learnMs ?? 10_000)) return;
    this.learnQueued = true;
    (this.options.defer ?? setImmediate)(() => this.learnNow());
  }

  /** Learns from the known pods now (startup, tests; otherwise deferred by `current`). */
  learnNow(): void {
    this.learnQueued = false;
    this.lastLearn = this.now();
    this.learnedVersion = this.cache.podsVersion;
    this.policy.learn?.(this.cache.podRequests());
  }

  /** The target workload the policy measures fragmentation against. */
  workload(): TargetWorkload {
    if (this.options.workload) return this.options.workload;
    const pods = this.cache.podRequests();
    if (pods.length < MIN_OBSERVED_PODS) return { shapes: DEFAULT_WORKLOAD_SHAPES };
    return targetWorkload(pods);
  }

  private build(workload: TargetWorkload): PlacementPolicy {
    return createPolicy(this.options.policy, {
      workload,
      rng: mulberry32(this.options.seed ?? 42),
      hotTemperatureC: this.options.hotTemperatureC,
    });
  }
}
