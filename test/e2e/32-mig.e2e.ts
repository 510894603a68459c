/**
 * MIG on the real control plane: the local stack's MIG pool (sim-h100-mig: 2 simulated H100s,
 * each 7 × 1g.10gb under the `mixed` strategy) is a KWOK node advertising
 * `nvidia.com/mig-1g.10gb: 14`. A strict tenant's MIG pod goes through `gpk-scheduler`, which
 * manages the MIG resource and so calls the extender; the extender hands out whole MIG devices
 * of that profile; the tenant's ResourceQuota caps them at its `migQuota`.
 */
import { afterAll, describe, expect, it } from "vitest";
import { GFD_LABELS, GPK_SCHEDULER_NAME, KIT_ANNOTATIONS, KIT_LABELS, strictPoolsGuardName } from "../../gpu";
import { MIG_LABELS, migProfileLabel, migResourceName } from "../../gpu/mig";
import { createObject, gpuPod, kubectl, kubectlOk, podJson, waitUntil } from "./cluster";

const TENANT = "team-a";
const POOL = "sim-h100-mig";
const MIG = migResourceName("1g.10gb");
const created: string[] = [];

afterAll(() => {
  for (const name of created) kubectl(["delete", "pod", "-n", TENANT, name, "--wait=false", "--grace-period=0"]);
});

function migPod(name: string, devices: number) {
  created.push(name);
  return gpuPod(name, TENANT, devices, { resource: MIG, schedulerName: GPK_SCHEDULER_NAME, nodeSelector: { [KIT_LABELS.pool]: POOL } });
}

describe("a MIG pool on the real control plane", () => {
  it("has a node advertising 14 MIG 1g.10gb devices and no whole GPU, labelled as GFD and the MIG manager would", () => {
    const nodes = kubectlOk(["get", "nodes", "-l", `${KIT_LABELS.pool}=${POOL}`, "-o", "json"]).items as any[];
    expect(nodes).toHaveLength(1);
    const node = nodes[0];
    expect(node.status.allocatable[MIG]).toBe("14");
    expect(node.status.allocatable["nvidia.com/gpu"]).toBeUndefined();
    expect(node.metadata.labels).toMatchObject({
      [MIG_LABELS.config]: "all-1g.10gb",
      [MIG_LABELS.strategy]: "mixed",
      [migProfileLabel("1g.10gb", "count")]: "14",
      [GFD_LABELS.product]: "NVIDIA-H100-80GB-HBM3",
    });
  });

  it("schedules a strict tenant's MIG pods through gpk-scheduler onto distinct MIG devices, within its MIG quota", async () => {
    for (const [name, devices] of [["mig-one", 1], ["mig-three", 3]] as const) {
      const run = createObject(migPod(name, devices));
      expect(run.status, run.stderr).toBe(0);
    }
    const bound = await waitUntil("both MIG pods bound", () => {
      const pods = ["mig-one", "mig-three"].map((n) => podJson(TENANT, n));
      return pods.every((p) => p?.spec.nodeName) ? pods : undefined;
    }, 60_000);
    const devices: number[] = [];
    for (const pod of bound) {
      expect(pod.spec.nodeName).toMatch(new RegExp(`-${POOL}-0$`));
      // The extender bound it: the assignment it records names MIG device indices on that node.
      const assignment = JSON.parse(pod.metadata.annotations[KIT_ANNOTATIONS.gpuAssignment]);
      expect(assignment.node).toBe(pod.spec.nodeName);
      expect(assignment.gpus).toHaveLength(Number(pod.spec.containers[0].resources.limits[MIG]));
      devices.push(...assignment.gpus);
    }
    expect(new Set(devices).size).toBe(4);
    for (const d of devices) expect(d >= 0 && d < 14, `device ${d}`).toBe(true);
    // team-a's migQuota is 4 and four are in use: the API server's quota admission refuses a fifth.
    const over = createObject(migPod("mig-over-quota", 1));
    expect(over.status).not.toBe(0);
    expect(over.stderr).toMatch(new RegExp(`exceeded quota: tenant-quota, requested: requests\\.${MIG.replace(/\./g, "\\.")}=1, used: requests\\.${MIG.replace(/\./g, "\\.")}=4, limited: requests\\.${MIG.replace(/\./g, "\\.")}=4`));
  });

  it("holds a strict tenant's MIG pods on its pools: the API server refuses one that selects no pool", () => {
    const run = createObject(gpuPod("mig-anywhere", TENANT, 1, { resource: MIG, schedulerName: GPK_SCHEDULER_NAME }));
    if (run.status === 0) created.push("mig-anywhere");
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain(`${strictPoolsGuardName(TENANT)}: tenant ${TENANT} is strict`);
  });

  it("refuses a shared tenant any MIG device: its quota caps the resource at 0", () => {
    const pod = gpuPod("mig-unquoted", "team-b", 1, { resource: MIG, schedulerName: GPK_SCHEDULER_NAME, nodeSelector: { [KIT_LABELS.pool]: POOL } });
    const run = createObject(pod);
    if (run.status === 0) kubectl(["delete", "pod", "-n", "team-b", "mig-unquoted", "--wait=false"]);
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain("exceeded quota: tenant-quota");
  });
});
