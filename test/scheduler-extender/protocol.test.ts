/**
 * The extender over real HTTP on an ephemeral port: both request modes, the score contract,
 * bind updating the state, bad input answered 400 while the server keeps serving, concurrency.
 */
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assign, createPolicy, makeNode, mulberry32, selectNode, type PodRequest } from "../../runtime/scheduling";
import type { RunningExtender } from "../../runtime/scheduler-extender/run";
import { H100, L40S, WORKLOAD, k8sNode, k8sPod, post, start, writeSnapshot } from "./fixtures";

const NODES = [
  k8sNode("n0", { gpus: 8 }),
  k8sNode("n1", { gpus: 8 }),
  k8sNode("n2", { gpus: 4, product: L40S }),
  k8sNode("n3", { gpus: 8 }),
  k8sNode("small", { gpus: 8, cpu: "2" }),
];
const BOUND = [
  k8sPod("b0", { gpus: 3, node: "n0" }),
  k8sPod("b2", { gpus: 1, node: "n2" }),
  k8sPod("b3", { gpus: 7, node: "n3" }),
];
const NAMES = NODES.map((n) => n.metadata.name);

let ext: RunningExtender;
beforeAll(async () => {
  ext = await start(["--filter-answer", "all", "--snapshot", writeSnapshot({ nodes: NODES, pods: BOUND, workload: WORKLOAD }), "--policy", "gpk"]);
});
afterAll(() => ext.close());

/** The simulator's view of the same cluster, built with runtime/scheduling alone. */
function simulatorPick(pod: PodRequest): string | undefined {
  const req = (n: number): PodRequest => ({ name: "x", cpuMilli: 4000, memoryMiB: 16384, numGpu: n, gpuMilli: 1000, gpuModels: [] });
  const nodes = NODES.map((n, rank) => makeNode({
    name: n.metadata.name, rank, cpuMilli: Number(n.status.allocatable.cpu) * 1000, memoryMiB: 1000 * 1024,
    gpuCount: Number(n.status.allocatable["nvidia.com/gpu"]), gpuModel: n.metadata.labels["nvidia.com/gpu.product"],
  }));
  assign(nodes[0]!, req(3), [0, 1, 2]);
  assign(nodes[2]!, req(1), [0]);
  assign(nodes[3]!, req(7), [0, 1, 2, 3, 4, 5, 6]);
  const total = WORKLOAD.reduce((s, w) => s + w.weight, 0);
  const policy = createPolicy("gpk", { workload: { shapes: WORKLOAD.map((w) => ({ ...w, weight: w.weight / total })) }, rng: mulberry32(42) });
  return selectNode(nodes, pod, policy)?.name;
}

describe("filter", () => {
  it("NodeNames mode: passes the nodes that fit and gives each failure its reason", async () => {
    const res = await post(ext.port, "filter", { Pod: k8sPod("p1", { gpus: 2, product: H100 }), NodeNames: NAMES });
    expect(res.status).toBe(200);
    expect(res.body.NodeNames).toEqual(["n0", "n1"]);
    expect(res.body.Nodes).toBeNull();
    expect(res.body.Error).toBe("");
    expect(res.body.FailedNodes).toEqual({ n3: "Insufficient GPUs: needs 2 x 1000 milli-GPU" });
    expect(res.body.FailedAndUnresolvableNodes).toEqual({
      n2: `GPU model ${L40S} is not one of ${H100}`,
      small: "Insufficient cpu: requested 4000m, free 2000m",
    });
  });

  it("Nodes mode: answers with the node objects that pass, as given", async () => {
    const fresh = await start(["--filter-answer", "all", "--policy", "gpk"]);
    try {
      const nodes = [k8sNode("a", { gpus: 1 }), k8sNode("b", { gpus: 4 })];
      const res = await post(fresh.port, "filter", { Pod: k8sPod("p", { gpus: 2 }), Nodes: { apiVersion: "v1", kind: "NodeList", items: nodes } });
      expect(res.status).toBe(200);
      expect(res.body.NodeNames).toBeNull();
      expect(res.body.Nodes.items).toEqual([nodes[1]]);
      expect(res.body.FailedAndUnresolvableNodes).toEqual({ a: "Insufficient GPUs: needs 2 x 1000 milli-GPU" });
      const prio = await post(fresh.port, "prioritize", { Pod: k8sPod("p", { gpus: 2 }), Nodes: { items: nodes } });
      expect(prio.body).toEqual([{ Host: "a", Score: 0 }, { Host: "b", Score: 10 }]);
    } finally {
      await fresh.close();
    }
  });
});

