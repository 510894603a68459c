/**
 * The real Pulumi engine and Kubernetes provider against the real API server: `pulumi up`
 * created exactly what the program declares, a second preview finds nothing to change, the
 * three policy packs run inside the engine's preview, and what the API server thinks of the
 * objects (Pod Security on the serving pods, CRD validation of the RayCluster).
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { GFD_LABELS, KIT_LABELS } from "../../gpu";
import { REPO_ROOT, cluster, createObject, gpk, kubectl, kubectlOk } from "./cluster";
import { expectJsonShape } from "../cli/json-shape-assert";

/** The real CLI, from the workspace `gpk local up` reported, with its environment. */
function pulumi(args: string[]) {
  const { pulumi: p } = cluster();
  const r = spawnSync(p.bin, args, { cwd: p.workDir, env: { ...process.env, ...p.env }, encoding: "utf8", timeout: 300_000, maxBuffer: 64 * 1024 * 1024 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("pulumi up of the local stack", () => {
  it("gpk local up --json printed the declared shape (nodes, images, processes)", () => {
    expectJsonShape("local", "up", JSON.stringify(cluster()));
  });

  it("created every resource the program declares, and the state holds exactly those", () => {
    const { update } = cluster();
    expect(update.create).toBeGreaterThan(50);
    expect(Object.keys(update).filter((op) => op !== "create" && op !== "same")).toEqual([]);
    const exported = pulumi(["stack", "export", "--stack", "local"]);
    expect(exported.status, exported.stderr).toBe(0);
    const state = JSON.parse(exported.stdout).deployment.resources as { urn: string; type: string; custom: boolean }[];
    // The same program under the mock runtime, on the workspace's config (the binaries overrides included).
    const preview = gpk(["preview", "local", "--json", "--no-policies", "--stacks-dir", cluster().pulumi.workDir]);
    expect(preview.status, preview.stderr).toBe(0);
    // Compared by type and name: Pulumi's mock monitor qualifies a child's type with its
    // parent's own type only (runtime/mocks.js newUrn), the engine with the parent's whole
    // type chain, so nested URNs differ between the two while the resources are the same.
    const key = (urn: string) => {
      const [, , qualifiedType, name] = urn.split("::");
      return `${qualifiedType!.split("$").pop()}::${name}`;
    };
    const declared = (JSON.parse(preview.stdout).resources as { urn: string }[]).map((r) => key(r.urn)).sort();
    // The engine's default providers (kubernetes; pulumi-nodejs for the dynamic certificates) are not the program's.
    const actual = state.map((r) => r.urn).filter((urn) => !/::pulumi:providers:[^:]+::default$/.test(urn)).map(key).sort();
    expect(new Set(declared).size).toBe(declared.length);
    expect(actual).toEqual(declared);
    expect(update.create).toBe(declared.length);
  });

  it("a second preview reports no changes (--expect-no-changes)", () => {
    const run = gpk(["local", "preview", "--runtime", "binaries", "--expect-no-changes", "--json"]);
    expect(run.status, run.stderr).toBe(0);
    const summary = expectJsonShape("local", "preview", run.stdout).changeSummary as Record<string, number>;
    expect(Object.keys(summary).filter((op) => op !== "same")).toEqual([]);
    expect(summary.same).toBeGreaterThan(50);
  });

  it("runs each policy pack inside the engine's preview, and the stack passes all three", () => {
    for (const pack of ["gpu-capacity", "thermal", "tenancy"]) {
      const run = gpk(["local", "preview", "--runtime", "binaries", "--policy-pack", path.join("policies", pack)]);
      expect(run.status, `${pack}: ${run.stderr.slice(-2000)}`).toBe(0);
      expect(run.stderr).toContain(`Policies:`);
    }
  });

  it("fails the engine's preview on a mandatory violation (tenant quotas above the pool's headroom)", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gpk-e2e-violation-"));
    const doc = parse(fs.readFileSync(path.join(REPO_ROOT, "stacks", "Pulumi.local.yaml"), "utf8"));
    doc.config["gpk:tenants"][0].gpuQuota = 100;
    fs.writeFileSync(path.join(dir, "Pulumi.local.yaml"), stringify(doc));
    const run = gpk(["local", "preview", "--runtime", "binaries", "--stacks-dir", dir, "--policy-pack", "policies/gpu-capacity"]);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain("gpu-pool-quota-headroom");
    expect(run.stderr).toMatch(/mandatory/);
  });
});

describe("the objects in the API server", () => {
  it("the serving pods passed Pod Security restricted and run on the GPU pool", () => {
    const ns = kubectlOk(["get", "namespace", "team-b", "-o", "json"]);
    expect(ns.metadata.labels["pod-security.kubernetes.io/enforce"]).toBe("restricted");
    const pods = kubectlOk(["get", "pods", "-n", "team-b", "-l", "app.kubernetes.io/name=chat", "-o", "json"]).items as any[];
    expect(pods.length).toBeGreaterThan(0);
    const gpuNodes = new Set((kubectlOk(["get", "nodes", "-l", `${KIT_LABELS.pool}=sim-h100`, "-o", "json"]).items as any[]).map((n) => n.metadata.name));
    for (const pod of pods) {
      expect(gpuNodes.has(pod.spec.nodeName), `${pod.metadata.name} on ${pod.spec.nodeName}`).toBe(true);
      expect(pod.status.phase).toBe("Running");
    }
    expect(gpuNodes.size).toBeGreaterThan(0);
    // The same nodes carry the GFD labels the kit puts on real GPU nodes.
    const node = kubectlOk(["get", "node", [...gpuNodes][0]!, "-o", "json"]);
    expect(node.metadata.labels[GFD_LABELS.product]).toBe("NVIDIA-H100-80GB-HBM3");
  });

  it("the RayCluster passed the real CRD's validation, and an invalid copy does not", () => {
    const ray = kubectlOk(["get", "rayclusters.ray.io", "-n", "team-a", "-o", "json"]).items as any[];
    expect(ray).toHaveLength(1);
    const copy = { apiVersion: "ray.io/v1", kind: "RayCluster", metadata: { name: "e2e-invalid", namespace: "team-a" }, spec: structuredClone(ray[0].spec) };
    delete copy.spec.workerGroupSpecs[0].groupName;
    const refused = createObject(copy);
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toMatch(/spec\.workerGroupSpecs\[0\]\.groupName: Required value/);
    expect(kubectl(["get", "raycluster", "-n", "team-a", "e2e-invalid"]).status).not.toBe(0);
  });

  it("the RayJob passed the real CRD's validation against the tenant's cluster, and an invalid copy does not", () => {
    const jobs = kubectlOk(["get", "rayjobs.ray.io", "-n", "team-a", "-o", "json"]).items as any[];
    expect(jobs.map((j) => j.metadata.name)).toEqual(["gpu-smoke"]);
    expect(jobs[0].spec).toMatchObject({ clusterSelector: { "ray.io/cluster": "ray" }, submissionMode: "HTTPMode", activeDeadlineSeconds: 600, backoffLimit: 0 });
    const copy = { apiVersion: "ray.io/v1", kind: "RayJob", metadata: { name: "e2e-invalid-job", namespace: "team-a" }, spec: { ...structuredClone(jobs[0].spec), activeDeadlineSeconds: "an hour" } };
    const refused = createObject(copy);
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toMatch(/spec\.activeDeadlineSeconds: Invalid value: "string"/);
  });
});
