/**
 * The CLI contract every `gpk` command follows (ARCHITECTURE.md, "CLI contracts"):
 * exit 0 on success, 1 on a finding, 2 on bad usage or bad input with a one-line reason;
 * `--json` prints exactly one JSON document on stdout and progress goes to stderr.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";

export const ExitCode = {
  Ok: 0,
  Finding: 1,
  Usage: 2,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Bad flags, bad files or bad config: reported as one line, exit 2, never a stack trace. */
export class UsageError extends Error {
  override readonly name = "UsageError";
  constructor(message: string) {
    // Some wrapped messages span lines (node's "argument is ambiguous" plus its hint); the contract is one line.
    super(message.replace(/\s*\n\s*/g, " "));
  }
}

/** One `gpk` sub-command. `run` returns the exit code; it throws `UsageError` for bad input. */
export interface Command {
  /** Usage text printed by `gpk <name> --help`. */
  readonly usage: string;
  run(argv: string[]): Promise<number>;
}

/**
 * `util.parseArgs` in strict mode, with its errors turned into a `UsageError` so an
 * unknown or malformed flag is a one-line exit 2.
 */
export function parseFlags<T extends NonNullable<ParseArgsConfig["options"]>>(
  argv: string[],
  options: T,
  allowPositionals = true,
) {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** Parses a flag value as a number in [min, max], naming the flag when it is not one. */
export function numberFlag(
  name: string,
  raw: string | undefined,
  fallback: number,
  { min = -Infinity, max = Infinity, integer = false } = {},
): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  const kind = integer ? "an integer" : "a number";
  if (raw.trim() === "" || !Number.isFinite(value) || (integer && !Number.isInteger(value))) {
    throw new UsageError(`--${name}: expected ${kind}, got ${JSON.stringify(raw)}`);
  }
  if (value < min || value > max) {
    throw new UsageError(`--${name}: expected ${kind} between ${min} and ${max}, got ${raw}`);
  }
  return value;
}

/** Progress and human-oriented notes: always stderr, so `--json` output stays clean. */
export function progress(message: string): void {
  process.stderr.write(`${message}\n`);
}

/** The one JSON document a `--json` run prints. */
export function printJson(document: unknown): void {
  process.stdout.write(`${JSON.stringify(document, null, 2)}\n`);
}
