/**
 * The Kubernetes source against a real HTTP peer playing the API server: list+watch of nodes
 * and pods through a kubeconfig (client-node reads it), readiness, binds that create the Binding
 * with the GPU assignment annotation, rollback of a failed Binding, relist on 410 Gone.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { TokenBucket } from "../../runtime/scheduler-extender/kube";
import { KIT_ANNOTATIONS } from "../../gpu";
import type { RunningExtender } from "../../runtime/scheduler-extender/run";
import { ApiPeer } from "./api-peer";
import { k8sNode, k8sPod, post, start } from "./fixtures";

let api: ApiPeer;
let ext: RunningExtender;

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 25));
  if (!check()) throw new Error(`timed out waiting for ${what}`);
}

// Each test gets its own API server and extender holding the same cluster (k1 with a running
// pod on GPUs 1-3, k2 free, one pending pod), so no test depends on what another did or on order.
beforeEach(async () => {
  api = new ApiPeer();
  api.objects.nodes = [k8sNode("k1", { gpus: 4, rv: "1" }), k8sNode("k2", { gpus: 8, rv: "2" })];
  api.objects.pods = [
    k8sPod("running", { gpus: 3, node: "k1", annotations: { [KIT_ANNOTATIONS.gpuAssignment]: JSON.stringify({ node: "k1", gpus: [1, 2, 3], milliPerGpu: 1000 }) } }),
    k8sPod("waiting", { gpus: 2 }),
  ];
  await api.start();
  ext = await start(["--kubeconfig", api.kubeconfig(), "--policy", "gpk"]);
});
afterEach(async () => {
  api.releaseLists(); // nothing left waiting on a held list while shutting down
  await ext.close();
  await api.close();
});

/** Lets the first lists through and waits until the extender holds them and watches both kinds. */
async function synced(): Promise<void> {
  api.releaseLists();
  await ext.synced;
  await until(() => api.watches.nodes.length > 0 && api.watches.pods.length > 0, "the watches");
}

const gpuUse = (node: string) => ext.cache.node(node)!.gpus.map((g) => g.usedMilli);

