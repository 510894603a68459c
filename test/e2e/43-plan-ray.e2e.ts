/**
 * `gpk plan serving --ray-address` on a real Ray cluster: the local stack's RayCluster as real
 * Ray processes (a head and 2 workers, started with the arguments `gpk ray start-args` derives,
 * ray-local.ts) from the project's Python environment. Each candidate is a Ray task that runs
 * the kit's simulator, carried by Ray's runtime_env, with the worker's `node`; the plan must
 * equal the worker threads' plan, and the tasks must have run on both workers. Times are the
 * bench's (npm run bench:plan -- --ray), not asserted here.
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import type { RayClusterStart } from "../../components/kuberay-start";
import { runGpk as gpk } from "../cli/run-gpk";
import { REPO_ROOT } from "./cluster";
import { LocalRay } from "./ray-local";

const AUTH = { "ray/auth_token": randomBytes(16).toString("hex") };
const PLAN = ["plan", "serving", "--workload", "chat", "--rate", "6", "--slo", "ttft-p99=1500,tpot-p99=60", "--model", "llama-3-8b", "--gpus", "l40s,a10g,l4", "--tp", "1,2",
  "--engine-settings", "64:2048,256:4096", "--json"];

/** The local stack with its Ray worker group at 2 workers. */
function stackWithTwoWorkers(): string {
  const doc = parse(fs.readFileSync(path.join(REPO_ROOT, "stacks", "Pulumi.local.yaml"), "utf8"));
  Object.assign(doc.config["gpk:ray"].workerGroups[0], { minReplicas: 2, maxReplicas: 2 });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gpk-e2e-plan-ray-"));
  fs.writeFileSync(path.join(dir, "Pulumi.local.yaml"), stringify(doc));
  return dir;
}

describe("gpk plan serving on a real Ray cluster", () => {
  let ray: LocalRay;

  beforeAll(async () => {
    const run = gpk(["ray", "start-args", "local", "--json", "--stacks-dir", stackWithTwoWorkers()]);
    expect(run.status, run.stderr).toBe(0);
    ray = new LocalRay(JSON.parse(run.stdout) as RayClusterStart, { secrets: AUTH });
    await ray.up();
  });
  afterAll(async () => ray?.stop());

  it("gives the worker threads' plan, one Ray task per candidate, run on both workers", () => {
    const threads = gpk([...PLAN, "--workers", "2"]);
    expect(threads.status, threads.stderr).toBe(0);
    const onRay = gpk([...PLAN, "--ray-address", ray.address, "--ray-python", ray.python], { env: ray.driverEnvironment() });
    expect(onRay.status, onRay.stderr).toBe(0);
    const a = JSON.parse(threads.stdout);
    const b = JSON.parse(onRay.stdout);
    expect(a.backend).toBe("threads");
    expect(b.backend).toBe("ray");
    expect({ ...b, backend: undefined, wallSeconds: undefined }).toEqual({ ...a, backend: undefined, wallSeconds: undefined });
    const nodes = /the tasks ran on (\d+) Ray node/.exec(onRay.stderr);
    expect(nodes, onRay.stderr).not.toBeNull();
    expect(Number(nodes![1])).toBe(2);
  });

  it("says what went wrong, in one line, when the driver's Ray is not reachable", () => {
    const run = gpk([...PLAN, "--ray-address", "127.0.0.1:1", "--ray-python", ray.python], { env: { RAY_USAGE_STATS_ENABLED: "0" } });
    expect(run.status).toBe(2);
    expect(run.stderr.trim().split("\n").at(-1)).toMatch(/^gpk plan: --ray-address: the Ray driver .* exited \d+ after 0 of \d+ candidate\(s\): /);
  });
});
