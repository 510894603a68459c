/**
 * `pulumi up|preview|destroy` of a stack on the binaries runtime: the real Pulumi CLI and
 * engine (built by `npm run tools`), the Kubernetes provider built from its Go module, and
 * the stack's program run in this process through the Automation API's inline-program
 * language server (@pulumi/pulumi automation/server.ts). The Go module proxy serves no
 * `pulumi-language-nodejs` module to build, so the workspace names the kit's own plugins
 * (tools/): the language host, for the CLI run by hand and for policy packs, and the
 * dynamic-resource provider. State lives in a file backend in the cluster's folder; the
 * workspace holds a Pulumi.yaml and the stack's config with two overrides: the local
 * kubeconfig, and the KubeRay CRDs without the operator chart (no Helm repository is
 * reachable from here); with real nodes, also the locally built runtime image.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse, stringify } from "yaml";
import type { automation } from "@pulumi/pulumi";
import { KIT_TOOLS_DIR, type ResolvedTools } from "../../tools/resolve";
import { REPO_ROOT } from "../../render/stack-files";
import type { Layout } from "./plan";

/** The project name the kit's Pulumi.yaml declares: URNs match those of a `pulumi up` from the repository. */
import { PROJECT_NAME } from "../../../stacks/config";

export { PROJECT_NAME };

export interface PulumiSetup {
  bin: string;
  home: string;
  backend: string;
  workDir: string;
  env: Record<string, string>;
}

export function pulumiSetup(layout: Layout, tools: ResolvedTools, env: NodeJS.ProcessEnv = process.env): PulumiSetup {
  const backend = `file://${path.join(layout.root, "state")}`;
  const vars: Record<string, string> = {
    PULUMI_HOME: layout.pulumiHome,
    PULUMI_BACKEND_URL: backend,
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    PATH: [path.dirname(tools.bin.pulumi!), env.PATH ?? ""].join(path.delimiter),
  };
  if (env.PULUMI_CONFIG_PASSPHRASE === undefined && env.PULUMI_CONFIG_PASSPHRASE_FILE === undefined) vars.PULUMI_CONFIG_PASSPHRASE = "";
  return { bin: tools.bin.pulumi!, home: layout.pulumiHome, backend, workDir: layout.workspace, env: vars };
}

/**
 * The stack's config as the workspace sees it: the repository's `stacks/Pulumi.<stack>.yaml`
 * with `gpk:cluster.kubeconfig` pointing at the local control plane, `gpk:ray.operator` set to
 * `crds-only` and `gpk:telemetry.servingMetrics.source` to `external` (no chart is fetched).
 */
export function binariesStackConfig(stackFileText: string, kubeconfig: string, runtimeImage?: string): Record<string, unknown> {
  const doc = (parse(stackFileText) ?? {}) as { config?: Record<string, unknown> };
  const config = { ...(doc.config ?? {}) };
  // Real nodes pull nothing: the runtime bundles come baked into the locally built image.
  if (runtimeImage) config["gpk:runtime"] = { ...((config["gpk:runtime"] as object | undefined) ?? {}), image: runtimeImage };
  config["gpk:cluster"] = { ...((config["gpk:cluster"] as object | undefined) ?? {}), kubeconfig };
  if (config["gpk:ray"] !== undefined) config["gpk:ray"] = { ...(config["gpk:ray"] as object), operator: "crds-only" };
  // No chart can be fetched here either: the serving autoscaler's metrics adapter is left out.
  const telemetry = (config["gpk:telemetry"] as { servingMetrics?: object } | undefined) ?? {};
  config["gpk:telemetry"] = { ...telemetry, servingMetrics: { ...(telemetry.servingMetrics ?? {}), source: "external" } };
  return config;
}

/**
 * Writes the workspace (Pulumi.yaml naming the provider binary and the kit's language host as
 * project plugins, so the engine uses exactly those, and Pulumi.<stack>.yaml) and opens the stack.
 */
export async function openStack(opts: { stack: string; stackFile: string; kubeconfig: string; runtimeImage?: string; setup: PulumiSetup; tools: ResolvedTools; program: automation.PulumiFn }): Promise<automation.Stack> {
  const { automation } = await import("@pulumi/pulumi");
  const { setup } = opts;
  fs.mkdirSync(setup.workDir, { recursive: true });
  fs.mkdirSync(setup.home, { recursive: true });
  fs.mkdirSync(new URL(setup.backend).pathname, { recursive: true });
  const project = {
    name: PROJECT_NAME,
    runtime: "nodejs",
    description: "gpu-platform-kit on the binaries runtime (written by gpk local up)",
    // The kit's program, so `pulumi preview|up` from this folder runs it too.
    main: path.relative(setup.workDir, path.join(REPO_ROOT, "stacks", "index.ts")),
    plugins: {
      // No version: the engine takes this binary whatever version the SDK asks for (see docs/real-engines.md).
      providers: [
        { name: "kubernetes", path: path.dirname(opts.tools.bin["pulumi-resource-kubernetes"]!) },
        // Dynamic resources (the kit's certificates, components/kit-pki.ts): tools/pulumi-resource-pulumi-nodejs.
        { name: "pulumi-nodejs", path: KIT_TOOLS_DIR },
      ],
      // The kit's Node.js language host (tools/pulumi-language-nodejs): programs and policy packs.
      languages: [{ name: "nodejs", path: KIT_TOOLS_DIR }],
    },
  };
  fs.writeFileSync(path.join(setup.workDir, "Pulumi.yaml"), stringify(project));
  const config = binariesStackConfig(fs.readFileSync(opts.stackFile, "utf8"), opts.kubeconfig, opts.runtimeImage);
  fs.writeFileSync(path.join(setup.workDir, `Pulumi.${opts.stack}.yaml`), stringify({ config }));
  const pulumiCommand = await automation.PulumiCommand.get({ root: path.dirname(path.dirname(setup.bin)) });
  return automation.LocalWorkspace.createOrSelectStack(
    { stackName: opts.stack, projectName: PROJECT_NAME, program: opts.program },
    { workDir: setup.workDir, pulumiHome: setup.home, envVars: setup.env, pulumiCommand },
  );
}
