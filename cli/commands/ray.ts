/**
 * `gpk ray start-args <stack> [--json]`: the `ray start` arguments and environment KubeRay's
 * operator gives the head and each worker group of the stack's RayCluster, derived from the
 * rendered object by components/kuberay-start.ts (KubeRay v1.7.0's own rules), for debugging
 * a cluster without one.
 */
import { kuberayProblems, kuberayStart, type EnvValue, type RayClusterObject, type RayStart } from "../../components/kuberay-start";
import { K8S_TYPES } from "../../policies/lib/k8s";
import { ConfigError } from "../../stacks/load-config";
import { ExitCode, UsageError, parseFlags, printJson, progress, type Command } from "../contract";
import { helpShape } from "../json-shapes";
import { renderStack } from "../render";
import { stackFile } from "../render/stack-files";

const usage = `Usage: gpk ray start-args <stack> [--json] [--stacks-dir <dir>]

Renders stacks/Pulumi.<stack>.yaml under Pulumi's mock runtime and prints what KubeRay
v1.7.0's operator would run in each Ray container of the stack's RayCluster: the arguments
after \`ray start\` (after the shell's quote removal; \`$NAME\` is expanded from the env by
the container's shell) and the environment it sets, with addresses and ports as KubeRay sets
them in-cluster. Env values from Secrets or the pod are shown as their \`valueFrom\`.

  --json              print ${helpShape("ray", "start-args", 22)}
  --stacks-dir <dir>  folder with the Pulumi.<stack>.yaml files (default: the kit's stacks/)

Exit: 0 printed, 1 KubeRay's validation would refuse the cluster (each problem on stderr),
2 unknown stack, bad config, or a stack without a RayCluster.`;

function formatEnv(value: EnvValue): string {
  if (typeof value === "string") return value;
  if ("setByKubeRay" in value) return `(set by KubeRay: ${value.setByKubeRay})`;
  const from = value.valueFrom;
  if (from.secretKeyRef) return `(from Secret ${from.secretKeyRef.name}, key ${from.secretKeyRef.key})`;
  if (from.fieldRef) return `(from the pod's ${from.fieldRef.fieldPath})`;
  return `(from ${JSON.stringify(from)})`;
}

/** An argument as a shell would need it typed: single-quoted unless plain (`$NAME` stays expandable). */
function shellQuote(arg: string): string {
  return /^[-A-Za-z0-9_=.,:/@+%$]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

function formatStart(title: string, start: RayStart): string {
  const lines = [`${title}`, `  ray start ${start.args.map(shellQuote).join(" ")}`];
  for (const [name, value] of Object.entries(start.env)) lines.push(`  ${name}=${formatEnv(value)}`);
  return lines.join("\n");
}

export const command: Command = {
  usage,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, { json: { type: "boolean", default: false }, "stacks-dir": { type: "string" } });
    if (positionals[0] !== "start-args") throw new UsageError("expected `gpk ray start-args <stack>`");
    if (positionals.length !== 2) throw new UsageError("expected exactly one stack name, e.g. `gpk ray start-args local`");
    const stack = positionals[1]!;
    stackFile(stack, values["stacks-dir"]);
    progress(`Rendering stack ${stack} under Pulumi's mock runtime...`);
    let clusters: RayClusterObject[];
    try {
      const rendered = await renderStack(stack, { stacksDir: values["stacks-dir"] });
      clusters = rendered.resources.filter((r) => r.type === K8S_TYPES.rayCluster).map((r) => r.inputs as unknown as RayClusterObject);
    } catch (err) {
      if (err instanceof ConfigError) {
        for (const line of err.lines) process.stderr.write(`gpk ray: ${line}\n`);
        return ExitCode.Usage;
      }
      throw err;
    }
    if (clusters.length !== 1) {
      throw new UsageError(clusters.length === 0 ? `stack ${stack} renders no RayCluster (set gpk:ray)` : `stack ${stack} renders ${clusters.length} RayClusters; expected one`);
    }
    const cluster = clusters[0]!;
    const problems = kuberayProblems(cluster);
    for (const p of problems) process.stderr.write(`gpk ray: ${p.path}: ${p.message}\n`);
    const started = kuberayStart(cluster);
    if (values.json) {
      printJson({
        stack,
        rayVersion: started.rayVersion,
        clusterName: started.clusterName,
        namespace: started.namespace,
        head: started.head,
        workerGroups: started.workerGroups,
      });
    } else {
      const blocks = [
        formatStart(`RayCluster ${started.namespace}/${started.clusterName} (Ray ${started.rayVersion}), head:`, started.head),
        ...started.workerGroups.map((g) => formatStart(`worker group ${g.groupName} (${g.minReplicas}–${g.maxReplicas} replicas):`, g)),
      ];
      process.stdout.write(`${blocks.join("\n\n")}\n`);
    }
    return problems.length > 0 ? ExitCode.Finding : ExitCode.Ok;
  },
};
