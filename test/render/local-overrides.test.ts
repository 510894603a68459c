/**
 * The stack settings the binaries runtime writes into its workspace, through the real
 * `gpk preview`: a kubeconfig file for the provider instead of kind's context, the KubeRay
 * CRDs without the operator chart, and no metrics-adapter chart (`servingMetrics.source:
 * external`). Bad values are one-line exit 2s naming the key.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { kuberayCrds } from "../../components/ray-crds";
import { REPO_ROOT, runGpk } from "../cli/run-gpk";

function stackDir(edit: (config: Record<string, any>) => void): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gpk-overrides-"));
  const doc = parse(fs.readFileSync(path.join(REPO_ROOT, "stacks", "Pulumi.local.yaml"), "utf8"));
  // No chart can be fetched where the binaries runtime runs (cli/local/binaries/pulumi.ts).
  doc.config["gpk:telemetry"] = { ...(doc.config["gpk:telemetry"] ?? {}), servingMetrics: { source: "external" } };
  edit(doc.config);
  fs.writeFileSync(path.join(dir, "Pulumi.local.yaml"), stringify(doc));
  return dir;
}

describe("binaries-runtime stack settings", () => {
  it("a kubeconfig file becomes the provider's kubeconfig, and crds-only applies the shipped KubeRay CRDs instead of the chart", () => {
    const kubeconfig = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "gpk-kc-")), "config.yaml");
    fs.writeFileSync(kubeconfig, "apiVersion: v1\nkind: Config\nclusters: []\n");
    const dir = stackDir((c) => {
      c["gpk:cluster"].kubeconfig = kubeconfig;
      c["gpk:ray"].operator = "crds-only";
    });
    const run = runGpk(["preview", "local", "--json", "--no-policies", "--stacks-dir", dir]);
    expect(run.status, run.stderr).toBe(0);
    const doc = JSON.parse(run.stdout);
    expect(doc.schemaErrors).toEqual([]);
    const provider = doc.resources.find((r: any) => r.type === "pulumi:providers:kubernetes");
    expect(provider.inputs.kubeconfig).toBe(fs.readFileSync(kubeconfig, "utf8"));
    expect(provider.inputs.context).toBeUndefined();
    expect(doc.resources.filter((r: any) => r.type === "kubernetes:helm.sh/v3:Release")).toEqual([]);
    const crds = doc.resources.filter((r: any) => r.type === "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition");
    expect(crds.map((r: any) => r.inputs.metadata.name).sort()).toEqual(kuberayCrds("1.7.0").map((c) => c.metadata.name).sort());
    expect(crds.map((r: any) => r.inputs.metadata.name)).toContain("rayclusters.ray.io");
  });

  it("operator none renders neither the chart nor the CRDs", () => {
    const run = runGpk(["preview", "local", "--json", "--no-policies", "--stacks-dir", stackDir((c) => (c["gpk:ray"].operator = "none"))]);
    expect(run.status, run.stderr).toBe(0);
    const types = JSON.parse(run.stdout).resources.map((r: any) => r.type);
    expect(types).not.toContain("kubernetes:helm.sh/v3:Release");
    expect(types).not.toContain("kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition");
    expect(types).toContain("kubernetes:ray.io/v1:RayCluster");
  });

  it("refuses an unreadable kubeconfig and an unknown operator choice, naming the key", () => {
    const missing = runGpk(["preview", "local", "--stacks-dir", stackDir((c) => (c["gpk:cluster"].kubeconfig = "/nonexistent/kubeconfig"))]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('gpk:cluster.kubeconfig: expected a readable kubeconfig file, got "/nonexistent/kubeconfig" (ENOENT)');
    expect(missing.stderr).not.toMatch(/\n\s+at /);
    const operator = runGpk(["preview", "local", "--stacks-dir", stackDir((c) => (c["gpk:ray"].operator = "helm"))]);
    expect(operator.status).toBe(2);
    expect(operator.stderr).toMatch(/gpk:ray\.operator: expected one of .*"chart".*"crds-only".*"none"/);
  });
});
