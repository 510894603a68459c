/**
 * `gpk extender` as a user runs it, and the in-cluster bundle as the component ships it: a
 * malformed request gets a 400 and the next valid one is served; bad flags exit 2.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { CONFIGMAP_LIMIT_BYTES, bundleRuntime } from "../../components/runtime-bundle";
import { GPK, runGpk } from "../cli/run-gpk";
import { WORKLOAD, k8sNode, k8sPod, post, writeSnapshot } from "./fixtures";

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill("SIGKILL");
});

/** Spawns a server and resolves with its port once it says where it listens. */
function spawnServer(argv: string[]): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, argv, { stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let err = "";
    child.stderr!.on("data", (d) => {
      err += d;
      const m = /listening on (?:https?:\/\/[^:]+)?:(\d+)/.exec(err);
      if (m) resolve({ child, port: Number(m[1]) });
    });
    child.on("exit", (code) => reject(new Error(`exited ${code}: ${err}`)));
  });
}

const snapshot = () => writeSnapshot({ nodes: [k8sNode("n1", { gpus: 8 }), k8sNode("n2", { gpus: 4 })], workload: WORKLOAD });

async function malformedThenValid(port: number): Promise<void> {
  const bad = await post(port, "filter", "{not json");
  expect(bad.status).toBe(400);
  expect(bad.body.Error).toMatch(/^malformed JSON: /);
  const good = await post(port, "prioritize", { Pod: k8sPod("p", { gpus: 8 }), NodeNames: ["n1", "n2"] });
  expect(good.status).toBe(200);
  expect(good.body).toEqual([{ Host: "n1", Score: 10 }, { Host: "n2", Score: 0 }]);
}

describe("gpk extender", () => {
  it("serves a snapshot: a malformed request gets 400, the next valid one is served; SIGTERM exits 0", async () => {
    const { child, port } = await spawnServer([GPK, "extender", "--snapshot", snapshot(), "--port", "0", "--host", "127.0.0.1"]);
    await malformedThenValid(port);
    const exited = new Promise((r) => child.on("exit", r));
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
  });

  it("exits 2 with one line on a bad flag, an unknown policy or a bad snapshot", () => {
    const flag = runGpk(["extender", "--port", "eighty"]);
    expect(flag.status).toBe(2);
    expect(flag.stderr).toBe('gpk extender: --port: expected an integer, got "eighty"; see `gpk extender --help`\n');
    const policy = runGpk(["extender", "--policy", "tetris"]);
    expect(policy.status).toBe(2);
    expect(policy.stderr).toBe('gpk extender: --policy: unknown placement policy "tetris"; valid policies: random, dotprod, gpu-clustering, gpu-packing, best-fit, fgd, gpk, gpk-scarcity; see `gpk extender --help`\n');
    const answer = runGpk(["extender", "--filter-answer", "best"]);
    expect(answer.status).toBe(2);
    expect(answer.stderr).toBe('gpk extender: --filter-answer: expected one of pick, all, got "best"\n');
    const qps = runGpk(["extender", "--kube-qps", "0"]);
    expect(qps.stderr).toBe("gpk extender: --kube-qps: expected an integer between 1 and 100000, got 0; see `gpk extender --help`\n");
    const both = runGpk(["extender", "--snapshot", "x.json", "--in-cluster"]);
    expect(both.stderr).toBe("gpk extender: --snapshot and --in-cluster: give at most one cluster state source\n");
    const dir = mkdtempSync(path.join(tmpdir(), "gpk-bad-snap-"));
    const file = path.join(dir, "s.json");
    writeFileSync(file, JSON.stringify({ nodes: [{ metadata: { name: "" } }] }));
    const snap = runGpk(["extender", "--snapshot", file]);
    expect(snap.status).toBe(2);
    expect(snap.stderr).toMatch(/^gpk extender: --snapshot .*s\.json: nodes\[0\]\.metadata\.name: .*\n$/);
  });

  it("prints its flags on --help", () => {
    const help = runGpk(["extender", "--help"]);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain("--snapshot <json>");
    expect(help.stdout).toContain("random, dotprod, gpu-clustering, gpu-packing, best-fit, fgd, gpk, gpk-scarcity");
  });
});

describe("in-cluster bundle", () => {
  it("fits a ConfigMap, serves from a snapshot and refuses --kubeconfig with exit 2", async () => {
    const bundle = bundleRuntime("scheduler-extender");
    expect(bundle.bytes).toBeLessThan(CONFIGMAP_LIMIT_BYTES);
    expect(bundle.code).not.toContain("@kubernetes/client-node");
    const dir = mkdtempSync(path.join(tmpdir(), "gpk-ext-bundle-"));
    const file = path.join(dir, bundle.fileName);
    writeFileSync(file, bundle.code);
    const { port } = await spawnServer([file, "--snapshot", snapshot(), "--port", "0", "--host", "127.0.0.1"]);
    await malformedThenValid(port);
    const refused = (args: string[]) => new Promise<{ code: number | null; err: string }>((resolve) => {
      const c = spawn(process.execPath, [file, ...args], { stdio: ["ignore", "ignore", "pipe"] });
      let err = "";
      c.stderr!.on("data", (d) => (err += d));
      c.on("exit", (code) => resolve({ code, err }));
    });
    expect(await refused(["--kubeconfig", "/nope"])).toEqual({ code: 2, err: "scheduler-extender: --kubeconfig: not available in the in-cluster bundle; use --in-cluster\n" });
    expect(await refused(["--in-cluster"])).toEqual({
      code: 2,
      err: "scheduler-extender: --in-cluster: the in-cluster extender serves only mutual TLS; give --tls-cert, --tls-key and --client-ca (plain HTTP is for local use)\n",
    });
  });
});