describe("Kubernetes source", () => {
  it("is not ready until the first list, then holds the listed nodes and pods", async () => {
    expect((await fetch(`http://127.0.0.1:${ext.port}/healthz`)).status).toBe(503);
    api.releaseLists();
    await ext.synced;
    expect((await fetch(`http://127.0.0.1:${ext.port}/healthz`)).status).toBe(200);
    expect(api.unauthorized).toBe(0);
    expect(ext.cache.nodeNames().sort()).toEqual(["k1", "k2"]);
    // The running pod holds GPUs 1-3 of k1 as its annotation says.
    expect(gpuUse("k1")).toEqual([0, 1000, 1000, 1000]);
    const res = await post(ext.port, "filter", { Pod: k8sPod("p", { gpus: 2 }), NodeNames: ["k1", "k2"] });
    expect(res.body.NodeNames).toEqual(["k2"]);
  });

  it("follows watch events: a new node becomes a candidate", async () => {
    await synced();
    api.push("nodes", "ADDED", k8sNode("k3", { gpus: 8 }));
    await until(() => ext.cache.node("k3") !== undefined, "node k3");
    const res = await post(ext.port, "filter", { Pod: k8sPod("p", { gpus: 8 }), NodeNames: ["k1", "k3"] });
    expect(res.body.NodeNames).toEqual(["k3"]);
  });

  it("leaves out a node it cannot read and keeps watching", async () => {
    await synced();
    api.push("nodes", "ADDED", k8sNode("bogus", { gpus: 100_000 }));
    api.push("nodes", "ADDED", k8sNode("k4", { gpus: 8 }));
    await until(() => ext.cache.node("k4") !== undefined, "node k4 after the unreadable one");
    expect(ext.cache.node("bogus")).toBeUndefined();
    const res = await post(ext.port, "filter", { Pod: k8sPod("p", { gpus: 1 }), NodeNames: ["k4"] });
    expect(res.body.NodeNames).toEqual(["k4"]);
  });

  it("binds a pod it filtered: Binding with the GPU assignment annotation", async () => {
    await synced();
    const waiting = api.objects.pods.find((p) => p.metadata.name === "waiting");
    expect((await post(ext.port, "filter", { Pod: waiting, NodeNames: ["k2"] })).body.NodeNames).toEqual(["k2"]);
    const res = await post(ext.port, "bind", { PodName: "waiting", PodNamespace: "team-a", PodUID: waiting.metadata.uid, Node: "k2" });
    expect(res.body).toEqual({ Error: "" });
    expect(api.bindings).toHaveLength(1);
    const binding = api.bindings[0].body;
    expect(binding).toMatchObject({
      apiVersion: "v1", kind: "Binding",
      metadata: { name: "waiting", namespace: "team-a", uid: waiting.metadata.uid },
      target: { apiVersion: "v1", kind: "Node", name: "k2" },
    });
    const assignment = JSON.parse(binding.metadata.annotations[KIT_ANNOTATIONS.gpuAssignment]);
    expect(assignment).toEqual({ node: "k2", gpus: [0, 1], milliPerGpu: 1000 });
    // Booked at once (assumed), before the watch confirms it.
    expect(ext.cache.podOn(waiting.metadata.uid)).toMatchObject({ nodeName: "k2", gpus: [0, 1], assumed: true });
    // The API server copies the annotations onto the pod; the watch then confirms the assumption.
    api.push("pods", "MODIFIED", { ...waiting, metadata: { ...waiting.metadata, annotations: binding.metadata.annotations }, spec: { ...waiting.spec, nodeName: "k2" }, status: { phase: "Running" } });
    await until(() => ext.cache.podOn(waiting.metadata.uid)?.assumed === false, "the confirmation");
    expect(gpuUse("k2")).toEqual([1000, 1000, 0, 0, 0, 0, 0, 0]);
  });

  it("undoes a Binding the API refuses", async () => {
    await synced();
    expect(gpuUse("k2")).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    const late = k8sPod("late", { gpus: 1 });
    api.objects.pods.push(late);
    api.bindStatus.set("late", 409);
    expect((await post(ext.port, "filter", { Pod: late, NodeNames: ["k2"] })).body.NodeNames).toEqual(["k2"]);
    const res = await post(ext.port, "bind", { PodName: "late", PodNamespace: "team-a", PodUID: late.metadata.uid, Node: "k2" });
    expect(res.status).toBe(200);
    expect(res.body.Error).toMatch(/^binding team-a\/late to k2 failed: POST .*binding: 409 pods "late" conflict$/);
    expect(ext.cache.podOn(late.metadata.uid)).toBeUndefined();
    expect(gpuUse("k2")).toEqual([0, 0, 0, 0, 0, 0, 0, 0]); // the GPU booked for the bind is free again
    expect(api.bindings).toEqual([]);
  });

  it("frees a deleted pod's GPUs", async () => {
    await synced();
    expect(gpuUse("k1")).toEqual([0, 1000, 1000, 1000]);
    const running = api.objects.pods.find((p) => p.metadata.name === "running");
    api.push("pods", "DELETED", running);
    await until(() => ext.cache.node("k1")!.gpus.every((g) => g.usedMilli === 0), "k1 to be free");
    const res = await post(ext.port, "filter", { Pod: k8sPod("p", { gpus: 4 }), NodeNames: ["k1"] });
    expect(res.body.NodeNames).toEqual(["k1"]);
  });

  it("relists after 410 Gone and drops what the new list lacks", async () => {
    await synced();
    api.push("nodes", "ADDED", k8sNode("k3", { gpus: 8 }));
    await until(() => ext.cache.node("k3") !== undefined, "node k3");
    const before = api.lists.nodes;
    api.objects.nodes = api.objects.nodes.filter((n) => n.metadata.name !== "k3");
    api.expire("nodes");
    await until(() => api.lists.nodes > before && ext.cache.node("k3") === undefined, "the relist");
    const res = await post(ext.port, "filter", { Pod: k8sPod("p", { gpus: 1 }), NodeNames: ["k3"] });
    expect(res.status).toBe(400);
    expect(res.body.Error).toContain('unknown node(s) "k3"');
  });
});

describe("client rate limit", () => {
  it("lets a burst through at once, then one request per 1/qps seconds, in call order", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "performance"] });
    try {
      const bucket = new TokenBucket(10, 3);
      const done: number[] = [];
      const takes = Array.from({ length: 5 }, (_, i) => bucket.take().then(() => done.push(i)));
      await vi.advanceTimersByTimeAsync(0);
      expect(done).toEqual([0, 1, 2]);
      await vi.advanceTimersByTimeAsync(99);
      expect(done).toEqual([0, 1, 2]);
      await vi.advanceTimersByTimeAsync(1);
      expect(done).toEqual([0, 1, 2, 3]);
      await vi.advanceTimersByTimeAsync(100);
      await Promise.all(takes);
      expect(done).toEqual([0, 1, 2, 3, 4]);
    } finally {
      vi.useRealTimers();
    }
  });
});
