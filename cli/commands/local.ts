/**
 * `gpk local up|down [--stack local] [--runtime auto|kind|binaries] [--json]`: a local cluster
 * for a kind stack, and `pulumi up` of that stack on it.
 * - kind: a kind cluster whose workers carry the stack's simulated GPU pools; needs Docker,
 *   kind and the Pulumi CLI, and says which is missing.
 * - binaries: the upstream control plane as local processes (cli/local/binaries), KWOK
 *   nodes, `gpk extender` and `gpk-scheduler`, and the real Pulumi engine; needs the tools
 *   `npm run tools` builds.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { stringify } from "yaml";
import { ConfigError, parseConfigMap } from "../../stacks/load-config";
import type { StackConfig } from "../../stacks/config";
import { ExitCode, UsageError, checkFolder, numberFlag, parseFlags, printJson, progress, type Command } from "../contract";
import { helpShape } from "../json-shapes";
import { kindClusterConfig } from "../local/kind-config";
import { REQUIRED_TOOLS, kindCreateStep, kindDeleteStep, localBackend, pulumiEnv, type Step } from "../local/plan";
import { REPO_ROOT, readStackConfig, stackFile } from "../render/stack-files";
import { planNodes } from "../local/binaries/nodes";
import { LOCAL_IMAGE_PREFIX } from "../images/kit-images";
import { CONFIG as POLICY_CONFIG } from "../../policies/lib/config";
import { allowedImageRegistries } from "../../policies/tenancy/images";
import { layoutOf } from "../local/binaries/plan";
import { openStack, pulumiSetup } from "../local/binaries/pulumi";
import { downCluster, readState, startKitProcesses, upControlPlane, type BinariesCluster } from "../local/binaries/runtime";
import { TOOL_NAMES, readPins } from "../tools/recipes";
import { resolveTools, type ResolvedTools } from "../tools/resolve";
import { deployPlatform } from "../../stacks/program";

const usage = `Usage: gpk local up|preview|destroy|down [--stack local] [--runtime auto|kind|binaries]
                [--real-nodes 0|1] [--stacks-dir <dir>] [--expect-no-changes] [--policy-pack <dir>]... [--json]

up       starts a local cluster for a kind stack and runs \`pulumi up\` for the stack on it;
         a second \`up\` on a running cluster is an update
preview  (binaries) \`pulumi preview\` of the stack against the running cluster, with
         --expect-no-changes and --policy-pack passed to the engine; exit 1 when it fails
destroy  (binaries) \`pulumi destroy\` of the stack; the cluster keeps running
down     destroys the stack's resources, stops the cluster and removes its state

--runtime kind      a kind cluster (control plane + one worker per simulated GPU node,
                    labelled and tainted like the pool); needs docker (running), kind and
                    the pulumi CLI on PATH. State: .gpk/state (file backend).
--runtime binaries  kube-apiserver, kube-controller-manager, kube-scheduler, kine and KWOK as
                    local processes on 127.0.0.1, one node per simulated GPU node, the
                    stack's gpk-scheduler and \`gpk extender\` as processes, and the Pulumi CLI
                    and Kubernetes provider built by \`npm run tools\`. State: .gpk/binaries/<stack>.
--real-nodes <n>    (binaries, up) how many nodes run a real kubelet with its own containerd,
                    CNI and namespaces instead of KWOK: 1 (default) is the first node of the
                    first GPU pool, where the device plugin, telemetry and GPU pods run in
                    containers of the kit's locally built images; 0 is KWOK only (no
                    container runtime needed). Needs root and \`gpk tools system\`.
--runtime auto      (default) up: kind when docker and kind work, binaries otherwise;
                    other actions: the runtime the stack's cluster was started with
--stacks-dir <dir>  folder with the Pulumi.<stack>.yaml files (default: the kit's stacks/)

--json  up:          ${helpShape("local", "up", 21)}
        up (kind):   ${helpShape("local", "up (kind)", 21)}
        preview:     ${helpShape("local", "preview", 21)}
        destroy:     ${helpShape("local", "destroy", 21)}
        down:        ${helpShape("local", "down", 21)}
        down (kind): ${helpShape("local", "down (kind)", 21)}

Secrets of the local stack use PULUMI_CONFIG_PASSPHRASE (empty when unset).`;

type Runtime = "kind" | "binaries";
type KindStackConfig = Extract<StackConfig, { target: "kind" }>;

async function missingKindTools(): Promise<string[]> {
  const { execa } = await import("execa");
  const problems: string[] = [];
  for (const tool of REQUIRED_TOOLS) {
    const result = await execa(tool.name, tool.versionArgs, { reject: false, timeout: 20_000 });
    if ((result as { code?: string }).code === "ENOENT") problems.push(`${tool.name} is not on PATH: ${tool.install}`);
    else if (result.exitCode !== 0) problems.push(`${tool.name} does not work (\`${tool.name} ${tool.versionArgs.join(" ")}\` exited ${result.exitCode}): ${tool.install}`);
  }
  return problems;
}

async function runStep(step: Step): Promise<void> {
  const { execa } = await import("execa");
  progress(`$ ${step.command} ${step.args.join(" ")}`);
  await execa(step.command, step.args, { stdout: process.stderr, stderr: process.stderr });
}

async function kindUpOrDown(action: "up" | "down", stack: string, config: KindStackConfig, json: boolean): Promise<number> {
  const problems = await missingKindTools();
  if (problems.length > 0) throw new UsageError(problems.join("; "));
  const clusterName = config.cluster.name;
  const { automation } = await import("@pulumi/pulumi");
  const env = pulumiEnv(REPO_ROOT, process.env);
  fs.mkdirSync(localBackend(REPO_ROOT).stateDir, { recursive: true });
  const open = () => automation.LocalWorkspace.createOrSelectStack({ stackName: stack, workDir: REPO_ROOT }, { envVars: env });
  const onOutput = (out: string) => process.stderr.write(out);
  if (action === "up") {
    const kindFile = path.join(REPO_ROOT, ".gpk", `kind-${clusterName}.yaml`);
    fs.writeFileSync(kindFile, stringify(kindClusterConfig(config)));
    const { execa } = await import("execa");
    const existing = (await execa("kind", ["get", "clusters"])).stdout.split("\n");
    if (existing.includes(clusterName)) progress(`kind cluster ${clusterName} exists; keeping it`);
    else await runStep(kindCreateStep(clusterName, kindFile));
    const result = await (await open()).up({ onOutput });
    if (json) printJson({ stack, runtime: "kind", cluster: clusterName, kindConfig: kindFile, kubeconfig: null, update: result.summary.resourceChanges ?? {}, outputs: result.outputs });
    return ExitCode.Ok;
  }
  await (await open()).destroy({ onOutput });
  await runStep(kindDeleteStep(clusterName));
  if (json) printJson({ stack, runtime: "kind", cluster: clusterName });
  return ExitCode.Ok;
}

/** The tools the binaries runtime runs; the node's (kubelet, crictl) only where nodes are real. */
function binariesTools(realNodes = false) {
  const needed = TOOL_NAMES.filter((t) => realNodes || (t !== "kubelet" && t !== "crictl"));
  try {
    return resolveTools(readPins(), process.env, needed);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

const log = (line: string) => progress(`[local] ${line}`);
const toStderr = (out: string) => process.stderr.write(out);

interface BinariesRun {
  stack: string;
  file: string;
  json: boolean;
}

function openBinariesStack(run: BinariesRun, cluster: BinariesCluster, tools: ResolvedTools) {
  const setup = pulumiSetup(layoutOf(REPO_ROOT, run.stack), tools);
  const runtimeImage = cluster.images?.find((i) => i.name.startsWith(`${LOCAL_IMAGE_PREFIX}/gpk-runtime:`))?.ref;
  return { setup, open: () => openStack({ stack: run.stack, stackFile: run.file, kubeconfig: cluster.kubeconfig, runtimeImage, setup, tools, program: async () => deployPlatform().outputs }) };
}

function runningCluster(stack: string): BinariesCluster {
  const cluster = readState(layoutOf(REPO_ROOT, stack));
  if (!cluster) throw new UsageError(`no binaries cluster for stack ${stack}: start one with \`gpk local up --runtime binaries --stack ${stack}\``);
  return cluster;
}

/** The engine's own failure message (a failed preview, a policy violation) without the Automation API's wrapping. */
function engineFailure(err: unknown): string {
  const e = err as { stderr?: string; message?: string };
  return (e.stderr?.trim() || e.message || String(err)).split("\n").filter((l) => l.trim()).slice(-12).join("\n");
}

async function binariesUp(run: BinariesRun, config: KindStackConfig, realNodes: number): Promise<number> {
  const { stack, json } = run;
  let nodes;
  try {
    nodes = planNodes(config, realNodes);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const tools = binariesTools(nodes.real.length > 0);
  const cluster = await upControlPlane({ repoRoot: REPO_ROOT, stack, nodes: nodes.kwok, realNodes: nodes.real, tools, log });
  const { setup, open } = openBinariesStack(run, cluster, tools);
  const pulumiStack = await open();
  log(`pulumi up (${setup.bin}, backend ${setup.backend})`);
  const up = pulumiStack.up({ onOutput: toStderr, color: "never" });
  const kit = config.schedulerExtender.enabled
    ? startKitProcesses(cluster, { repoRoot: REPO_ROOT, stack, policy: config.schedulerExtender.policy, tools, log, abandon: up })
    : Promise.resolve();
  let result;
  try {
    [result] = await Promise.all([up, kit]);
  } catch (err) {
    process.stderr.write(`gpk local: pulumi up failed:\n${engineFailure(err)}\n`);
    return ExitCode.Finding;
  }
  if (json) {
    printJson({
      stack,
      runtime: "binaries",
      kubeconfig: cluster.kubeconfig,
      pulumi: { bin: setup.bin, home: setup.home, backend: setup.backend, workDir: setup.workDir, env: setup.env },
      processes: cluster.processes.map((p) => ({ name: p.name, pid: p.pid, port: p.port })),
      nodes: [
        ...nodes.real.map((n) => ({ name: n.name, runtime: "kubelet" })),
        ...nodes.kwok.map((n) => ({ name: n.metadata.name, runtime: "kwok" })),
      ],
      images: cluster.images ?? [],
      update: result.summary.resourceChanges ?? {},
    });
  } else progress(`cluster up: kubectl --kubeconfig ${cluster.kubeconfig} get nodes`);
  return ExitCode.Ok;
}

/**
 * The images a real node runs are built on this machine under LOCAL_IMAGE_PREFIX, a registry no
 * stack config names: the preview tells the tenancy pack's registry policy to accept them (and
 * still every default registry), through a policy-pack config file, one per pack (the engine
 * ignores a policy a pack does not have). Undefined when the cluster has no local images.
 */
function localImagesPolicyConfig(stack: string, cluster: BinariesCluster, packs: number): string[] | undefined {
  if (packs === 0 || !cluster.images?.length) return undefined;
  const file = path.join(layoutOf(REPO_ROOT, stack).root, "policy-pack-config.json");
  const allowedRegistries = [...POLICY_CONFIG.allowedRegistries.default, `${LOCAL_IMAGE_PREFIX}/`];
  // The level is stated: the engine adds a policy a pack lacks to its config, and refuses an empty level there.
  const config = { [allowedImageRegistries.name]: { enforcementLevel: allowedImageRegistries.enforcementLevel, allowedRegistries } };
  fs.writeFileSync(file, JSON.stringify(config, null, 2));
  return Array.from({ length: packs }, () => file);
}

async function binariesPreview(run: BinariesRun, expectNoChanges: boolean, policyPacks: string[]): Promise<number> {
  const cluster = runningCluster(run.stack);
  const { open } = openBinariesStack(run, cluster, binariesTools());
  const pulumiStack = await open();
  log(`pulumi preview${expectNoChanges ? " --expect-no-changes" : ""}${policyPacks.map((p) => ` --policy-pack ${p}`).join("")}`);
  try {
    const policyPackConfigs = localImagesPolicyConfig(run.stack, cluster, policyPacks.length);
    const result = await pulumiStack.preview({ expectNoChanges, policyPacks: policyPacks.map((p) => path.resolve(p)), policyPackConfigs, onOutput: toStderr, color: "never" });
    if (run.json) printJson({ stack: run.stack, runtime: "binaries", changeSummary: result.changeSummary });
    return ExitCode.Ok;
  } catch (err) {
    process.stderr.write(`gpk local: pulumi preview failed:\n${engineFailure(err)}\n`);
    return ExitCode.Finding;
  }
}

async function binariesDestroy(run: BinariesRun): Promise<number> {
  const cluster = runningCluster(run.stack);
  const { open } = openBinariesStack(run, cluster, binariesTools());
  log("pulumi destroy");
  try {
    const result = await (await open()).destroy({ onOutput: toStderr, color: "never" });
    if (run.json) printJson({ stack: run.stack, runtime: "binaries", update: result.summary.resourceChanges ?? {} });
    return ExitCode.Ok;
  } catch (err) {
    process.stderr.write(`gpk local: pulumi destroy failed:\n${engineFailure(err)}\n`);
    return ExitCode.Finding;
  }
}

async function binariesDown(run: BinariesRun): Promise<number> {
  const { stack, json } = run;
  const layout = layoutOf(REPO_ROOT, stack);
  const cluster = readState(layout);
  if (cluster) {
    try {
      const { open } = openBinariesStack(run, cluster, binariesTools());
      log("pulumi destroy");
      await (await open()).destroy({ onOutput: toStderr, color: "never" });
    } catch (err) {
      // The cluster and its state go regardless: nothing outlives `down`.
      log(`pulumi destroy failed (${engineFailure(err).split("\n")[0]}); stopping the cluster anyway`);
    }
  } else log(`no binaries cluster for ${stack} (${layout.root})`);
  const { portsLeft, leftovers } = await downCluster(REPO_ROOT, stack, log);
  const stopped = [...(cluster?.realNodes ?? []).map((n) => n.name), ...(cluster?.processes.map((p) => p.name) ?? [])];
  if (json) printJson({ stack, runtime: "binaries", stopped, portsLeft, leftovers });
  if (portsLeft.length > 0 || leftovers.length > 0) {
    if (portsLeft.length > 0) process.stderr.write(`gpk local: ports still in use after down: ${portsLeft.join(", ")}\n`);
    if (leftovers.length > 0) process.stderr.write(`gpk local: left behind after down: ${leftovers.join("; ")}\n`);
    return ExitCode.Finding;
  }
  return ExitCode.Ok;
}

/** Whether kind runs a cluster of this name (false when kind itself is missing). */
async function kindClusterExists(name: string): Promise<boolean> {
  const { execa } = await import("execa");
  const result = await execa("kind", ["get", "clusters"], { reject: false, timeout: 20_000 });
  return result.exitCode === 0 && String(result.stdout).split("\n").includes(name);
}

async function chooseRuntime(requested: string, action: Action, stack: string, clusterName: string): Promise<Runtime> {
  if (requested === "kind" || requested === "binaries") return requested;
  if (requested !== "auto") throw new UsageError(`--runtime: expected auto, kind or binaries, got ${JSON.stringify(requested)}`);
  if (action === "up") return (await missingKindTools()).length === 0 ? "kind" : "binaries";
  // Other actions act on the cluster the stack runs on: the binaries one (its state file says so), or kind's.
  if (fs.existsSync(layoutOf(REPO_ROOT, stack).state)) return "binaries";
  if (await kindClusterExists(clusterName)) return "kind";
  // No cluster at all: down still clears what a crashed binaries run may have left; the others have nothing to act on.
  if (action === "down") return "binaries";
  throw new UsageError(`no local cluster for stack ${stack}: start one with \`gpk local up --stack ${stack}\``);
}

const ACTIONS = ["up", "preview", "destroy", "down"] as const;
type Action = (typeof ACTIONS)[number];

export const command: Command = {
  usage,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, {
      stack: { type: "string", default: "local" },
      runtime: { type: "string", default: "auto" },
      "stacks-dir": { type: "string" },
      "expect-no-changes": { type: "boolean", default: false },
      "policy-pack": { type: "string", multiple: true, default: [] },
      "real-nodes": { type: "string", default: "1" },
      json: { type: "boolean", default: false },
    });
    const action = positionals[0] as Action;
    if (positionals.length !== 1 || !ACTIONS.includes(action)) throw new UsageError(`expected one of ${ACTIONS.join(", ")}, e.g. \`gpk local up\``);
    const stack = values.stack!;
    const realNodes = numberFlag("real-nodes", values["real-nodes"], 1, { min: 0, integer: true });
    const file = stackFile(stack, values["stacks-dir"]);
    let config;
    try {
      config = parseConfigMap(readStackConfig(file));
    } catch (err) {
      if (err instanceof ConfigError) throw new UsageError(err.lines.join("; "));
      throw err;
    }
    if (config.target !== "kind") throw new UsageError(`stack ${stack} targets ${config.target}; \`gpk local\` runs kind stacks only`);
    for (const pack of values["policy-pack"]!) {
      checkFolder("--policy-pack", pack);
      if (!fs.existsSync(path.join(pack, "PulumiPolicy.yaml"))) throw new UsageError(`--policy-pack: ${pack} has no PulumiPolicy.yaml`);
    }
    const runtime = await chooseRuntime(values.runtime!, action, stack, config.cluster.name);
    const run: BinariesRun = { stack, file, json: values.json! };
    if (runtime === "kind") {
      if (action === "preview" || action === "destroy") throw new UsageError(`\`gpk local ${action}\` runs on the binaries runtime; on kind, run \`pulumi ${action} --stack ${stack}\``);
      return kindUpOrDown(action, stack, config, values.json!);
    }
    switch (action) {
      case "up":
        return binariesUp(run, config, realNodes);
      case "preview":
        return binariesPreview(run, values["expect-no-changes"]!, values["policy-pack"]!);
      case "destroy":
        return binariesDestroy(run);
      case "down":
        return binariesDown(run);
    }
  },
};