describe("prioritize", () => {
  it.each([1, 2, 4])("scores 0..10 with the simulator's pick the only 10 (%i GPU pod)", async (gpus) => {
    const pod = k8sPod(`prio-${gpus}`, { gpus });
    const res = await post(ext.port, "prioritize", { Pod: pod, NodeNames: NAMES });
    expect(res.status).toBe(200);
    const list = res.body as { Host: string; Score: number }[];
    expect(list.map((h) => h.Host)).toEqual(NAMES);
    for (const h of list) expect(Number.isInteger(h.Score) && h.Score >= 0 && h.Score <= 10).toBe(true);
    const tens = list.filter((h) => h.Score === 10).map((h) => h.Host);
    const pick = simulatorPick({ name: "x", cpuMilli: 4000, memoryMiB: 16384, numGpu: gpus, gpuMilli: 1000, gpuModels: [] });
    expect(pick).toBeDefined();
    expect(tens).toEqual([pick]);
    expect(list.find((h) => h.Host === "small")!.Score).toBe(0);
  });
});

describe("MIG devices (mixed strategy)", () => {
  const MIG_1G = "nvidia.com/mig-1g.10gb";
  const MIG_3G = "nvidia.com/mig-3g.40gb";

  it("places MIG pods only on devices of their profile, whole; whole-GPU pods never on MIG devices", async () => {
    const nodes = [
      k8sNode("gpu", { gpus: 8 }),
      k8sNode("mig", { gpus: 0, mig: { [MIG_1G]: 2, [MIG_3G]: 1 } }),
    ];
    const one = await start(["--filter-answer", "all", "--snapshot", writeSnapshot({ nodes, workload: WORKLOAD })]);
    try {
      const filter = (pod: ReturnType<typeof k8sPod>) => post(one.port, "filter", { Pod: pod, NodeNames: ["gpu", "mig"] }).then((r) => r.body);
      expect((await filter(k8sPod("whole", { gpus: 1 }))).NodeNames).toEqual(["gpu"]);
      const small = await filter(k8sPod("small", { gpus: 2, resource: MIG_1G }));
      expect(small.NodeNames).toEqual(["mig"]);
      // No eviction can give the GPU node a MIG device: unresolvable, so preemption skips it.
      expect(small.FailedAndUnresolvableNodes).toEqual({ gpu: "Node has no MIG 1g.10gb devices" });
      expect((await filter(k8sPod("too-many", { gpus: 3, resource: MIG_1G }))).FailedAndUnresolvableNodes.mig).toBe("Insufficient GPUs: needs 3 x 1000 milli-GPU");
      // Bound whole: the devices after the profile sorted first (1g.10gb at 0-1, 3g.40gb at 2).
      const big = k8sPod("big", { gpus: 1, resource: MIG_3G });
      expect((await filter(big)).NodeNames).toEqual(["mig"]);
      expect((await post(one.port, "bind", { PodName: "big", PodNamespace: "team-a", PodUID: big.metadata.uid, Node: "mig" })).body).toEqual({ Error: "" });
      expect(one.cache.podOn(big.metadata.uid)).toMatchObject({ nodeName: "mig", gpus: [2] });
      expect((await filter(k8sPod("big-2", { gpus: 1, resource: MIG_3G }))).FailedNodes.mig).toBe("Insufficient GPUs: needs 1 x 1000 milli-GPU");
      expect((await filter(k8sPod("small-2", { gpus: 2, resource: MIG_1G }))).NodeNames).toEqual(["mig"]);
    } finally {
      await one.close();
    }
  });

  it("answers 400 naming the container for a pod mixing device kinds or sharing a MIG device", async () => {
    const pod = k8sPod("mixed", { gpus: 1, resource: MIG_1G });
    pod.spec.containers.push({ name: "side", image: "registry.k8s.io/pause:3.10", resources: { requests: { cpu: "1", memory: "1Gi" }, limits: { "nvidia.com/gpu": "1" } } } as any);
    const res = await post(ext.port, "filter", { Pod: pod, NodeNames: NAMES });
    expect(res.status).toBe(400);
    expect(res.body.Error).toContain('Pod.spec.containers[1]: the extender places one kind of GPU device per pod, but it asks for "nvidia.com/gpu" and Pod.spec.containers[0] for "nvidia.com/mig-1g.10gb"');
    const shared = await post(ext.port, "filter", { Pod: k8sPod("share", { gpus: 1, resource: MIG_1G, milli: 500 }), NodeNames: NAMES });
    expect(shared.status).toBe(400);
    expect(shared.body.Error).toContain("a shared GPU share does not apply to MIG devices (nvidia.com/mig-1g.10gb)");
  });
});

