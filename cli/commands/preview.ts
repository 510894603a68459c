/**
 * `gpk preview <stack> [--json]`: renders the stack's real program under Pulumi's mock
 * runtime, validates every Kubernetes object against upstream schemas (and CRDs), evaluates
 * the policy packs, and prints the resource tree. No Pulumi CLI, cloud or cluster needed.
 */
import { ConfigError } from "../../stacks/load-config";
import { PACKS, checkStack, closePacks, hasMandatory, startPacks, type Violation } from "../check";
import { formatViolations } from "../check/format";
import { ExitCode, UsageError, parseFlags, printJson, progress, type Command } from "../contract";
import { helpShape } from "../json-shapes";
import { renderStack, type RenderedResource, type RenderedStack } from "../render";
import { validateResources, type ValidationReport } from "../render/validate";
import { stackFile } from "../render/stack-files";
import { formatTree } from "../render/tree";

const usage = `Usage: gpk preview <stack> [--json] [--no-policies] [--stacks-dir <dir>]

Renders stacks/Pulumi.<stack>.yaml with the kit's Pulumi program under Pulumi's mock
runtime (no CLI, cloud or cluster), validates every Kubernetes object against the upstream
schemas and the KubeRay CRDs, runs the policy packs over it (as \`gpk check\` does), and
prints the resource tree.

  --json              print ${helpShape("preview", "preview", 22)}
  --no-policies       skip the policy packs (faster; \`gpk check\` runs them alone)
  --stacks-dir <dir>  folder with the Pulumi.<stack>.yaml files (default: the kit's stacks/)

Exit: 0 clean, 1 schema errors or mandatory policy violations, 2 bad stack name or config.`;

export interface PreviewDocument {
  stack: string;
  resources: { urn: string; type: string; name: string; parent: string | null; inputs: Record<string, unknown> }[];
  schemaErrors: ValidationReport["schemaErrors"];
  unvalidatedKinds: string[];
  violations: Violation[];
}

export function previewDocument(rendered: RenderedStack, report: ValidationReport, violations: Violation[]): PreviewDocument {
  return {
    stack: rendered.stack,
    resources: rendered.resources.map((r: RenderedResource) => ({ urn: r.urn, type: r.type, name: r.name, parent: r.parent ?? null, inputs: r.inputs })),
    schemaErrors: report.schemaErrors,
    unvalidatedKinds: report.unvalidatedKinds,
    violations,
  };
}

export const command: Command = {
  usage,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, {
      json: { type: "boolean", default: false },
      "no-policies": { type: "boolean", default: false },
      "stacks-dir": { type: "string" },
    });
    if (positionals.length !== 1) throw new UsageError("expected exactly one stack name, e.g. `gpk preview local`");
    const stack = positionals[0]!;
    stackFile(stack, values["stacks-dir"]); // an unknown stack is bad usage: say so before any work
    const started = process.hrtime.bigint();
    progress(`Rendering stack ${stack} under Pulumi's mock runtime...`);
    // The policy packs' processes start while the stack renders.
    const analyzers = values["no-policies"] ? undefined : startPacks();
    let rendered: RenderedStack;
    try {
      rendered = await renderStack(stack, { stacksDir: values["stacks-dir"] });
    } catch (err) {
      if (analyzers) await closePacks(analyzers);
      if (err instanceof ConfigError) {
        for (const line of err.lines) process.stderr.write(`gpk preview: ${line}\n`);
        return ExitCode.Usage;
      }
      throw err;
    }
    const report = validateResources(rendered.resources);
    const violations = analyzers ? await checkStack(rendered, { started: analyzers, warn: (m) => progress(`warning: ${m}`) }) : [];
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const policyNote = analyzers ? `, ran ${PACKS.length} policy packs` : "";
    progress(`Rendered ${rendered.resources.length} resources, validated ${report.validatedObjects} Kubernetes objects${policyNote} in ${seconds.toFixed(1)} s.`);
    if (values.json) {
      printJson(previewDocument(rendered, report, violations));
    } else {
      process.stdout.write(`${formatTree(rendered.resources)}\n`);
      for (const e of report.schemaErrors) process.stdout.write(`schema error: ${e.urn}: ${e.path}: ${e.message}\n`);
      if (report.unvalidatedKinds.length) process.stdout.write(`not schema-validated (no schema known): ${report.unvalidatedKinds.join(", ")}\n`);
      process.stdout.write(`${report.schemaErrors.length} schema errors in ${report.validatedObjects} Kubernetes objects.\n`);
      if (analyzers) process.stdout.write(`${formatViolations(stack, violations, PACKS)}\n`);
    }
    return report.schemaErrors.length > 0 || hasMandatory(violations) ? ExitCode.Finding : ExitCode.Ok;
  },
};
