/**
 * A clone passes on its own: no tracked source reads the workspace's shared folder beside it, and
 * every data file the tests, benches and preview name is inside the repository.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { CRD_SCHEMA_ROOT, DATA_DIR, H100_DIR, KUBERAY_CRD_DIR, OPENB_DIR } from "../../data/paths";

const REPO_ROOT = path.resolve(__dirname, "../..");
const tracked = execFileSync("git", ["ls-files", "-z"], { cwd: REPO_ROOT, encoding: "utf8" }).split("\0").filter(Boolean);

describe("self-contained clone", () => {
  it("no tracked file outside data/ points at the workspace's shared folder", () => {
    const sources = tracked.filter((f) => !f.startsWith("data/") && /\.(ts|mts|js|cjs|json|ya?ml|md|sh)$|^\.ci\//.test(f) && f !== "package-lock.json");
    expect(sources.length).toBeGreaterThan(100);
    // Built from parts so this file does not match itself.
    const needle = new RegExp(["\\.\\.", "shared", "(data|schemas)?"].join("/"));
    const offenders = sources.filter((f) => needle.test(fs.readFileSync(path.join(REPO_ROOT, f), "utf8")));
    expect(offenders).toEqual([]);
  });

  it("data paths resolve inside the repository and hold the files the suite reads", () => {
    for (const dir of [DATA_DIR, OPENB_DIR, H100_DIR, CRD_SCHEMA_ROOT, KUBERAY_CRD_DIR]) {
      expect(path.relative(REPO_ROOT, dir).startsWith("..")).toBe(false);
    }
    const expected = [
      "openb/openb_node_list_gpu_node.csv",
      ...["default", "cpu050", "cpu100", "gpushare40", "gpuspec10", "multigpu20"].map((t) => `openb/openb_pod_list_${t}.csv`),
      "openb/ANCHORS.md",
      "h100/thermal_trace.csv",
      "h100/nvidia-smi-q.xml",
      "h100/nvidia-smi-commands.txt",
      "schemas/kuberay-v1.7.0/ray.io_rayclusters.yaml",
      "schemas/kuberay-v1.7.0/ray.io_rayjobs.yaml",
      "schemas/kuberay-v1.7.0/LICENSE",
      "vllm-benchmark/lambdalabs-h100-2024-09-07.json",
    ];
    for (const rel of expected) expect(tracked, rel).toContain(`data/${rel}`);
  });

  it("keeps every data file under 2 MB", () => {
    const big = tracked.filter((f) => f.startsWith("data/") && fs.statSync(path.join(REPO_ROOT, f)).size > 2_000_000);
    expect(big).toEqual([]);
  });
});
