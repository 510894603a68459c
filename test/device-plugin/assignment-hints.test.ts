/**
 * The scheduler extender's GPU assignment as a GetPreferredAllocation hint: the pure matcher,
 * the pod filter, and the daemon end to end — the test plays kubelet over real unix sockets and
 * the API server over real HTTP (ApiPeer from the extender's tests).
 */
import * as fs from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { KIT_ANNOTATIONS } from "../../gpu";
import { matchAssignment, pendingAssignmentOf, type PendingAssignment } from "../../runtime/device-plugin/assignment-hints";
import type { DevicePluginConfig } from "../../runtime/device-plugin/config";
import { startDaemon, type Daemon } from "../../runtime/device-plugin/daemon";
import type { Candidate } from "../../runtime/device-plugin/preferred-allocation";
import type { PreferredAllocationResponse } from "../../runtime/device-plugin/proto";
import { deviceIdentities } from "../../runtime/gpu-sim";
import { encodeAssignment } from "../../runtime/scheduler-extender/assignment";
import type { K8sPod } from "../../runtime/scheduler-extender/wire";
import { ApiPeer } from "../scheduler-extender/api-peer";
import { dialPlugin, startKubelet, tempPluginDir, type KubeletPeer } from "./kubelet-peer";

const NODE = "gpu-node-1";
const GPUS = deviceIdentities(NODE, 8, 2); // GPUs 0-3 on NUMA 0, 4-7 on NUMA 1
const uuid = (i: number) => GPUS[i].uuid;
const candidates = (indices: number[]): Candidate[] =>
  indices.map((i) => ({ id: uuid(i), uuid: uuid(i), gpuIndex: i, numaNode: GPUS[i].numaNode }));
const ALL = candidates([0, 1, 2, 3, 4, 5, 6, 7]);

function pending(key: string, gpus: number[], createdMs: number, uuids?: string[]): PendingAssignment {
  return { key, name: `team/${key}`, gpus, uuids, createdMs };
}

describe("matchAssignment", () => {
  it("picks the oldest pending assignment of the requested size", () => {
    const pods = [pending("young", [2, 3], 2000), pending("old", [6, 7], 1000), pending("oldest-but-4", [0, 1, 2, 3], 10)];
    expect(matchAssignment(pods, new Set(), 2, ALL)).toEqual({ pod: pods[1], uuids: [uuid(6), uuid(7)] });
  });

  it("skips assignments whose size differs", () => {
    const pods = [pending("one", [3], 1), pending("three", [0, 1, 2], 2)];
    expect(matchAssignment(pods, new Set(), 2, ALL)).toBeUndefined();
    expect(matchAssignment(pods, new Set(), 3, ALL)?.pod.key).toBe("three");
  });

  it("skips an assignment naming a GPU kubelet does not offer, and takes the next oldest", () => {
    const pods = [pending("old", [4, 5], 1), pending("young", [1, 2], 2)];
    const available = candidates([0, 1, 2, 3, 4, 6, 7]); // GPU 5 is taken
    expect(matchAssignment(pods, new Set(), 2, available)?.uuids).toEqual([uuid(1), uuid(2)]);
    // Same with UUIDs recorded by the extender: one of them not available.
    const withUuids = [pending("old", [4, 5], 1, [uuid(4), uuid(5)])];
    expect(matchAssignment(withUuids, new Set(), 2, available)).toBeUndefined();
  });

  it("serves one assignment once: a consumed pod is passed over", () => {
    const pods = [pending("a", [0, 1], 1), pending("b", [4, 5], 2)];
    expect(matchAssignment(pods, new Set(["a"]), 2, ALL)?.pod.key).toBe("b");
    expect(matchAssignment(pods, new Set(["a", "b"]), 2, ALL)).toBeUndefined();
  });

  it("maps GPU indices to the node's UUIDs, in the extender's order, and prefers recorded UUIDs", () => {
    expect(matchAssignment([pending("p", [7, 3], 1)], new Set(), 2, ALL)?.uuids).toEqual([uuid(7), uuid(3)]);
    expect(matchAssignment([pending("p", [0, 1], 1, [uuid(5), uuid(6)])], new Set(), 2, ALL)?.uuids).toEqual([uuid(5), uuid(6)]);
  });

  it("breaks equal ages by namespace/name; a pod without creation time comes last", () => {
    const pods = [pending("b", [0, 1], 5), pending("a", [2, 3], 5), pending("none", [4, 5], NaN)];
    expect(matchAssignment(pods, new Set(), 2, ALL)?.pod.key).toBe("a");
    expect(matchAssignment(pods, new Set(["a", "b"]), 2, ALL)?.pod.key).toBe("none");
  });
});

