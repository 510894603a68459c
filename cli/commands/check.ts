/**
 * `gpk check <stack> [--json]`: renders the stack under Pulumi's mock runtime and runs the
 * policy packs over it through @pulumi/policy's analyzer server, the same gRPC path the
 * Pulumi engine uses for `pulumi preview --policy-pack`.
 */
import { ConfigError } from "../../stacks/load-config";
import { PACKS, checkStack, closePacks, hasMandatory, startPacks } from "../check";
import { formatViolations } from "../check/format";
import { ExitCode, UsageError, parseFlags, printJson, progress, type Command } from "../contract";
import { helpShape } from "../json-shapes";
import { renderStack, type RenderedStack } from "../render";
import { stackFile } from "../render/stack-files";

const usage = `Usage: gpk check <stack> [--json] [--pack <name>]... [--stacks-dir <dir>]

Renders stacks/Pulumi.<stack>.yaml under Pulumi's mock runtime and runs the policy packs
(${PACKS.join(", ")}) over it through @pulumi/policy's analyzer gRPC server, as
\`pulumi preview --policy-pack policies/<pack>\` does. Thresholds come from the stack's
\`gpk:policy\` config (headroomPercent, maxGpuTempC, thermalAwareAboveGpus, ...).

  --json              print ${helpShape("check", "check", 22)}
  --pack <name>       run only this pack (repeatable)
  --stacks-dir <dir>  folder with the Pulumi.<stack>.yaml files (default: the kit's stacks/)

Exit: 0 no mandatory violation, 1 a mandatory violation, 2 bad stack name or config.`;

export const command: Command = {
  usage,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, {
      json: { type: "boolean", default: false },
      pack: { type: "string", multiple: true },
      "stacks-dir": { type: "string" },
    });
    if (positionals.length !== 1) throw new UsageError("expected exactly one stack name, e.g. `gpk check prod`");
    const packs = values.pack ?? [...PACKS];
    for (const p of packs) {
      if (!(PACKS as readonly string[]).includes(p)) throw new UsageError(`--pack: unknown pack ${JSON.stringify(p)}; packs: ${PACKS.join(", ")}`);
    }
    const stack = positionals[0]!;
    stackFile(stack, values["stacks-dir"]); // an unknown stack is bad usage: say so before starting the packs
    const started = process.hrtime.bigint();
    progress(`Rendering stack ${stack} under Pulumi's mock runtime...`);
    // The packs' processes start while the stack renders.
    const analyzers = startPacks(packs);
    let rendered: RenderedStack;
    try {
      rendered = await renderStack(stack, { stacksDir: values["stacks-dir"] });
    } catch (err) {
      await closePacks(analyzers);
      if (err instanceof ConfigError) {
        for (const line of err.lines) process.stderr.write(`gpk check: ${line}\n`);
        return ExitCode.Usage;
      }
      throw err;
    }
    progress(`Running ${packs.join(", ")} over ${rendered.resources.length} resources through the analyzer...`);
    const violations = await checkStack(rendered, { packs, started: analyzers, warn: (m) => progress(`warning: ${m}`) });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    progress(`Checked in ${seconds.toFixed(1)} s.`);
    if (values.json) printJson({ stack, violations });
    else process.stdout.write(`${formatViolations(stack, violations, packs)}\n`);
    return hasMandatory(violations) ? ExitCode.Finding : ExitCode.Ok;
  },
};
