/**
 * Reads the `gpk:*` keys from Pulumi config (the same keys under `pulumi up` and under
 * `gpk preview`'s mock runtime) and validates them into a `StackConfig`.
 */
import * as pulumi from "@pulumi/pulumi";
import type { z } from "zod";
import { CONFIG_NAMESPACE, stackConfigSchema, type StackConfig } from "./config";

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

/** One line per problem: `gpk:<key path>: expected ..., got ...`. */
export function formatConfigIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.map((issue) => {
    const at = `${CONFIG_NAMESPACE}:${keyPath(issue.path) || "<root>"}`;
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((key) => `${CONFIG_NAMESPACE}:${keyPath([...issue.path, key])}: unknown key`).join("\n");
    }
    let input = (issue as { input?: unknown }).input;
    // A discriminated union reports the whole object; show the discriminator's value instead.
    const discriminator = (issue as { discriminator?: string }).discriminator;
    if (discriminator && input && typeof input === "object") input = (input as Record<string, unknown>)[discriminator];
    const showsInput = issue.message.startsWith("expected") && !issue.message.includes(", got ") && (input === undefined || typeof input !== "object" || input === null);
    return showsInput ? `${at}: ${issue.message}, got ${describeInput(input)}` : `${at}: ${issue.message}`;
  }).flatMap((line) => line.split("\n"));
}

/** Validates the `gpk:*` values (namespace stripped) and applies every default. */
export function parseStackConfig(raw: Record<string, unknown>): StackConfig {
  const result = stackConfigSchema.safeParse(raw, { reportInput: true });
  if (!result.success) throw new ConfigError(formatConfigIssues(result.error.issues));
  return result.data;
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
  return parseStackConfig(readGpkConfig());
}