describe("bind", () => {
  it("books the GPUs in snapshot mode, so the next pod sees them used", async () => {
    const snap = writeSnapshot({ nodes: [k8sNode("only", { gpus: 2 })], workload: WORKLOAD });
    const one = await start(["--filter-answer", "all", "--snapshot", snap]);
    try {
      const p1 = k8sPod("first", { gpus: 2 });
      const p2 = k8sPod("second", { gpus: 1 });
      // Both filtered while the node is free; the first bind takes both GPUs.
      for (const p of [p1, p2]) expect((await post(one.port, "filter", { Pod: p, NodeNames: ["only"] })).body.NodeNames).toEqual(["only"]);
      const bound = await post(one.port, "bind", { PodName: "first", PodNamespace: "team-a", PodUID: p1.metadata.uid, Node: "only" });
      expect(bound).toEqual({ status: 200, body: { Error: "" } });
      expect(one.cache.podOn(p1.metadata.uid)).toMatchObject({ nodeName: "only", gpus: [0, 1], assumed: true });
      const next = await post(one.port, "filter", { Pod: k8sPod("third", { gpus: 1 }), NodeNames: ["only"] });
      expect(next.body.NodeNames).toEqual([]);
      expect(next.body.FailedNodes).toEqual({ only: "Insufficient GPUs: needs 1 x 1000 milli-GPU" });
      // The second pod's filter answer is now stale: its bind is refused with the reason, not a crash.
      const refused = await post(one.port, "bind", { PodName: "second", PodNamespace: "team-a", PodUID: p2.metadata.uid, Node: "only" });
      expect(refused.status).toBe(200);
      expect(refused.body.Error).toBe("node only can no longer take pod team-a/second: Insufficient GPUs: needs 1 x 1000 milli-GPU");
    } finally {
      await one.close();
    }
  });

  it("gives concurrent binds on one node distinct GPUs and refuses the one that no longer fits", async () => {
    const snap = writeSnapshot({ nodes: [k8sNode("busy", { gpus: 8 })], workload: WORKLOAD });
    const one = await start(["--filter-answer", "all", "--snapshot", snap]);
    try {
      const pods = Array.from({ length: 9 }, (_, i) => k8sPod(`c${i}`, { gpus: 1 }));
      await Promise.all(pods.map((p) => post(one.port, "filter", { Pod: p, NodeNames: ["busy"] })));
      const results = await Promise.all(pods.map((p) => post(one.port, "bind", { PodName: p.metadata.name, PodNamespace: "team-a", PodUID: p.metadata.uid, Node: "busy" })));
      expect(results.filter((r) => r.body.Error === "")).toHaveLength(8);
      expect(results.filter((r) => r.body.Error !== "")).toHaveLength(1);
      const gpus = pods.map((p) => one.cache.podOn(p.metadata.uid)?.gpus).filter(Boolean).flat();
      expect(gpus.sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    } finally {
      await one.close();
    }
  });

  it("refuses (403) a bind for a pod no filter carried, naming it", async () => {
    const res = await post(ext.port, "bind", { PodName: "ghost", PodNamespace: "team-a", PodUID: "uid-ghost", Node: "n1" });
    expect(res).toEqual({ status: 403, body: { Error: "pod team-a/ghost (uid-ghost) was not filtered by this extender in the last 5 minutes; only a pod it filtered may be bound" } });
  });
});

describe("bad input", () => {
  const valid = () => ({ Pod: k8sPod("ok", { gpus: 1 }), NodeNames: NAMES });
  const cases: [string, string, unknown, string][] = [
    ["malformed JSON", "filter", "{\"Pod\": ", "malformed JSON"],
    ["a JSON array", "prioritize", "[]", "body: expected a JSON object"],
    ["no Pod", "filter", { NodeNames: ["n1"] }, "Pod: "],
    ["NodeNames of the wrong type", "filter", { Pod: k8sPod("x"), NodeNames: "n1" }, "NodeNames: "],
    ["a container list of the wrong type", "prioritize", { Pod: { spec: { containers: {} } }, NodeNames: ["n1"] }, "Pod.spec.containers: "],
    ["neither Nodes nor NodeNames", "filter", { Pod: k8sPod("x") }, "NodeNames: expected the candidate node names"],
    ["unknown node names", "filter", { Pod: k8sPod("x"), NodeNames: ["n1", "nowhere"] }, 'NodeNames: 1 unknown node(s) "nowhere" (the extender\'s cache has 5 nodes)'],
    ["a bad GPU quantity", "prioritize", { Pod: { ...k8sPod("x"), spec: { containers: [{ resources: { limits: { "nvidia.com/gpu": "two" } } }] } }, NodeNames: ["n1"] }, 'Pod.spec.containers[0].resources.limits["nvidia.com/gpu"]: expected a quantity'],
    ["a bind without PodUID", "bind", { PodName: "x", PodNamespace: "team-a", Node: "n1" }, "PodUID: "],
    ["a pod name that is not DNS-1123", "filter", { Pod: { ...k8sPod("x"), metadata: { ...k8sPod("x").metadata, name: "Bad_Name" } }, NodeNames: ["n1"] }, 'Pod.metadata.name: expected a DNS-1123 subdomain (lower-case alphanumerics, \'-\' and \'.\'), got "Bad_Name"'],
    ["a namespace that is not a DNS-1123 label", "prioritize", { Pod: { ...k8sPod("x"), metadata: { ...k8sPod("x").metadata, namespace: "team.a" } }, NodeNames: ["n1"] }, "Pod.metadata.namespace: expected a DNS-1123 label"],
    ["a pod with no name", "filter", { Pod: { ...k8sPod("x"), metadata: { namespace: "team-a" } }, NodeNames: ["n1"] }, "Pod.metadata.name: "],
    ["a pod with no containers", "filter", { Pod: { ...k8sPod("x"), spec: { containers: [] } }, NodeNames: ["n1"] }, "Pod.spec.containers: expected at least one container"],
    ["a pod with no spec", "prioritize", { Pod: { metadata: k8sPod("x").metadata }, NodeNames: ["n1"] }, "Pod.spec: "],
    ["a memory quantity that does not parse", "filter", { Pod: { ...k8sPod("x"), spec: { containers: [{ resources: { requests: { memory: "16 GiB" } } }] } }, NodeNames: ["n1"] }, 'Pod.spec.containers[0].resources.requests.memory: expected a quantity such as "500m", "4" or "16Gi", got "16 GiB"'],
    ["a node name that is not DNS-1123", "filter", { Pod: k8sPod("x"), NodeNames: ["n1", "Node_2"] }, "NodeNames[1]: expected a DNS-1123 subdomain"],
    ["a Nodes-mode node with a bad allocatable quantity", "filter", { Pod: k8sPod("x"), Nodes: { items: [{ metadata: { name: "n1" }, status: { allocatable: { cpu: "lots" } } }] } }, "Nodes.items[0].status.allocatable.cpu: expected a quantity"],
    ["a bind whose pod name is not DNS-1123", "bind", { PodName: "UPPER", PodNamespace: "team-a", PodUID: "u", Node: "n1" }, "PodName: expected a DNS-1123 subdomain"],
    ["a bind whose namespace is not DNS-1123", "bind", { PodName: "x", PodNamespace: "team_a", PodUID: "u", Node: "n1" }, "PodNamespace: expected a DNS-1123 label"],
    ["a bind to a node name that is not DNS-1123", "bind", { PodName: "x", PodNamespace: "team-a", PodUID: "u", Node: "n1/../n2" }, "Node: expected a DNS-1123 subdomain"],
    ["a bind to an unknown node", "bind", { PodName: "x", PodNamespace: "team-a", PodUID: "u", Node: "nowhere" }, 'Node: unknown node "nowhere"'],
  ];

  it.each(cases)("answers %s with 400 and the reason, then serves a valid request", async (_label, verb, body, message) => {
    const res = await post(ext.port, verb, body);
    expect(res.status).toBe(400);
    expect(res.body.Error).toContain(message);
    if (verb === "filter") expect(res.body).toMatchObject({ NodeNames: null, FailedNodes: {}, FailedAndUnresolvableNodes: {} });
    const ok = await post(ext.port, "filter", valid());
    expect(ok.status).toBe(200);
    expect(ok.body.NodeNames).toEqual(["n0", "n1", "n2", "n3"]);
  });

  it("answers a body over 10 MiB with 400 and keeps serving", async () => {
    const huge = JSON.stringify({ Pod: k8sPod("big"), NodeNames: Array.from({ length: 700_000 }, (_, i) => `node-name-${i}`) });
    expect(huge.length).toBeGreaterThan(10 * 1024 * 1024);
    const res = await post(ext.port, "filter", huge);
    expect(res.status).toBe(400);
    expect(res.body.Error).toMatch(/^body: over the 10 MiB limit \(\d+ bytes\)$/);
    expect((await post(ext.port, "filter", valid())).status).toBe(200);
  });

  it("survives a client that hangs up mid-body, then serves the next request", async () => {
    await new Promise<void>((resolve, reject) => {
      const socket = connect(ext.port, "127.0.0.1", () => {
        socket.write("POST /filter HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n{\"Pod\": {");
        setTimeout(() => socket.destroy(), 50);
      });
      socket.on("close", () => resolve());
      socket.on("error", reject);
    });
    const ok = await post(ext.port, "filter", valid());
    expect(ok.status).toBe(200);
    const metrics = await (await fetch(`http://127.0.0.1:${ext.port}/metrics`)).text();
    // Counted as the client's fault (400), not as an internal error (500).
    expect(metrics).toMatch(/gpk_extender_requests_total\{verb="filter",code="400"\}/);
    expect(metrics).not.toMatch(/gpk_extender_requests_total\{verb="filter",code="500"\}/);
  });

  it("answers a GET on a verb with 405 and an unknown path with 404", async () => {
    expect((await fetch(`http://127.0.0.1:${ext.port}/filter`)).status).toBe(405);
    expect((await fetch(`http://127.0.0.1:${ext.port}/preempt`, { method: "POST", body: "{}" })).status).toBe(404);
  });
});

describe("concurrency and health", () => {
  it("serves 60 concurrent requests, good and bad mixed, each with its own answer", async () => {
    // What a filter must pass, from the cluster above: 1-GPU pods fit every GPU node ("small"
    // lacks CPU); 2-GPU pods not n3, which has one GPU left after b3.
    const fitting = (gpus: number) => (gpus === 1 ? ["n0", "n1", "n2", "n3"] : ["n0", "n1", "n2"]);
    const jobs = Array.from({ length: 60 }, (_, i) => {
      if (i % 3 === 0) return post(ext.port, "filter", "{oops").then((r) => ["bad", 0, r] as const);
      const verb = i % 3 === 1 ? "filter" : "prioritize";
      const gpus = 1 + (i % 2);
      return post(ext.port, verb, { Pod: k8sPod(`conc-${i}`, { gpus }), NodeNames: NAMES }).then((r) => [verb, gpus, r] as const);
    });
    const answers = await Promise.all(jobs);
    // Both pod sizes go through filter, so both expectations are exercised.
    expect(new Set(answers.filter(([kind]) => kind === "filter").map(([, gpus]) => gpus))).toEqual(new Set([1, 2]));
    for (const [kind, gpus, res] of answers) {
      if (kind === "bad") {
        expect(res.status).toBe(400);
      } else if (kind === "filter") {
        expect(res.status).toBe(200);
        expect(res.body.NodeNames).toEqual(fitting(gpus));
      } else {
        expect(res.status).toBe(200);
        expect((res.body as { Score: number }[]).filter((h) => h.Score === 10)).toHaveLength(1);
      }
    }
  });

  it("reports ready on /healthz and counts requests on /metrics", async () => {
    // This test's own rejected request, so the count does not rely on tests that ran before it.
    expect((await post(ext.port, "filter", "{oops")).status).toBe(400);
    const health = await fetch(`http://127.0.0.1:${ext.port}/healthz`);
    expect(health.status).toBe(200);
    const metrics = await (await fetch(`http://127.0.0.1:${ext.port}/metrics`)).text();
    expect(metrics).toMatch(/gpk_extender_requests_total\{verb="filter",code="400"\} [1-9]/);
    expect(metrics).toMatch(/gpk_extender_nodes 5/);
    // Where the pool's GPUs stand: 36 GPUs, 11 bound; the "small" node's 8 idle GPUs have 2 cores to go with them.
    const pool = (state: string) => Number(new RegExp(`gpk_extender_pool_gpus\\{pool="none",state="${state}"\\} ([0-9.e+-]+)`).exec(metrics)?.[1]);
    expect(pool("allocated")).toBe(11);
    expect(pool("idle")).toBe(25);
    expect(pool("cpu_stranded")).toBeGreaterThan(6);
    expect(pool("cpu_stranded")).toBeLessThanOrEqual(8);
    expect(pool("fragmented")).toBeGreaterThan(0);
    expect(pool("fragmented")).toBeLessThanOrEqual(25);
  });
});
