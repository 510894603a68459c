/**
 * The API server's own admission on what the kit rendered: Pod Security `restricted` and the
 * GPU quota in tenant namespaces, and the tenant Role seen through RBAC impersonation.
 */
import { afterAll, describe, expect, it } from "vitest";
import { KIT_LABELS } from "../../gpu";
import { createObject, gpuPod, kubectl } from "./cluster";

afterAll(() => {
  // Waited for: later files create GPU pods in team-a under the same quota.
  kubectl(["delete", "pods", "-n", "team-a", "-l", "e2e.gpk.dev/test=true", "--wait=true", "--timeout=60s"]);
});

/** team-a is a strict tenant: its GPU pods select its whole-GPU pool (admission guards). */
const ownPool = { nodeSelector: { [KIT_LABELS.pool]: "sim-h100" } };

describe("admission in a tenant namespace", () => {
  it("PodSecurity refuses a privileged pod and admits the same pod shaped for restricted", () => {
    const pod = gpuPod("e2e-privileged", "team-a", 0);
    const privileged = { ...pod, spec: { ...pod.spec, containers: [{ ...pod.spec.containers[0]!, securityContext: { privileged: true } }] } };
    const refused = createObject(privileged);
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toMatch(/violates PodSecurity "restricted:latest": .*privileged/);
    const admitted = createObject({ ...pod, metadata: { ...pod.metadata, name: "e2e-restricted" } });
    expect(admitted.stderr).toBe("");
    expect(admitted.status).toBe(0);
  });

  it("ResourceQuota refuses a pod that would take the tenant past its GPU quota", () => {
    const hard = JSON.parse(kubectl(["get", "resourcequota", "-n", "team-a", "-o", "json"]).stdout).items[0].spec.hard["requests.nvidia.com/gpu"];
    expect(hard).toBe("4");
    const first = createObject(gpuPod("e2e-quota-3", "team-a", 3, ownPool));
    expect(first.stderr).toBe("");
    const over = createObject(gpuPod("e2e-quota-2", "team-a", 2, ownPool));
    expect(over.status).not.toBe(0);
    expect(over.stderr).toMatch(/exceeded quota: .*requested: .*requests\.nvidia\.com\/gpu=2, used: .*requests\.nvidia\.com\/gpu=3, limited: .*requests\.nvidia\.com\/gpu=4/);
    const fits = createObject(gpuPod("e2e-quota-1", "team-a", 1, ownPool));
    expect(fits.stderr).toBe("");
  });

  it("the tenant's group may run pods in its own namespace and not in another tenant's", () => {
    const canI = (verb: string, resource: string, namespace: string) =>
      kubectl(["auth", "can-i", verb, resource, "-n", namespace, "--as", "alice", "--as-group", "gpk:team-a"]).stdout.trim();
    expect(canI("create", "pods", "team-a")).toBe("yes");
    expect(canI("create", "deployments.apps", "team-a")).toBe("yes");
    expect(canI("create", "pods", "team-b")).toBe("no");
    expect(canI("get", "secrets", "team-b")).toBe("no");
    expect(canI("create", "rolebindings.rbac.authorization.k8s.io", "team-a")).toBe("no");
    expect(canI("update", "resourcequotas", "team-a")).toBe("no");
    expect(canI("list", "nodes", "default")).toBe("no");
  });
});
