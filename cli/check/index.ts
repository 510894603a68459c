/**
 * `checkStack`: runs the kit's policy packs over a rendered stack through @pulumi/policy's
 * analyzer server, making the engine's calls in the engine's order: GetAnalyzerInfo,
 * Configure (policy config from the stack's `policy` section over the schema defaults),
 * Remediate then Analyze for each resource, and AnalyzeStack once for the whole stack.
 * The three packs run concurrently, each in its own process (one PolicyPack per process).
 */
import * as path from "node:path";
import type { RenderedResource, RenderedStack } from "../render/types";
import { PackAnalyzer, type AnalyzerResourceInput, type EnforcementLevel } from "./analyzer";
import { buildPolicyConfig, unusedSettings } from "./config";

export const PACKS = ["gpu-capacity", "thermal", "tenancy"] as const;
export type PackName = (typeof PACKS)[number];

export const POLICIES_DIR = path.resolve(__dirname, "../../policies");

export interface Violation {
  pack: string;
  policy: string;
  /** `remediate` marks a violation the pack fixed in the resource's inputs (not a failure). */
  enforcementLevel: EnforcementLevel;
  urn: string;
  message: string;
}

export interface CheckOptions {
  /** Packs to run (default: all three). */
  packs?: readonly string[];
  /** Directory holding the packs (default: the repo's policies/). */
  policiesDir?: string;
  /** Called with notes for the user (unused settings); default: none. */
  warn?: (message: string) => void;
  /** Packs already started with `startPacks` (so their start-up overlaps rendering). */
  started?: StartedPacks;
}

/** Pack processes being started, by pack name. */
export type StartedPacks = Map<string, Promise<PackAnalyzer>>;

/**
 * Starts the packs' analyzer processes now; hand the result to `checkStack` (which closes
 * them) or to `closePacks`. Starting them before rendering hides their start-up time.
 */
export function startPacks(packs: readonly string[] = PACKS, policiesDir = POLICIES_DIR): StartedPacks {
  const started: StartedPacks = new Map();
  for (const name of packs) {
    const p = PackAnalyzer.start(path.join(policiesDir, name));
    p.catch(() => undefined); // Reported when awaited; never an unhandled rejection.
    started.set(name, p);
  }
  return started;
}

export async function closePacks(started: StartedPacks): Promise<void> {
  await Promise.all([...started.values()].map((p) => p.then((a) => a.close(), () => undefined)));
}

/** The stack config's `policy` section: thresholds by name, or per-policy overrides keyed by policy name. */
export function stackPolicySettings(config: unknown): Record<string, unknown> {
  const section = (config as { policy?: unknown } | undefined)?.policy;
  return section && typeof section === "object" ? (section as Record<string, unknown>) : {};
}

function asInput(r: RenderedResource, properties = r.inputs): AnalyzerResourceInput {
  return { urn: r.urn, type: r.type, name: r.name, properties, parent: r.parent };
}

/** The diagnostics' message without the policy description the server prepends. */
function messageOf(description: string, message: string): string {
  return message.startsWith(`${description}\n`) ? message.slice(description.length + 1) : message;
}

/** Leaf paths where two JSON values differ, e.g. `spec.template.spec.tolerations[1]`. */
export function changedPaths(before: unknown, after: unknown, prefix = ""): string[] {
  if (JSON.stringify(before) === JSON.stringify(after)) return [];
  const isObj = (v: unknown) => v !== null && typeof v === "object";
  if (!isObj(before) || !isObj(after) || Array.isArray(before) !== Array.isArray(after)) return [prefix || "(root)"];
  const a = before as Record<string, unknown>;
  const b = after as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
  return keys.flatMap((k) => {
    const p = Array.isArray(after) ? `${prefix}[${k}]` : prefix ? `${prefix}.${k}` : k;
    return changedPaths(a[k], b[k], p);
  });
}

interface PackRun {
  violations: Violation[];
  settingsUsed: Set<string>;
}

async function runPack(starting: Promise<PackAnalyzer>, rendered: RenderedStack, settings: Record<string, unknown>): Promise<PackRun> {
  const analyzer = await starting;
  try {
    const info = await analyzer.getAnalyzerInfo();
    const { config, used } = buildPolicyConfig(info.name, info.policies, settings);
    await analyzer.configure(config);
    const pack = info.name;
    const remediating = Object.values(config).some((c) => c.enforcementLevel === "remediate");
    const violations: Violation[] = [];

    // Per resource, as the engine does on registration: remediations first, then Analyze on the result.
    const custom = rendered.resources.filter((r) => r.custom && !r.type.startsWith("pulumi:"));
    const finalProps = new Map<string, Record<string, unknown>>();
    await Promise.all(
      custom.map(async (r) => {
        let props = r.inputs;
        if (remediating) {
          for (const rem of await analyzer.remediate(asInput(r))) {
            if (rem.properties) {
              const changed = changedPaths(props, rem.properties);
              props = rem.properties;
              violations.push({
                pack, policy: rem.policyName, enforcementLevel: "remediate", urn: r.urn,
                message: `Remediated: changed ${changed.join(", ")}. ${rem.description}`,
              });
            } else if (rem.diagnostic) {
              violations.push({ pack, policy: rem.policyName, enforcementLevel: "advisory", urn: r.urn, message: rem.diagnostic });
            }
          }
        }
        finalProps.set(r.urn, props);
        for (const d of await analyzer.analyze(asInput(r, props))) {
          violations.push({ pack, policy: d.policyName, enforcementLevel: d.enforcementLevel, urn: d.urn, message: messageOf(d.description, d.message) });
        }
      }),
    );

    const stackResources = rendered.resources.map((r) => asInput(r, finalProps.get(r.urn) ?? r.inputs));
    for (const d of await analyzer.analyzeStack(stackResources)) {
      violations.push({ pack, policy: d.policyName, enforcementLevel: d.enforcementLevel, urn: d.urn, message: messageOf(d.description, d.message) });
    }
    return { violations, settingsUsed: used };
  } finally {
    analyzer.close();
  }
}

const LEVEL_ORDER: Record<EnforcementLevel, number> = { mandatory: 0, advisory: 1, remediate: 2, disabled: 3 };

/** Runs the packs over the rendered stack; violations sorted by pack, policy, level and URN. */
export async function checkStack(rendered: RenderedStack, opts: CheckOptions = {}): Promise<Violation[]> {
  const settings = stackPolicySettings(rendered.config);
  const packs = opts.packs ?? PACKS;
  const started = opts.started ?? startPacks(packs, opts.policiesDir);
  let runs: PackRun[];
  try {
    runs = await Promise.all(packs.map((name) => runPack(started.get(name) ?? Promise.reject(new Error(`pack ${name} was not started`)), rendered, settings)));
  } finally {
    await closePacks(started);
  }
  if (opts.warn && packs.length === PACKS.length) {
    for (const key of unusedSettings(settings, runs.map((r) => r.settingsUsed))) {
      opts.warn(`policy.${key} is not a setting of any policy pack; it was ignored`);
    }
  }
  return runs
    .flatMap((r) => r.violations)
    .sort(
      (a, b) =>
        a.pack.localeCompare(b.pack) ||
        a.policy.localeCompare(b.policy) ||
        LEVEL_ORDER[a.enforcementLevel] - LEVEL_ORDER[b.enforcementLevel] ||
        a.urn.localeCompare(b.urn) ||
        a.message.localeCompare(b.message),
    );
}

export function hasMandatory(violations: Violation[]): boolean {
  return violations.some((v) => v.enforcementLevel === "mandatory");
}
