import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { REPO_ROOT, runGpk } from "./run-gpk";

function stacksDirWith(mutate: (config: Record<string, any>) => void, from = "local"): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gpk-stacks-"));
  const doc = parse(fs.readFileSync(path.join(REPO_ROOT, "stacks", `Pulumi.${from}.yaml`), "utf8"));
  mutate(doc.config);
  fs.writeFileSync(path.join(dir, "Pulumi.broken.yaml"), stringify(doc));
  return dir;
}

describe("gpk preview", () => {
  it("prints the contract JSON for the local stack and nothing else on stdout", () => {
    const run = runGpk(["preview", "local", "--json"]);
    expect(run.status).toBe(0);
    const doc = JSON.parse(run.stdout);
    expect(Object.keys(doc)).toEqual(["stack", "resources", "schemaErrors", "unvalidatedKinds", "violations"]);
    expect(doc.stack).toBe("local");
    expect(doc.schemaErrors).toEqual([]);
    for (const r of doc.resources) expect(Object.keys(r)).toEqual(["urn", "type", "name", "parent", "inputs"]);
    expect(doc.resources.filter((r: any) => r.type === "gpk:index:Tenant").map((r: any) => r.name)).toEqual(["gpk-tenant-team-a", "gpk-tenant-team-b"]);
    expect(run.stderr).toContain("Rendering stack local");
  });

  it("prints a resource tree with counts", () => {
    const run = runGpk(["preview", "local"]);
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/└─ gpk \(gpk:index:Platform\)/);
    expect(run.stdout).toMatch(/gpk-sim-h100 \(gpk:index:GpuNodeGroup\)\s+2 × 4 NVIDIA-H100-80GB-HBM3 = 8 GPUs max/);
    expect(run.stdout).toMatch(/\d+ resources \(\d+ components, \d+ custom\):/);
    expect(run.stdout).toContain("0 schema errors in");
  });

  it("exits 2 with one line per config problem, naming the key path, and no stack trace", () => {
    const dir = stacksDirWith((c) => {
      c["gpk:nodePools"][0].gpusPerNode = "8x";
    });
    const run = runGpk(["preview", "broken", "--stacks-dir", dir, "--json"]);
    expect(run.status).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr).toContain('gpk preview: gpk:nodePools[0].gpusPerNode: expected a positive integer, got "8x"\n');
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it("exits 2 for a copy of prod that gives its strict tenant a time-sliced pool it would share", () => {
    const dir = stacksDirWith((c) => {
      c["gpk:nodePools"][0].timeSlicingReplicas = 4; // serving, shared by search and recsys
      c["gpk:tenants"][2].allowedPools.push("serving"); // research is strict
    }, "prod");
    const run = runGpk(["preview", "broken", "--stacks-dir", dir, "--json"]);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('gpk preview: gpk:tenants[2].allowedPools[1]: expected a pool a strict tenant may use (dedicated to it, or whole GPUs or MIG devices without time-slicing), got "serving": pool "serving" time-slices each device 4 ways for every tenant\n');
  });

  it("exits 2 for an unknown stack and names the stacks that exist", () => {
    const run = runGpk(["preview", "qa"]);
    expect(run.status).toBe(2);
    expect(run.stderr.trim()).toBe('gpk preview: unknown stack "qa"; stacks in stacks: local, prod, staging');
  });

  it("exits 2 on bad usage", () => {
    expect(runGpk(["preview"]).status).toBe(2);
    const run = runGpk(["preview", "local", "--jsn"]);
    expect(run.status).toBe(2);
    expect(run.stderr).toBe("gpk preview: unknown flag --jsn (did you mean --json?); see `gpk preview --help`\n");
    expect(runGpk(["preview", "--help"]).stdout).toMatch(/^Usage: gpk preview <stack>/);
  });
});