function pod(name: string, opts: { node?: string; phase?: string; gpus?: number[]; gpuRequest?: number; created?: string; assignedNode?: string; uuids?: string[] } = {}): K8sPod {
  const gpus = opts.gpus ?? [5, 6];
  return {
    metadata: {
      name,
      namespace: "team",
      uid: `uid-${name}`,
      creationTimestamp: opts.created ?? "2026-01-01T00:00:00Z",
      annotations: { [KIT_ANNOTATIONS.gpuAssignment]: encodeAssignment({ node: opts.assignedNode ?? NODE, gpus, uuids: opts.uuids, milliPerGpu: 1000 }) },
    },
    spec: {
      nodeName: opts.node ?? NODE,
      containers: [{ name: "main", image: "x", resources: { limits: { "nvidia.com/gpu": String(opts.gpuRequest ?? gpus.length) } } }],
    },
    status: { phase: opts.phase ?? "Pending" },
  } as K8sPod;
}

describe("pendingAssignmentOf", () => {
  it("keeps a Pending pod on this node that requests GPUs and carries an assignment for it", () => {
    expect(pendingAssignmentOf(pod("p"), NODE)).toEqual({
      key: "uid-p", name: "team/p", gpus: [5, 6], uuids: undefined, createdMs: Date.parse("2026-01-01T00:00:00Z"),
    });
  });

  it.each([
    ["running", { phase: "Running" }],
    ["on another node", { node: "other" }],
    ["assigned to another node", { assignedNode: "other" }],
    ["not requesting GPUs", { gpuRequest: 0 }],
  ])("drops a pod %s", (_label, opts) => {
    expect(pendingAssignmentOf(pod("p", opts), NODE)).toBeUndefined();
  });

  it("ignores recorded UUIDs whose count does not match the GPUs", () => {
    expect(pendingAssignmentOf(pod("p", { uuids: ["GPU-x"] }), NODE)?.uuids).toBeUndefined();
  });
});

describe("the daemon follows the extender's assignment (kubelet and API server over real sockets)", () => {
  let api: ApiPeer | undefined;
  let kubelet: KubeletPeer | undefined;
  let daemon: Daemon | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await daemon?.stop();
    await api?.close();
    await kubelet?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    api = kubelet = daemon = dir = undefined;
  });

  async function start(server: string): Promise<(size: number) => Promise<string[]>> {
    dir = tempPluginDir();
    kubelet = await startKubelet(dir);
    const config: DevicePluginConfig = {
      nodeName: NODE, product: "h100", count: 8, numaNodes: 2, replicas: 1, pluginDir: dir,
      socketName: "gpk-nvidia-gpu.sock", toolsDir: "", pollIntervalMs: 50, tickMs: 60_000, honourAssignments: true,
    };
    daemon = await startDaemon(config, () => {}, undefined, {
      assignmentsFrom: { server, headers: () => ({ authorization: "Bearer test-token" }) },
      assignmentsBackoffMs: () => 20,
    });
    expect(daemon.node.devices.map((d) => d.id.uuid)).toEqual(GPUS.map((g) => g.uuid));
    const client = dialPlugin(daemon.server.socketPath);
    const call = client.unary<object, PreferredAllocationResponse>("GetPreferredAllocation");
    return async (size) => {
      const res = await call({ container_requests: [{ available_deviceIDs: GPUS.map((g) => g.uuid), must_include_deviceIDs: [], allocation_size: size }] });
      return res.container_responses[0].deviceIDs;
    };
  }

  it("hints the UUIDs of the pending pod's assigned GPUs [5,6] instead of the NUMA pick [0,1], once", async () => {
    api = new ApiPeer();
    api.objects.pods.push(
      pod("assigned"),
      pod("elsewhere", { node: "gpu-node-2", assignedNode: "gpu-node-2", gpus: [2, 3] }),
      pod("started", { phase: "Running", gpus: [3, 4] }),
    );
    api.releaseLists();
    await api.start();
    const preferred = await start(`http://127.0.0.1:${api.port}`);
    await daemon!.assignments!.synced;
    expect(api.lists.pods).toBe(1);
    const list = api.queries.find((q) => q.kind === "pods" && !q.query.has("watch"))!.query;
    expect(Object.fromEntries(list)).toEqual({ fieldSelector: `spec.nodeName=${NODE}`, limit: "500" });
    expect(api.unauthorized).toBe(0);

    expect(await preferred(2)).toEqual([uuid(5), uuid(6)]);
    // The assignment served its allocation; the next request of 2 falls back to the NUMA rule.
    expect(await preferred(2)).toEqual([uuid(0), uuid(1)]);
  });

  it("asked before its first pods list lands (a restarted plugin), waits for it and follows the assignment", async () => {
    api = new ApiPeer();
    api.objects.pods.push(pod("assigned"));
    await api.start();
    const preferred = await start(`http://127.0.0.1:${api.port}`);
    const answer = preferred(2);
    // The list is still held: without the wait the NUMA rule would answer [0,1].
    await new Promise((r) => setTimeout(r, 100));
    api.releaseLists();
    expect(await answer).toEqual([uuid(5), uuid(6)]);
  });

  it("answers with the NUMA choice when the API server is unreachable", async () => {
    api = new ApiPeer();
    await api.start();
    const port = api.port;
    await api.close();
    api = undefined;
    const preferred = await start(`http://127.0.0.1:${port}`);
    expect(await preferred(2)).toEqual([uuid(0), uuid(1)]);
  });
});
