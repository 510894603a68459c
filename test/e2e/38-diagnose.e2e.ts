/**
 * `gpk diagnose` against the real API server: the pools as `gpk local up` created them (KWOK
 * nodes with the pools' labels and GPUs), and a pending GPU pod whose nodeSelector names a pool
 * no node is in, while nodes it may not use have room.
 */
import { afterAll, describe, expect, it } from "vitest";
import { KIT_LABELS } from "../../gpu";
import { cluster, createObject, gpk, gpuPod, kubectl, kubectlOk } from "./cluster";

afterAll(() => {
  kubectl(["delete", "pod", "-n", "team-b", "e2e-diagnose-nopool", "--wait=true", "--timeout=60s"]);
});

describe("gpk diagnose on the local cluster", () => {
  it("accounts every pool's GPUs and says why a GPU pod pends", () => {
    const pod = gpuPod("e2e-diagnose-nopool", "team-b", 1, { nodeSelector: { [KIT_LABELS.pool]: "no-such-pool" } });
    const created = createObject(pod);
    expect(created.stderr).toBe("");
    const run = gpk(["diagnose", "--kubeconfig", cluster().kubeconfig, "--json"]);
    expect(run.status, run.stderr).toBe(0);
    const doc = JSON.parse(run.stdout);
    const nodes = kubectlOk(["get", "nodes", "-o", "json"]).items as any[];
    const gpusOf = (pool: string) => nodes.filter((n) => n.metadata.labels?.["gpk.dev/pool"] === pool).reduce((sum, n) => sum + Number(n.status.allocatable["nvidia.com/gpu"] ?? 0), 0);
    const pool = doc.pools.find((p: any) => p.pool === "sim-h100");
    expect(pool).toMatchObject({ nodes: 2, gpus: gpusOf("sim-h100") });
    expect(pool.allocated + pool.idle).toBeCloseTo(pool.gpus, 6);
    const pending = doc.pending.find((p: any) => p.name === "e2e-diagnose-nopool");
    expect(pending).toMatchObject({ namespace: "team-b", gpus: 1, reason: "taints-or-affinity" });
    expect(pending.detail).toContain("does not match the pod's nodeSelector gpk.dev/pool=no-such-pool");
  });
});
