/**
 * A learning policy (gpk-scarcity) in the extender: it learns from the pods the cache knows (bound
 * pods change its version; pending ones count when it next learns),
 * at startup and then deferred off the request path, and remembered raw scores are recomputed
 * when it has re-learned.
 */
import { describe, expect, it } from "vitest";
import type { ScarcityPolicy } from "../../runtime/scheduling/policies/scarcity";
import { ClusterCache } from "../../runtime/scheduler-extender/cache";
import { PolicyHolder } from "../../runtime/scheduler-extender/placement";
import { VerdictCache } from "../../runtime/scheduler-extender/verdicts";
import { k8sNode, k8sPod } from "./fixtures";

function setup() {
  const cache = new ClusterCache();
  cache.upsertNode(k8sNode("a", { gpus: 8, cpu: "96" }) as never);
  cache.upsertPod(k8sPod("s0", { gpus: 1, milli: 500, node: "a" }) as never);
  const queued: (() => void)[] = [];
  let now = 0;
  const holder = new PolicyHolder(cache, {
    policy: "gpk-scarcity",
    learnMs: 1000,
    defer: (work) => queued.push(work),
    now: () => now,
  });
  return { cache, holder, queued, advance: (ms: number) => (now += ms) };
}

describe("a learning policy in the extender", () => {
  it("learns at startup, then only off the request path, at most every learnMs, and only when pods changed", () => {
    const { cache, holder, queued, advance } = setup();
    const policy = holder.current() as ScarcityPolicy;
    expect(policy.shareValue.learnedPods).toBe(1);
    expect(policy.epoch).toBe(1);
    cache.upsertPod(k8sPod("s1", { gpus: 1, milli: 300, node: "a" }) as never);
    holder.current();
    expect(queued).toHaveLength(0); // learnMs not yet passed
    advance(1000);
    const during = holder.current() as ScarcityPolicy;
    expect(during.epoch).toBe(1); // the request that noticed it keeps the old prices
    expect(queued).toHaveLength(1);
    holder.current();
    expect(queued).toHaveLength(1); // one step queued at a time
    queued.shift()!();
    const after = holder.current() as ScarcityPolicy;
    expect(after.epoch).toBe(2);
    expect(after.shareValue.learnedPods).toBe(2);
    advance(5000);
    holder.current();
    expect(queued).toHaveLength(0); // nothing new to learn from
  });

  it("recomputes a remembered raw score after the policy re-learned", () => {
    const { cache, holder, queued, advance } = setup();
    const verdicts = new VerdictCache();
    const pod = { name: "p", cpuMilli: 2000, memoryMiB: 1024, numGpu: 1, gpuMilli: 300, gpuModels: [] };
    const slot = cache.slot("a")!;
    const v = VerdictCache.verdict(slot, verdicts.forPod(pod), pod);
    let calls = 0;
    const policy = holder.current();
    const counting = Object.assign(Object.create(policy) as typeof policy, { score: (...args: Parameters<typeof policy.score>) => (calls++, policy.score(...args)) });
    VerdictCache.raw(v, pod, counting);
    VerdictCache.raw(v, pod, counting);
    expect(calls).toBe(1);
    cache.upsertPod(k8sPod("s2", { gpus: 1, milli: 300, node: "a" }) as never);
    advance(1000);
    holder.current();
    queued.shift()!();
    VerdictCache.raw(v, pod, counting);
    expect(calls).toBe(2);
  });
});
