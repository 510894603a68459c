/**
 * The filter's `pick` answer books the picked node for the pod's bind (extender.ts,
 * ClusterCache.reserve): kube-scheduler binds one pod while it filters the next, so the next
 * filter must see the first pod's GPUs taken even before its bind arrives. The booking turns
 * into the bind, goes back when the pod is filtered again, and expires when no bind comes.
 */
import { describe, expect, it } from "vitest";
import { ClusterCache } from "../../runtime/scheduler-extender/cache";
import { Extender, PICK_RESERVATION_MS } from "../../runtime/scheduler-extender/extender";
import { PolicyHolder } from "../../runtime/scheduler-extender/placement";
import type { K8sNode, K8sPod } from "../../runtime/scheduler-extender/wire";
import { WORKLOAD, k8sNode, k8sPod } from "./fixtures";

function cluster() {
  let now = 1_000;
  const cache = new ClusterCache();
  // A half-full node (the packing policy's choice for small pods) and an empty one.
  cache.upsertNode(k8sNode("half", { gpus: 8 }) as K8sNode);
  cache.upsertNode(k8sNode("empty", { gpus: 8 }) as K8sNode);
  cache.upsertPod(k8sPod("held", { gpus: 4, node: "half" }) as K8sPod);
  const total = WORKLOAD.reduce((sum, w) => sum + w.weight, 0);
  const policy = new PolicyHolder(cache, { policy: "gpk", seed: 42, workload: { shapes: WORKLOAD.map((w) => ({ ...w, weight: w.weight / total })) } });
  const extender = new Extender(cache, policy, undefined, () => {}, "pick", () => now);
  const filter = (pod: K8sPod) => extender.filter({ Pod: pod, NodeNames: ["half", "empty"] }).passing;
  const bind = (pod: K8sPod, node: string) => extender.bind({ PodName: pod.metadata.name, PodNamespace: pod.metadata.namespace!, PodUID: pod.metadata.uid!, Node: node });
  const freeGpus = (node: string) => cache.node(node)!.gpus.filter((g) => g.usedMilli === 0).length;
  return { cache, filter, bind, freeGpus, advance: (ms: number) => (now += ms) };
}

describe("filter answering the pick", () => {
  it("books the pick, so a second filter before the first bind sees those GPUs taken", async () => {
    const c = cluster();
    const first = k8sPod("first", { gpus: 4 }) as K8sPod;
    const second = k8sPod("second", { gpus: 4 }) as K8sPod;
    expect(c.filter(first)).toEqual(["half"]);
    expect(c.freeGpus("half")).toBe(0);
    // Without the booking the extender would send the second pod to `half` as well.
    expect(c.filter(second)).toEqual(["empty"]);
    expect(await c.bind(second, "empty")).toEqual({ Error: "" });
    expect(await c.bind(first, "half")).toEqual({ Error: "" });
    expect(c.cache.podOn("uid-first")).toMatchObject({ nodeName: "half", assumed: true });
    expect(c.cache.podOn("uid-first")!.reservedUntil).toBeUndefined();
    expect([c.freeGpus("half"), c.freeGpus("empty")]).toEqual([0, 4]);
  });

  it("gives the booking back when the pod is filtered again, and books it once", () => {
    const c = cluster();
    const pod = k8sPod("retry", { gpus: 2 }) as K8sPod;
    expect(c.filter(pod)).toEqual(["half"]);
    expect(c.freeGpus("half")).toBe(2);
    expect(c.filter(pod)).toEqual(["half"]);
    expect(c.freeGpus("half")).toBe(2);
  });

  it("gives the booking back when no bind comes in time, and a late bind still lands if it fits", async () => {
    const c = cluster();
    const pod = k8sPod("late", { gpus: 4 }) as K8sPod;
    expect(c.filter(pod)).toEqual(["half"]);
    c.advance(PICK_RESERVATION_MS - 1);
    c.filter(k8sPod("other", { gpus: 1, cpu: "1000" }) as K8sPod);
    expect(c.freeGpus("half")).toBe(0);
    c.advance(1);
    c.filter(k8sPod("other", { gpus: 1, cpu: "1000" }) as K8sPod);
    expect(c.freeGpus("half")).toBe(4);
    expect(await c.bind(pod, "half")).toEqual({ Error: "" });
    expect(c.freeGpus("half")).toBe(0);
  });
});
