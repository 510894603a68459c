/**
 * `gpk local up|down [--stack local]`: a kind cluster whose workers carry the stack's
 * simulated GPU pools, plus `pulumi up` of that stack through the Automation API with a
 * file backend in .gpk/state. Needs Docker, kind and the Pulumi CLI, and says which is missing.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { stringify } from "yaml";
import { ConfigError, gpkKeys, parseStackConfig } from "../../stacks/load-config";
import { ExitCode, UsageError, parseFlags, printJson, progress, type Command } from "../contract";
import { kindClusterConfig } from "../local/kind-config";
import { REQUIRED_TOOLS, kindCreateStep, kindDeleteStep, localBackend, pulumiEnv, type Step } from "../local/plan";
import { REPO_ROOT, readStackConfig, stackFile } from "../render/stack-files";

const usage = `Usage: gpk local up|down [--stack local] [--json]

up    creates the kind cluster for a kind stack (control plane + one worker per simulated
      GPU node, labelled and tainted like the pool) and runs \`pulumi up\` for the stack
      through the Automation API, with its state in .gpk/state (a local file backend)
down  destroys the stack's resources and deletes the kind cluster

Needs docker (running), kind and the pulumi CLI on PATH; exits 2 naming what is missing.
Secrets of the local stack use PULUMI_CONFIG_PASSPHRASE (empty when unset).`;

async function missingTools(): Promise<string[]> {
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

export const command: Command = {
  usage,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, { stack: { type: "string", default: "local" }, json: { type: "boolean", default: false } });
    const action = positionals[0];
    if (positionals.length !== 1 || (action !== "up" && action !== "down")) throw new UsageError("expected `up` or `down`, e.g. `gpk local up`");
    const stack = values.stack!;
    let config;
    try {
      config = parseStackConfig(gpkKeys(readStackConfig(stackFile(stack))));
    } catch (err) {
      if (err instanceof ConfigError) throw new UsageError(err.lines.join("; "));
      throw err;
    }
    if (config.target !== "kind") throw new UsageError(`stack ${stack} targets ${config.target}; \`gpk local\` runs kind stacks only`);
    const problems = await missingTools();
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
      if (values.json) printJson({ stack, action, cluster: clusterName, kindConfig: kindFile, result: result.summary.result, outputs: result.outputs });
      return ExitCode.Ok;
    }
    await (await open()).destroy({ onOutput });
    await runStep(kindDeleteStep(clusterName));
    if (values.json) printJson({ stack, action, cluster: clusterName });
    return ExitCode.Ok;
  },
};
