/**
 * The tenancy rules the API server holds itself (components/admission-guards.ts): the stack's
 * ValidatingAdmissionPolicies, installed by `pulumi up`, refuse what `kubectl` creates by hand
 * with the policy's message, and admit the same pods shaped correctly. The local stack has a
 * strict tenant (team-a: whole-GPU pool sim-h100 and MIG pool sim-h100-mig), a shared one (team-b) and a
 * time-sliced pool (sim-h100-shared).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMISSION_GUARDS, GPK_SCHEDULER_NAME, GPU_RESOURCE, GPU_TAINT, KIT_LABELS, strictPoolsGuardName, tolerationFor } from "../../gpu";
import { createNamespace, createObject, gpuPod, kubectl, kubectlOk } from "./cluster";

const OUTSIDER = "e2e-outsider";
const created: [string, string][] = [];

beforeAll(() => createNamespace(OUTSIDER));
afterAll(() => {
  for (const [ns, name] of created) kubectl(["delete", "pod", "-n", ns, name, "--wait=false"]);
  kubectl(["delete", "namespace", OUTSIDER, "--wait=false"]);
});

/** Creates the pod; on success remembers it for cleanup. No scheduler serves "nobody": admitted pods stay Pending. */
function create(pod: ReturnType<typeof gpuPod>) {
  const run = createObject({ ...pod, spec: { ...pod.spec, schedulerName: "nobody" } });
  if (run.status === 0) created.push([pod.metadata.namespace, pod.metadata.name]);
  return run;
}

/** What the API server says when a binding with Deny refuses a pod. */
function deniedBy(policy: string, message: string): string {
  return `ValidatingAdmissionPolicy '${policy}' with binding '${policy}' denied request: ${message}`;
}

describe("admission guards on the real API server", () => {
  it("are installed by pulumi up, one binding each, with Deny", () => {
    const policies = kubectlOk(["get", "validatingadmissionpolicies", "-o", "json"]).items.map((p: any) => p.metadata.name).sort();
    expect(policies).toEqual([...Object.values(ADMISSION_GUARDS), strictPoolsGuardName("team-a")].sort());
    for (const b of kubectlOk(["get", "validatingadmissionpolicybindings", "-o", "json"]).items) {
      expect(b.spec.validationActions, b.metadata.name).toEqual(["Deny"]);
      expect(b.spec.policyName).toBe(b.metadata.name);
    }
  });

  it("refuses a strict tenant's GPU pod on the time-sliced pool, and admits it on its own pool", () => {
    const shared = gpuPod("strict-on-shared", "team-a", 1, { nodeSelector: { [KIT_LABELS.pool]: "sim-h100-shared" } });
    const refused = create(shared);
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toContain(deniedBy(strictPoolsGuardName("team-a"),
      `${strictPoolsGuardName("team-a")}: tenant team-a is strict (it shares no GPU with other tenants): a GPU pod must select one of its pools with nodeSelector ${KIT_LABELS.pool}: sim-h100, sim-h100-mig, not sim-h100-shared`));
    // No pool selected at all is refused too: the pod could land on the shared pool.
    expect(create(gpuPod("strict-anywhere", "team-a", 1)).stderr).toContain(`${strictPoolsGuardName("team-a")}: tenant team-a is strict`);
    const own = create(gpuPod("strict-on-own", "team-a", 1, { nodeSelector: { [KIT_LABELS.pool]: "sim-h100" } }));
    expect(own.status, own.stderr).toBe(0);
    // A shared tenant may use the time-sliced pool.
    const sharedTenant = create(gpuPod("shared-on-shared", "team-b", 1, { nodeSelector: { [KIT_LABELS.pool]: "sim-h100-shared" } }));
    expect(sharedTenant.status, sharedTenant.stderr).toBe(0);
  });

  it("refuses a pod tolerating another tenant's dedicated-pool taint, or every taint, and admits its own", () => {
    const message = `${ADMISSION_GUARDS.dedicatedPools}: pods in tenant namespace team-b may tolerate only their own tenant's pool taint (${KIT_LABELS.tenant}=team-b), never another tenant's or every taint`;
    const other = create(gpuPod("toleration-other", "team-b", 0, { tolerations: [tolerationFor({ key: KIT_LABELS.tenant, value: "team-a", effect: "NoSchedule" })] }));
    expect(other.status).not.toBe(0);
    expect(other.stderr).toContain(deniedBy(ADMISSION_GUARDS.dedicatedPools, message));
    const any = create(gpuPod("toleration-any-tenant", "team-b", 0, { tolerations: [{ key: KIT_LABELS.tenant, operator: "Exists" }] }));
    expect(any.stderr).toContain(message);
    const everything = create(gpuPod("toleration-everything", "team-b", 0, { tolerations: [{ operator: "Exists" }] }));
    expect(everything.stderr).toContain(message);
    const own = create(gpuPod("toleration-own", "team-b", 0, { tolerations: [tolerationFor({ key: KIT_LABELS.tenant, value: "team-b", effect: "NoSchedule" })] }));
    expect(own.status, own.stderr).toBe(0);
  });

  it("refuses the GPU toleration outside tenant namespaces, and admits the pod without it", () => {
    const refused = create(gpuPod("gpu-toleration", OUTSIDER, 0, { tolerations: [tolerationFor(GPU_TAINT)] }));
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toContain(deniedBy(ADMISSION_GUARDS.tolerationScope,
      `${ADMISSION_GUARDS.tolerationScope}: namespace ${OUTSIDER} is no tenant's (no ${KIT_LABELS.tenant} label), so its pods may use no GPU pool and may not tolerate the ${GPU_TAINT.key} taint`));
    const plain = create(gpuPod("no-gpu-toleration", OUTSIDER, 0));
    expect(plain.status, plain.stderr).toBe(0);
  });

  it("refuses a GPU pod whose requests differ from its limits (the API server's own validation answers first)", () => {
    const pod = gpuPod("uneven", "team-b", 2, { nodeSelector: { [KIT_LABELS.pool]: "sim-h100" }, schedulerName: GPK_SCHEDULER_NAME });
    pod.spec.containers[0]!.resources.requests = { ...pod.spec.containers[0]!.resources.requests, [GPU_RESOURCE]: "1" };
    const refused = create(pod);
    expect(refused.status).not.toBe(0);
    // Extended resources may not be overcommitted: core validation refuses before any admission policy runs.
    expect(refused.stderr).toMatch(/must be equal to nvidia\.com\/gpu limit/);
  });
});
