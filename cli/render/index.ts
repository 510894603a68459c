/**
 * Renders a stack: runs the real program (stacks/program.ts) under Pulumi's mock runtime and
 * records every resource the program registers — type, name, parent and inputs — and, for
 * components, the outputs they register. Used by `gpk preview` and `gpk check`.
 *
 * Pulumi's runtime is process-global: render one stack per process.
 */
import * as pulumi from "@pulumi/pulumi";
import { deserializeProperties, specialSecretSig, specialSigKey } from "@pulumi/pulumi/runtime/rpc";
import { loadStackConfig } from "../../stacks/load-config";
import { deployPlatform } from "../../stacks/program";
import { renderMocks } from "./mocks";
import { DEFAULT_STACKS_DIR, readStackConfig, stackFile } from "./stack-files";
import type { RenderedResource, RenderedStack } from "./types";

export type { RenderedResource, RenderedStack, SchemaError } from "./types";
export { listStacks } from "./stack-files";

import { PROJECT_NAME } from "../../stacks/config";

export { PROJECT_NAME };

export interface RenderOptions {
  /** Folder holding `Pulumi.<stack>.yaml` files. Default: the repo's stacks/. */
  stacksDir?: string;
}

let rendered = false;

/** What a secret input renders as, as `pulumi preview` prints it. */
export const SECRET_PLACEHOLDER = "[secret]";

/**
 * A resource's inputs as a reader wants them: every value under a secret (the kit's private
 * keys; a Kubernetes Secret's whole `data`/`stringData`) as `[secret]`, its keys kept so the
 * shape still shows and validates, and a dynamic resource's serialised provider (JavaScript
 * the engine stores, not an input anyone sets; its text depends on the TypeScript compiler) as a mark.
 */
export function presentableInputs(type: string, inputs: Record<string, unknown>): Record<string, unknown> {
  const hide = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(hide);
    if (value !== null && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, hide(v)]));
    return SECRET_PLACEHOLDER;
  };
  const redact = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(redact);
    if (value === null || typeof value !== "object") return value;
    const record = value as Record<string, unknown>;
    if (record[specialSigKey] === specialSecretSig) return hide(redact(record.value));
    return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, redact(v)]));
  };
  const out = redact(inputs) as Record<string, unknown>;
  if (type.startsWith("pulumi-nodejs:dynamic") && typeof out.__provider === "string") out.__provider = "[serialized provider]";
  return out;
}

export async function renderStack(stack: string, options: RenderOptions = {}): Promise<RenderedStack> {
  if (rendered) throw new Error("renderStack: Pulumi's runtime is process-global; render one stack per process");
  rendered = true;
  const file = stackFile(stack, options.stacksDir ?? DEFAULT_STACKS_DIR);
  pulumi.runtime.setAllConfig(readStackConfig(file));
  // Validate before the program runs: a ConfigError thrown inside the stack would also
  // surface as Pulumi's unhandled resource error, stack trace and all.
  const config = loadStackConfig();
  await pulumi.runtime.setMocks(renderMocks, PROJECT_NAME, stack, false);

  // Wrap the mock monitor to see what the engine would: parents and component outputs.
  const monitor = pulumi.runtime.getMonitor() as any;
  const byUrn = new Map<string, RenderedResource>();
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req: any, callback: (err: unknown, resp?: any) => void) => {
    register(req, (err: unknown, resp?: any) => {
      if (!err && resp) {
        byUrn.set(resp.getUrn(), {
          urn: resp.getUrn(),
          type: req.getType(),
          name: req.getName(),
          ...(req.getParent() ? { parent: req.getParent() } : {}),
          custom: req.getCustom(),
          inputs: presentableInputs(req.getType(), deserializeProperties(req.getObject())),
        });
      }
      callback(err, resp);
    });
  };
  const registerOutputs = monitor.registerResourceOutputs.bind(monitor);
  monitor.registerResourceOutputs = (req: any, callback: (err: unknown, resp?: any) => void) => {
    const resource = byUrn.get(req.getUrn());
    if (resource && !resource.custom && req.getOutputs()) resource.inputs = deserializeProperties(req.getOutputs());
    registerOutputs(req, callback);
  };

  const outputs = await pulumi.runtime.runInPulumiStack(async () => deployPlatform().outputs);
  await pulumi.runtime.disconnect();
  return { stack, config, resources: [...byUrn.values()], outputs: (outputs ?? {}) as Record<string, unknown> };
}
