/**
 * Reads the `gpk:*` keys from Pulumi config (the same keys under `pulumi up` and under
 * `gpk preview`'s mock runtime) and validates them into a `StackConfig`.
 */
import * as pulumi from "@pulumi/pulumi";
import type { z } from "zod";
import { closest, editDistance } from "../runtime/flags";
import { CONFIG_NAMESPACE, PROJECT_NAME, stackConfigSchema, stackConfigShape, type StackConfig } from "./config";

/**
 * Bad stack config. A `pulumi.RunError`, so `pulumi up` prints the message without a
 * stack trace; `gpk preview` prints `lines` and exits 2.
 */
export class ConfigError extends pulumi.RunError {
  constructor(readonly lines: string[]) {
    super(`invalid stack config:\n${lines.join("\n")}`);
    this.name = "ConfigError";
  }
}

/** `nodePools[1].gpusPerNode` from a zod path. */
function keyPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((acc, part) => (typeof part === "number" ? `${acc}[${part}]` : acc ? `${acc}.${String(part)}` : String(part)), "");
}

function describeInput(input: unknown): string {
  if (input === undefined) return "nothing";
  const text = JSON.stringify(input);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** `gpk:nodePools[0].gpusPerNode` of a path, as messages name a key. */
const fullKey = (path: readonly PropertyKey[]) => `${CONFIG_NAMESPACE}:${keyPath(path) || "<root>"}`;

/** One line per problem: `gpk:<key path>: expected ..., got ...`. */
export function formatConfigIssues(issues: readonly z.core.$ZodIssue[], raw?: unknown): string[] {
  return issues.map((issue) => {
    const at = fullKey(issue.path);
    if (issue.code === "unrecognized_keys") {
      const known = raw === undefined ? [] : keysAt(stackConfigShape, issue.path, raw);
      const hint = known.length ? `; keys here: ${known.join(", ")}` : "";
      return issue.keys.map((key) => `unknown key \`${fullKey([...issue.path, key])}\`${hint}`).join("\n");
    }
    let input = (issue as { input?: unknown }).input;
    // A discriminated union reports the whole object; show the discriminator's value instead.
    const discriminator = (issue as { discriminator?: string }).discriminator;
    if (discriminator && input && typeof input === "object") input = (input as Record<string, unknown>)[discriminator];
    const showsInput = issue.message.startsWith("expected") && !issue.message.includes(", got ") && (input === undefined || typeof input !== "object" || input === null);
    return showsInput ? `${at}: ${issue.message}, got ${describeInput(input)}` : `${at}: ${issue.message}`;
  }).flatMap((line) => line.split("\n"));
}

/** zod's definition of a schema, as far as walking it needs. */
interface Def {
  type: string;
  shape?: Record<string, { _zod: { def: Def } }>;
  element?: { _zod: { def: Def } };
  innerType?: { _zod: { def: Def } };
  in?: { _zod: { def: Def } };
  options?: { _zod: { def: Def } }[];
  discriminator?: string;
  valueType?: { _zod: { def: Def } };
}

/**
 * The keys the schema knows for the object at `path` of `raw`: a union's option is picked by
 * its discriminator's value where the value names one (else every option's keys count).
 */
function keysAt(schema: unknown, path: readonly PropertyKey[], raw: unknown): string[] {
  const walk = (def: Def, rest: readonly PropertyKey[], value: unknown): Def[] => {
    switch (def.type) {
      case "optional": case "default": case "prefault": case "nullable": case "readonly": case "nonoptional": case "catch":
        return walk(def.innerType!._zod.def, rest, value);
      case "pipe":
        return walk(def.in!._zod.def, rest, value);
      case "union": {
        const options = def.options!.map((o) => o._zod.def);
        const tag = def.discriminator && value && typeof value === "object" ? (value as Record<string, unknown>)[def.discriminator] : undefined;
        const chosen = options.filter((o) => o.shape?.[def.discriminator ?? ""]?._zod.def && (o.shape[def.discriminator!]!._zod.def as { values?: unknown[] }).values?.includes(tag));
        return (chosen.length ? chosen : options).flatMap((o) => walk(o, rest, value));
      }
    }
    if (rest.length === 0) return [def];
    const [head, ...tail] = rest;
    const child = (value as Record<PropertyKey, unknown> | undefined)?.[head as PropertyKey];
    if (def.type === "object" && typeof head === "string" && def.shape?.[head]) return walk(def.shape[head]._zod.def, tail, child);
    if (def.type === "array" && typeof head === "number") return walk(def.element!._zod.def, tail, child);
    if (def.type === "record" && def.valueType) return walk(def.valueType._zod.def, tail, child);
    return [];
  };
  const defs = walk((schema as { _zod: { def: Def } })._zod.def, path, raw);
  return [...new Set(defs.flatMap((d) => (d.type === "object" && d.shape ? Object.keys(d.shape) : [])))];
}

function clone(value: unknown): unknown {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}

/**
 * Misspelt keys the schema can name, moved to the key meant, so the rest of the config is
 * checked as the author intended: a typo is one mistake, not also a "missing" key or a rule
 * that fails for want of it. Returns the corrected copy and one line per misspelling.
 */
function correctMisspellings(raw: Record<string, unknown>): { corrected: Record<string, unknown>; lines: string[] } {
  const corrected = clone(raw) as Record<string, unknown>;
  const lines: string[] = [];
  const seen = new Set<string>();
  for (let round = 0; round < 20; round++) {
    const result = stackConfigShape.safeParse(corrected, { reportInput: true });
    if (result.success) break;
    let moved = false;
    for (const issue of result.error.issues) {
      if (issue.code !== "unrecognized_keys") continue;
      const holder = issue.path.reduce<unknown>((v, p) => (v as Record<PropertyKey, unknown>)?.[p], corrected) as Record<string, unknown>;
      const known = keysAt(stackConfigShape, issue.path, corrected);
      for (const key of issue.keys) {
        const id = fullKey([...issue.path, key]);
        if (seen.has(id)) continue;
        const meant = closest(key, known);
        if (!meant) continue;
        seen.add(id);
        lines.push(`unknown key \`${id}\`; did you mean \`${fullKey([...issue.path, meant])}\`?`);
        // Checked as if spelt right, unless the right key is there too (then the typo is only dropped).
        if (!(meant in holder)) holder[meant] = holder[key];
        delete holder[key];
        moved = true;
      }
    }
    if (!moved) break;
  }
  return { corrected, lines };
}

/**
 * Validates the `gpk:*` values (namespace stripped) and applies every default. Problems come
 * in two rounds: the keys and values on their own first, then the rules that span keys, which
 * run only once the first round is clean (their findings would otherwise follow from its
 * mistakes). A misspelt key is reported with the key meant, and the rest checked as if spelt so.
 */
export function parseStackConfig(raw: Record<string, unknown>, misspelt: string[] = []): StackConfig {
  const { corrected, lines } = correctMisspellings(raw);
  const problems = [...misspelt, ...lines];
  const shape = stackConfigShape.safeParse(corrected, { reportInput: true });
  if (!shape.success) throw new ConfigError([...problems, ...formatConfigIssues(shape.error.issues, corrected)]);
  const result = stackConfigSchema.safeParse(corrected, { reportInput: true });
  if (!result.success) throw new ConfigError([...problems, ...formatConfigIssues(result.error.issues, corrected)]);
  if (problems.length > 0) throw new ConfigError(problems);
  return result.data;
}

/**
 * Keys of the whole config map that look meant for the kit but are not in its namespace: a
 * misspelt namespace (`gkp:target`) or a kit key without one (`target`, which Pulumi reads as
 * `<project>:target`). Other namespaces (`aws:region`, `kubernetes:context`) are left alone.
 * Returns the `gpk:*` values with those keys moved in, and one line per such key.
 */
function foreignKeys(all: Record<string, string>): { moved: Record<string, string>; lines: string[] } {
  const known = keysAt(stackConfigShape, [], {});
  const moved: Record<string, string> = {};
  const lines: string[] = [];
  for (const [key, value] of Object.entries(all)) {
    if (key.startsWith(`${CONFIG_NAMESPACE}:`)) continue;
    const colon = key.indexOf(":");
    const [ns, name] = colon < 0 ? ["", key] : [key.slice(0, colon), key.slice(colon + 1)];
    // `gkp`, `gp`, `gpkk`: one edit or a transposition away. (`gcp` is two edits: Google Cloud's.)
    const misspeltNamespace = ns !== "" && (editDistance(ns, CONFIG_NAMESPACE) <= 1 || [...ns].sort().join("") === [...CONFIG_NAMESPACE].sort().join(""));
    const noNamespace = ns === "" || ns === PROJECT_NAME;
    const meant = misspeltNamespace ? closest(name, known) : noNamespace && known.includes(name) ? name : undefined;
    if (!meant) continue;
    const target = `${CONFIG_NAMESPACE}:${meant}`;
    if (target in all || target in moved) continue;
    lines.push(`unknown key \`${key}\`; did you mean \`${target}\`?`);
    moved[target] = value;
  }
  return { moved, lines };
}

/**
 * Validates a whole Pulumi config map (every namespace, values as Pulumi hands them to a
 * program) into a `StackConfig`; throws `ConfigError` when it is bad.
 */
export function parseConfigMap(all: Record<string, string>): StackConfig {
  const { moved, lines } = foreignKeys(all);
  return parseStackConfig(gpkKeys({ ...all, ...moved }), lines);
}

/**
 * Pulumi hands structured config to the program as JSON text and scalars as plain text;
 * this reverses that the way `Config.requireObject` does.
 */
function decodeConfigValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** The `gpk:*` keys of a config map as Pulumi hands it to a program, namespace stripped and decoded. */
export function gpkKeys(all: Record<string, string>): Record<string, unknown> {
  const prefix = `${CONFIG_NAMESPACE}:`;
  const raw: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(all)) {
    if (key.startsWith(prefix)) raw[key.slice(prefix.length)] = decodeConfigValue(value);
  }
  return raw;
}

/** The `gpk:*` keys of the running stack's config. */
export function readGpkConfig(): Record<string, unknown> {
  return gpkKeys(pulumi.runtime.allConfig());
}

/** Reads and validates the running stack's config; throws `ConfigError` when it is bad. */
export function loadStackConfig(): StackConfig {
  return parseConfigMap(pulumi.runtime.allConfig());
}
