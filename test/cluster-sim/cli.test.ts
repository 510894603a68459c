import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { OPENB_DIR } from "../../data/paths";

const repoRoot = path.resolve(__dirname, "../..");
const data = OPENB_DIR;
let dir = "";
let nodes = "";
let pods = "";

/** A small trace derived from the shipped one: the first 80 nodes and the first 400 tasks. */
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), "gpk-sim-"));
  const head = (file: string, lines: number) => readFileSync(path.join(data, file), "utf8").split("\n").slice(0, lines + 1).join("\n");
  nodes = path.join(dir, "nodes.csv");
  pods = path.join(dir, "pods.csv");
  writeFileSync(nodes, head("openb_node_list_gpu_node.csv", 80));
  writeFileSync(pods, head("openb_pod_list_gpuspec10.csv", 400));
});

function gpk(...args: string[]) {
  const r = spawnSync(process.execPath, [path.join(repoRoot, "bin/gpk.js"), "simulate", ...args], { encoding: "utf8", cwd: repoRoot });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("gpk simulate", () => {
  it("prints the contract JSON", () => {
    const r = gpk("--nodes", nodes, "--pods", pods, "--policy", "fgd", "--seed", "7", "--json");
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(Object.keys(doc)).toEqual(["policy", "seed", "nodes", "totalGpus", "pods", "failedPods", "allocation", "fragmentationRate", "wallSeconds"]);
    expect(doc).toMatchObject({ policy: "fgd", seed: 7, nodes: 80 });
    expect(doc.totalGpus).toBe(readFileSync(nodes, "utf8").trim().split("\n").slice(1).reduce((a, l) => a + Number(l.split(",")[3]), 0));
    expect(Object.keys(doc.allocation)).toEqual(Array.from({ length: 130 }, (_, i) => String(i + 1)));
    expect(doc.allocation["130"]).toBeGreaterThan(50);
    expect(doc.allocation["130"]).toBeLessThanOrEqual(100);
    expect(doc.failedPods).toBeGreaterThan(0); // 130% arrival cannot all fit
    expect(r.stderr).toMatch(/simulate: done in/);
    // the same seed gives the same run
    const again = JSON.parse(gpk("--nodes", nodes, "--pods", pods, "--policy", "fgd", "--seed", "7", "--json").stdout);
    expect({ ...again, wallSeconds: 0 }).toEqual({ ...doc, wallSeconds: 0 });
  });

  it.each([
    [["--policy", "fgd", "--frobnicate"], /^gpk simulate: Unknown option '--frobnicate'/],
    [["--policy", "tetris"], /^gpk simulate: --policy: unknown policy "tetris"; valid policies: random, dotprod, gpu-clustering, gpu-packing, best-fit, fgd, gpk$/],
    [["--policy", "fgd", "--seed", "x"], /^gpk simulate: --seed: expected an integer, got "x"$/],
    [["--policy", "fgd", "--arrival", "0"], /^gpk simulate: --arrival: expected a number between 0.01 and 10, got 0$/],
  ])("exits 2 with a one-line reason for bad flags %j", (flags, message) => {
    const r = gpk("--nodes", nodes, "--pods", pods, ...flags);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr.trim()).toMatch(message);
  });

  it("exits 2 naming file, line and column of a bad CSV row", () => {
    const bad = path.join(dir, "bad.csv");
    writeFileSync(bad, "name,cpu_milli,memory_mib,num_gpu,gpu_milli\nok,1000,10,1,500\nbroken,1000,10,9,1000\n");
    const r = gpk("--nodes", nodes, "--pods", bad, "--policy", "gpk", "--json");
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr.trim()).toBe(`gpk simulate: ${bad}:3:16: column "num_gpu": expected an integer 0..8, got "9"`);
  });

  it("exits 2 when a file cannot be read", () => {
    const r = gpk("--nodes", path.join(dir, "missing.csv"), "--pods", pods, "--policy", "fgd");
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(`gpk simulate: --nodes: cannot read ${path.join(dir, "missing.csv")}: ENOENT`);
  });
});
