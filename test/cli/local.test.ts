import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { kindClusterConfig } from "../../cli/local/kind-config";
import { REQUIRED_TOOLS, kindCreateStep, kindDeleteStep, localBackend, pulumiEnv } from "../../cli/local/plan";
import { readStackConfig, stackFile } from "../../cli/render/stack-files";
import { gpkKeys, parseStackConfig } from "../../stacks/load-config";
import { runGpk } from "./run-gpk";

function localConfig() {
  const config = parseStackConfig(gpkKeys(readStackConfig(stackFile("local"))));
  if (config.target !== "kind") throw new Error("local stack must be kind");
  return config;
}

describe("gpk local", () => {
  it("writes a kind config with one control plane and one labelled, tainted worker per simulated node", () => {
    const kind = kindClusterConfig(localConfig());
    expect(kind.name).toBe("gpk-local");
    // sim-h100: 2 nodes; sim-h100-shared: 1; sim-h100-mig: 1.
    expect(kind.nodes.map((n) => n.role)).toEqual(["control-plane", "worker", "worker", "worker", "worker"]);
    expect(kind.nodes[4]!.labels).toMatchObject({ "gpk.dev/pool": "sim-h100-mig", "nvidia.com/mig.config": "all-1g.10gb", "nvidia.com/mig.strategy": "mixed" });
    for (const node of kind.nodes) expect(node.image).toBe("kindest/node:v1.33.1@sha256:050072256b9a903bd914c0b2866828150cb229cea0efe5892e2b644d5dd3b34f");
    // The control plane stays schedulable for the platform's non-GPU pods.
    expect(kind.nodes[0]!.kubeadmConfigPatches!.map((p) => parse(p))).toEqual([{ kind: "InitConfiguration", nodeRegistration: { taints: [] } }]);
    const worker = kind.nodes[1]!;
    expect(worker.labels).toMatchObject({ "gpk.dev/pool": "sim-h100", "nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3", "nvidia.com/gpu.count": "4" });
    expect(worker.kubeadmConfigPatches!.map((p) => parse(p))).toEqual([
      { kind: "JoinConfiguration", nodeRegistration: { taints: [{ key: "nvidia.com/gpu", value: "present", effect: "NoSchedule" }] } },
    ]);
  });

  it("runs exactly these kind commands", () => {
    expect(kindCreateStep("gpk-local", "/r/.gpk/kind-gpk-local.yaml")).toEqual({
      command: "kind", args: ["create", "cluster", "--name", "gpk-local", "--config", "/r/.gpk/kind-gpk-local.yaml", "--wait", "120s"],
    });
    expect(kindDeleteStep("gpk-local")).toEqual({ command: "kind", args: ["delete", "cluster", "--name", "gpk-local"] });
    expect(REQUIRED_TOOLS.map((t) => t.name)).toEqual(["docker", "kind", "pulumi"]);
  });

  it("keeps Pulumi state in a file backend inside the checkout", () => {
    expect(localBackend("/r")).toEqual({ stateDir: "/r/.gpk/state", backendUrl: "file:///r/.gpk/state" });
    expect(pulumiEnv("/r", {})).toEqual({ PULUMI_BACKEND_URL: "file:///r/.gpk/state", PULUMI_CONFIG_PASSPHRASE: "" });
    expect(pulumiEnv("/r", { PULUMI_CONFIG_PASSPHRASE: "s3cret" })).toEqual({ PULUMI_BACKEND_URL: "file:///r/.gpk/state" });
  });

  it("exits 2 naming every missing tool and how to get it", () => {
    const emptyPath = fs.mkdtempSync(path.join(os.tmpdir(), "gpk-nopath-"));
    const run = runGpk(["local", "up", "--runtime", "kind"], { env: { PATH: emptyPath } });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain("docker is not on PATH: install Docker Engine");
    expect(run.stderr).toContain("kind is not on PATH: install kind");
    expect(run.stderr).toContain("pulumi is not on PATH: install the Pulumi CLI");
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("binaries runtime: exits 2 naming the missing upstream binaries and the command that builds them", () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), "gpk-notools-"));
    const run = runGpk(["local", "up", "--runtime", "binaries"], { env: { PATH: empty, GPK_TOOLS_DIR: empty, KUBEBUILDER_ASSETS: "" } });
    expect(run.status).toBe(2);
    expect(run.stderr.trim()).toBe(
      "gpk local: missing kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kube-proxy, crictl, kine, kwok, pulumi, pulumi-resource-kubernetes: run `npm run tools` (builds them from their Go modules)",
    );
    // KWOK nodes only: the node's binaries are not needed.
    const kwokOnly = runGpk(["local", "up", "--runtime", "binaries", "--real-nodes", "0"], { env: { PATH: empty, GPK_TOOLS_DIR: empty, KUBEBUILDER_ASSETS: "" } });
    expect(kwokOnly.status).toBe(2);
    expect(kwokOnly.stderr.trim()).toBe(
      "gpk local: missing kube-apiserver, kube-controller-manager, kube-scheduler, kine, kwok, pulumi, pulumi-resource-kubernetes: run `npm run tools` (builds them from their Go modules)",
    );
  });

  it("refuses a --real-nodes value that is not a count it can run, naming the flag", () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), "gpk-notools-"));
    const env = { PATH: empty, GPK_TOOLS_DIR: empty };
    const word = runGpk(["local", "up", "--runtime", "binaries", "--real-nodes", "x"], { env });
    expect(word.status).toBe(2);
    expect(word.stderr.trim()).toBe('gpk local: --real-nodes: expected an integer, got "x"; see `gpk local --help`');
    const many = runGpk(["local", "up", "--runtime", "binaries", "--real-nodes", "2"], { env });
    expect(many.status).toBe(2);
    expect(many.stderr.trim()).toBe("gpk local: --real-nodes: expected 0 to 1 (the first node of the first GPU pool), got 2");
  });

  it("refuses an unknown runtime", () => {
    const run = runGpk(["local", "up", "--runtime", "docker"]);
    expect(run.status).toBe(2);
    expect(run.stderr.trim()).toBe('gpk local: --runtime: expected auto, kind or binaries, got "docker"');
  });

  it("refuses a stack that is not a kind stack", () => {
    const run = runGpk(["local", "up", "--stack", "prod"]);
    expect(run.status).toBe(2);
    expect(run.stderr.trim()).toBe("gpk local: stack prod targets eks; `gpk local` runs kind stacks only");
  });
});
