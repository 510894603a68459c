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
    expect(Object.keys(doc)).toEqual(["policy", "seed", "percentageOfNodesToScore", "nodes", "totalGpus", "pods", "failedPods", "allocation", "fragmentationRate", "wallSeconds"]);
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
    [["--policy", "fgd", "--frobnicate"], /^gpk simulate: unknown flag --frobnicate; see `gpk simulate --help`$/],
    [["--policy", "tetris"], /^gpk simulate: --policy: unknown policy "tetris"; valid policies: random, dotprod, gpu-clustering, gpu-packing, best-fit, fgd, gpk, gpk-scarcity$/],
    [["--policy", "fgd", "--seed", "x"], /^gpk simulate: --seed: expected an integer, got "x"; see `gpk simulate --help`$/],
    [["--policy", "fgd", "--arrival", "0"], /^gpk simulate: --arrival: expected a number between 0.01 and 10, got 0; see `gpk simulate --help`$/],
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
    expect(r.stderr.trim()).toBe(`gpk simulate: --nodes: no such file: ${path.join(dir, "missing.csv")}`);
  });

  it("replays with departures in --mode replay and prints its contract JSON", () => {
    const r = gpk("--mode", "replay", "--nodes", nodes, "--pods", pods, "--policy", "gpk", "--defrag", "gpk", "--time-scale", "1000", "--seed", "3", "--json");
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(Object.keys(doc)).toEqual(["mode", "policy", "defrag", "timeScale", "seed", "allocationTimeWeighted", "queueDelaySeconds", "waitingAtEnd", "migrations", "wallSeconds"]);
    expect(doc).toMatchObject({ mode: "replay", policy: "gpk", defrag: "gpk", timeScale: 1000, seed: 3 });
    for (const [cls, d] of Object.entries<any>(doc.queueDelaySeconds)) {
      expect(["fractional", "1", "2", "4", "8"]).toContain(cls);
      expect(d.count).toBeGreaterThan(0);
      expect(d.p99).toBeGreaterThanOrEqual(d.p50);
    }
    const again = JSON.parse(gpk("--mode", "replay", "--nodes", nodes, "--pods", pods, "--policy", "gpk", "--defrag", "gpk", "--time-scale", "1000", "--seed", "3", "--json").stdout);
    expect({ ...again, wallSeconds: 0 }).toEqual({ ...doc, wallSeconds: 0 });
  });

  it("replays under steady arrivals with --load, and says so in its JSON", () => {
    const r = gpk("--mode", "replay", "--nodes", nodes, "--pods", pods, "--policy", "gpk", "--defrag", "none", "--load", "0.05", "--seed", "3", "--json");
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(Object.keys(doc)).toEqual(["mode", "policy", "defrag", "timeScale", "load", "seed", "allocationTimeWeighted", "queueDelaySeconds", "waitingAtEnd", "migrations", "wallSeconds"]);
    expect(doc).toMatchObject({ load: 0.05, seed: 3 });
    expect(r.stderr).toContain("steady load 0.05");
  });

  it.each([
    [["--mode", "replay", "--policy", "gpk"], /^gpk simulate: --defrag: expected one of none, high-node-utilization, gpk, got ""$/],
    [["--mode", "replay", "--policy", "gpk", "--defrag", "gpk", "--arrival", "1.3"], /^gpk simulate: --arrival goes with the artifact mode/],
    [["--policy", "gpk", "--defrag", "gpk"], /^gpk simulate: --defrag goes with --mode replay$/],
    [["--mode", "fast", "--policy", "gpk"], /^gpk simulate: --mode: expected artifact or replay, got "fast"$/],
    [["--mode", "replay", "--policy", "gpk", "--defrag", "none", "--time-scale", "0"], /^gpk simulate: --time-scale: expected a number between 0.001 and 1000000000, got 0; see `gpk simulate --help`$/],
    [["--mode", "replay", "--policy", "gpk", "--defrag", "none", "--load", "0.5", "--time-scale", "10"], /^gpk simulate: --load and --time-scale exclude each other/],
    [["--mode", "replay", "--policy", "gpk", "--defrag", "none", "--load", "50"], /^gpk simulate: --load: 50 is out of reach; these pods offer at most \d+\.\d{3} of the GPU capacity, all at once$/],
    [["--mode", "replay", "--policy", "gpk", "--defrag", "none", "--load", "high"], /^gpk simulate: --load: expected a number, got "high"; see `gpk simulate --help`$/],
    [["--policy", "gpk", "--load", "0.5"], /^gpk simulate: --load goes with --mode replay$/],
  ])("replay mode exits 2 with a one-line reason for %j", (flags, message) => {
    const r = gpk("--nodes", nodes, "--pods", pods, ...flags);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toMatch(message);
  });

  it("replay mode names the line of a deletion before its creation", () => {
    const bad = path.join(dir, "timed.csv");
    writeFileSync(bad, "name,cpu_milli,memory_mib,num_gpu,gpu_milli,creation_time,deletion_time\nok,1000,10,1,500,0,10\nbackwards,1000,10,1,1000,50,40\n");
    const r = gpk("--mode", "replay", "--nodes", nodes, "--pods", bad, "--policy", "gpk", "--defrag", "none");
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(`gpk simulate: ${bad}:3:29: column "deletion_time": 40 is before creation_time 50`);
  });
});
