/**
 * `gpk ray start-args`, the real CLI on the shipped stacks: the documented JSON shape, the
 * text form a user pastes, and exit 2 with one line where there is nothing to print.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { REPO_ROOT, runGpk } from "./run-gpk";

describe("gpk ray start-args", () => {
  it("prints the head and worker arguments of the local stack's RayCluster as JSON", () => {
    const run = runGpk(["ray", "start-args", "local", "--json"]);
    expect(run.status, run.stderr).toBe(0);
    const doc = JSON.parse(run.stdout);
    expect(Object.keys(doc)).toEqual(["stack", "rayVersion", "clusterName", "namespace", "head", "workerGroups"]);
    expect(doc).toMatchObject({ stack: "local", rayVersion: "2.55.1", clusterName: "ray", namespace: "team-a" });
    expect(doc.head.args.slice(0, 2)).toEqual(["--head", "--block"]);
    expect(doc.head.args).toContain("--num-cpus=0");
    expect(doc.workerGroups).toHaveLength(1);
    const [group] = doc.workerGroups;
    expect(group).toMatchObject({ groupName: "sim-h100", minReplicas: 0, maxReplicas: 2 });
    expect(group.args).toEqual(expect.arrayContaining([
      "--address=ray-head-svc.team-a.svc.cluster.local:6379", "--num-gpus=2", '--resources={"NVIDIA-H100-80GB-HBM3":2,"gpk-node-slot":1}', "--labels=gpk.dev/pool=sim-h100",
    ]));
    expect(group.env.RAY_task_retry_delay_ms).toBe("5000");
    expect(group.env.RAY_AUTH_TOKEN).toEqual({ valueFrom: { secretKeyRef: { name: "ray", key: "auth_token" } } });
    expect(group.shell).toContain(`--resources='{"NVIDIA-H100-80GB-HBM3":2,"gpk-node-slot":1}'`);
  });

  it("prints a pasteable command line and the env in text form", () => {
    const run = runGpk(["ray", "start-args", "local"]);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain(`ray start --address=ray-head-svc.team-a.svc.cluster.local:6379 --block`);
    expect(run.stdout).toContain(`'--resources={"NVIDIA-H100-80GB-HBM3":2,"gpk-node-slot":1}'`);
    expect(run.stdout).toContain("RAY_AUTH_TOKEN=(from Secret ray, key auth_token)");
  });

  it("exits 2 with one line for an unknown stack and for a stack without a RayCluster", () => {
    const unknown = runGpk(["ray", "start-args", "nope", "--json"]);
    expect(unknown.status).toBe(2);
    expect(unknown.stdout).toBe("");
    expect(unknown.stderr.trim().split("\n")).toEqual([expect.stringMatching(/^gpk ray: unknown stack "nope"; stacks in .*: local, prod, staging$/)]);
    const none = runGpk(["ray", "start-args", "staging"]);
    expect(none.status).toBe(2);
    expect(none.stderr.trim().split("\n").pop()).toBe("gpk ray: stack staging renders no RayCluster (set gpk:ray)");
    expect(runGpk(["ray", "stop"]).status).toBe(2);
  });

  it("exits 2 naming the key of a config mistake", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gpk-ray-cli-"));
    const doc = parse(fs.readFileSync(path.join(REPO_ROOT, "stacks", "Pulumi.local.yaml"), "utf8"));
    doc.config["gpk:ray"].jobs[0].backoffLimit = 3;
    fs.writeFileSync(path.join(dir, "Pulumi.local.yaml"), stringify(doc));
    const run = runGpk(["ray", "start-args", "local", "--stacks-dir", dir]);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain("gpk:ray.jobs[0].backoffLimit: expected 0: KubeRay refuses backoffLimit > 0");
  });
});
