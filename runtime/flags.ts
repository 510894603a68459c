/**
 * The kit's own command-line flag parser, shared by `gpk` (cli/contract.ts) and the in-cluster
 * entries (runtime/*\/main.ts), so a bad flag reads the same everywhere: one line naming the
 * flag, never the text of Node's `util.parseArgs`.
 *
 * Rules (GNU-style long flags only, as every `gpk` command uses):
 * - `--name value` and `--name=value`; a boolean flag takes no value.
 * - A value may start with `-` when it is a number (`--budget -2` reaches the command, which
 *   refuses it as a count) or is `-` itself; `--name --other` is a missing value.
 * - `--` ends the flags; everything after it is positional.
 * - A flag may name an environment variable (`env: "GPK_TELEMETRY_PORT"`) read when the flag is
 *   absent; `label(name)` then says where the value came from, so an error names the variable
 *   the user set rather than a flag they never typed.
 */

import * as fs from "node:fs";
import * as path from "node:path";

export interface FlagSpec {
  readonly type: "string" | "boolean";
  /** Repeatable: the values collect into a list. */
  readonly multiple?: boolean;
  readonly default?: string | boolean | readonly string[];
  /** An environment variable read when the flag is not given (empty counts as unset). */
  readonly env?: string;
}

export type FlagSpecs = Readonly<Record<string, FlagSpec>>;

type FlagValue<S extends FlagSpec> = S["type"] extends "boolean"
  ? S["multiple"] extends true ? boolean[] : boolean
  : S["multiple"] extends true ? string[] : string;

export type FlagValues<T extends FlagSpecs> = {
  -readonly [K in keyof T]: FlagValue<T[K]> | (T[K] extends { default: unknown } ? never : undefined);
};

export interface ParsedFlags<T extends FlagSpecs> {
  values: FlagValues<T>;
  positionals: string[];
  /** How to name the flag's value in a message: `--port`, or `GPK_TELEMETRY_PORT` when it came from there. */
  label(name: keyof T & string): string;
}

/** A bad flag. `flag` is what the message names (`--port` or an environment variable). */
export class FlagError extends Error {
  override readonly name = "FlagError";
  constructor(readonly flag: string, message: string) {
    super(message);
  }
}

/** Levenshtein distance, for "did you mean". */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}

/**
 * The candidate a typo most likely meant: the closest within a third of its length (at least
 * 1, at most 3 edits), or the one it is a prefix of; undefined when none is close.
 */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const limit = Math.min(3, Math.max(1, Math.floor(word.length / 3)));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  if (best !== undefined && bestDistance <= limit) return best;
  const prefixed = candidates.filter((c) => word.length >= 3 && c.startsWith(word));
  return prefixed.length === 1 ? prefixed[0] : undefined;
}

const NUMBER_LIKE = /^-(\d|\.\d|Infinity$)/;

export function parseFlagArgs<T extends FlagSpecs>(
  argv: readonly string[],
  specs: T,
  { allowPositionals = true, env = {} }: { allowPositionals?: boolean; env?: Readonly<Record<string, string | undefined>> } = {},
): ParsedFlags<T> {
  const values: Record<string, unknown> = {};
  const positionals: string[] = [];
  const fromEnv = new Set<string>();
  const names = Object.keys(specs);
  const positional = (arg: string) => {
    if (!allowPositionals) throw new FlagError(arg, `unexpected argument ${JSON.stringify(arg)}`);
    positionals.push(arg);
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      argv.slice(i + 1).forEach(positional);
      break;
    }
    if (arg === "-" || !arg.startsWith("-") || NUMBER_LIKE.test(arg)) {
      positional(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const name = flag.replace(/^--?/, "");
    const spec = flag.startsWith("--") ? specs[name] : undefined;
    if (!spec) {
      const guess = closest(name, names);
      throw new FlagError(flag, `unknown flag ${flag}${guess ? ` (did you mean --${guess}?)` : ""}`);
    }
    let value: string | boolean;
    if (spec.type === "boolean") {
      if (eq > 0) throw new FlagError(flag, `${flag}: takes no value, got ${JSON.stringify(arg.slice(eq + 1))}`);
      value = true;
    } else if (eq > 0) {
      value = arg.slice(eq + 1);
    } else {
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith("-") && next !== "-" && !NUMBER_LIKE.test(next))) throw new FlagError(flag, `${flag}: missing value`);
      value = next;
      i++;
    }
    if (spec.multiple) ((values[name] ??= []) as unknown[]).push(value);
    else values[name] = value;
  }
  for (const [name, spec] of Object.entries(specs)) {
    if (values[name] !== undefined) continue;
    const fromVariable = spec.env === undefined ? undefined : env[spec.env];
    if (fromVariable !== undefined && fromVariable !== "") {
      values[name] = spec.type === "boolean" ? envBoolean(spec.env!, fromVariable) : spec.multiple ? [fromVariable] : fromVariable;
      fromEnv.add(name);
    } else if (spec.default !== undefined) {
      values[name] = Array.isArray(spec.default) ? [...spec.default] : spec.default;
    }
  }
  return {
    values: values as FlagValues<T>,
    positionals,
    label: (name) => (fromEnv.has(name) ? specs[name]!.env! : `--${name}`),
  };
}

