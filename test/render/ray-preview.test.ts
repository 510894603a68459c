/**
 * `gpk preview` (the real binary) checks the rendered RayCluster against the KubeRay CRD on
 * disk and reports a violation with the object's URN and the field's path.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT, runGpk } from "../cli/run-gpk";
import { KUBERAY_CRD_DIR } from "../../data/paths";

const CRD_DIR = KUBERAY_CRD_DIR;
const RAY_CLUSTER_URN = "urn:pulumi:local::gpu-platform-kit::gpk:index:RayCluster$kubernetes:ray.io/v1:RayCluster::gpk-ray";

/**
 * The KubeRay CRDs with one change: worker groups must also set `numOfHosts`, a field the
 * kit leaves to its default. A fixed folder whose file is rewritten only when it changes,
 * so the validator's caches (keyed by path, size and mtime) stay warm across runs.
 */
function crdDirRequiringNumOfHosts(): string {
  const dir = path.join(os.tmpdir(), "gpk-test-kuberay-crd-num-of-hosts");
  fs.mkdirSync(dir, { recursive: true });
  const original = fs.readFileSync(path.join(CRD_DIR, "ray.io_rayclusters.yaml"), "utf8");
  const variant = original.replace(/^( {18})- groupName$/gm, "$1- groupName\n$1- numOfHosts");
  expect(variant).not.toBe(original);
  const file = path.join(dir, "ray.io_rayclusters.yaml");
  if (!fs.existsSync(file) || fs.readFileSync(file, "utf8") !== variant) fs.writeFileSync(file, variant);
  return dir;
}

describe("gpk preview and the KubeRay CRD", () => {
  it("includes the operator release and a RayCluster that passes the real CRD", () => {
    const run = runGpk(["preview", "local", "--json"]);
    expect(run.status).toBe(0);
    const doc = JSON.parse(run.stdout);
    expect(doc.schemaErrors).toEqual([]);
    expect(doc.unvalidatedKinds).toEqual([]);
    const ray = doc.resources.filter((r: { type: string }) => r.type === "kubernetes:ray.io/v1:RayCluster");
    expect(ray.map((r: { urn: string }) => r.urn)).toEqual([RAY_CLUSTER_URN]);
    const operator = doc.resources.find((r: { name: string }) => r.name === "gpk-ray-operator");
    expect(operator).toMatchObject({ type: "kubernetes:helm.sh/v3:Release", parent: ray[0].parent, inputs: { chart: "kuberay-operator", version: "1.7.0" } });
  });

  it("exits 1 and names the path when a worker group lacks a field the CRD requires", () => {
    const run = runGpk(["preview", "local", "--json"], { env: { GPK_CRD_SCHEMA_DIRS: crdDirRequiringNumOfHosts() } });
    expect(run.status).toBe(1);
    expect(JSON.parse(run.stdout).schemaErrors).toEqual([{ urn: RAY_CLUSTER_URN, path: "spec.workerGroupSpecs[0].numOfHosts", message: "is required" }]);
    const text = runGpk(["preview", "local"], { env: { GPK_CRD_SCHEMA_DIRS: crdDirRequiringNumOfHosts() } });
    expect(text.status).toBe(1);
    expect(text.stdout).toContain(`schema error: ${RAY_CLUSTER_URN}: spec.workerGroupSpecs[0].numOfHosts: is required`);
  });
});