function envBoolean(variable: string, raw: string): boolean {
  if (raw === "true" || raw === "1") return true;
  if (raw === "false" || raw === "0") return false;
  throw new FlagError(variable, `${variable}: expected true or false, got ${JSON.stringify(raw)}`);
}

/** `--name` for a flag name, unchanged for a label that already is one (`--port`, `GPK_X`). */
export function flagLabel(name: string): string {
  return name.startsWith("-") || /^[A-Z][A-Z0-9_]*$/.test(name) ? name : `--${name}`;
}

/**
 * A flag value as a number in [min, max], naming the flag (or its variable) when it is not one:
 * `--budget: expected an integer between 1 and 1000, got -2`.
 */
export function numberValue(
  name: string,
  raw: string,
  { min = -Infinity, max = Infinity, integer = false }: { min?: number; max?: number; integer?: boolean } = {},
): number {
  const label = flagLabel(name);
  const value = Number(raw);
  const kind = integer ? "an integer" : "a number";
  if (raw.trim() === "" || !Number.isFinite(value) || (integer && !Number.isInteger(value))) {
    throw new FlagError(label, `${label}: expected ${kind}, got ${JSON.stringify(raw)}`);
  }
  if (value < min || value > max) {
    const range = max === Infinity ? `of at least ${min}` : min === -Infinity ? `of at most ${max}` : `between ${min} and ${max}`;
    throw new FlagError(label, `${label}: expected ${kind} ${range}, got ${raw}`);
  }
  return value;
}

/** A flag that must be given: `--bucket: required`, plus what it takes when that helps. */
export function requiredValue<V>(name: string, value: V | undefined, hint = ""): V {
  if (value === undefined || value === "") {
    const label = flagLabel(name);
    throw new FlagError(label, `${label}: required${hint ? `; ${hint}` : ""}`);
  }
  return value;
}

/**
 * Why a path argument cannot be used, in one line naming it (`--nodes: x is a folder; expected
 * a file`), or undefined when it is the file or folder wanted. `label` is the flag, the variable
 * the path came from, or a word for a positional argument.
 */
export function pathProblem(label: string, file: string, want: "file" | "folder"): string | undefined {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return `${label}: no such ${want}: ${file}`;
    if (code === "ENOTDIR") return `${label}: no such ${want}: ${file} (a part of the path is a file)`;
    return `${label}: cannot read ${file} (${code ?? (err as Error).message})`;
  }
  if (want === "file" && stat.isDirectory()) return `${label}: ${file} is a folder; expected a file`;
  if (want === "folder" && !stat.isDirectory()) return `${label}: ${file} is a file; expected a folder`;
  return undefined;
}

/**
 * Why a path the program will create or rewrite cannot be used: a folder where a file goes
 * (`want` "file"), a file where a folder goes, or a parent that is a file or missing.
 */
export function writablePathProblem(label: string, target: string, want: "file" | "folder"): string | undefined {
  const resolved = path.resolve(target);
  if (fs.existsSync(resolved)) {
    const isFolder = fs.statSync(resolved).isDirectory();
    if (want === "file" && isFolder) return `${label}: ${target} is a folder; expected a file`;
    if (want === "folder" && !isFolder) return `${label}: ${target} is a file; expected a folder`;
    return undefined;
  }
  let probe = path.dirname(resolved);
  while (!fs.existsSync(probe)) {
    if (want === "file") return `${label}: no such folder: ${path.dirname(target)} (for ${target})`;
    probe = path.dirname(probe);
  }
  return fs.statSync(probe).isDirectory() ? undefined : `${label}: cannot create ${target}: ${probe} is a file`;
}
