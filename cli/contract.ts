/**
 * The CLI contract every `gpk` command follows (ARCHITECTURE.md, "CLI contracts"):
 * exit 0 on success, 1 on a finding, 2 on bad usage or bad input with a one-line reason;
 * `--json` prints exactly one JSON document on stdout and progress goes to stderr.
 */
import * as fs from "node:fs";
import { FlagError, numberValue, parseFlagArgs, pathProblem, requiredValue, writablePathProblem, type FlagSpecs, type ParsedFlags } from "../runtime/flags";

export { FlagError, requiredValue as requiredFlag };

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
    // A wrapped message (an engine's, a library's) may span lines; the contract is one line.
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
 * The command's flags, parsed by the kit's own parser (runtime/flags.ts): a bad flag is a
 * `FlagError`, which `gpk` prints as one line naming the flag and pointing at the command's
 * `--help`. A flag spec with `env: "GPK_..."` reads that variable when the flag is absent, and
 * `label(name)` names the variable in messages about its value.
 */
export function parseFlags<T extends FlagSpecs>(argv: string[], options: T, allowPositionals = true): ParsedFlags<T> {
  return parseFlagArgs(argv, options, { allowPositionals, env: process.env });
}

/**
 * Parses a flag value as a number in [min, max], naming the flag (`seed` or `--seed`) or the
 * variable it came from (`GPK_SIM_GPUS`) when it is not one.
 */
export function numberFlag(
  name: string,
  raw: string | undefined,
  fallback: number,
  range: { min?: number; max?: number; integer?: boolean } = {},
): number {
  return raw === undefined ? fallback : numberValue(name, raw, range);
}

/** Progress and human-oriented notes: always stderr, so `--json` output stays clean. */
export function progress(message: string): void {
  process.stderr.write(`${message}\n`);
}

/** The one JSON document a `--json` run prints. */
export function printJson(document: unknown): void {
  process.stdout.write(`${JSON.stringify(document, null, 2)}\n`);
}

/**
 * A path argument that must be an existing file: a missing path, a folder, or an unreadable
 * file is a UsageError naming the flag (`--nodes: x.csv is a folder; expected a file`).
 * `label` is the flag (`--nodes`), the variable, or a word for a positional argument.
 */
export function checkFile(label: string, file: string): string {
  const problem = pathProblem(label, file, "file");
  if (problem) throw new UsageError(problem);
  return file;
}

/** Reads a file argument as text; every way it can fail is a one-line UsageError naming the flag. */
export function readFileArgument(label: string, file: string): string {
  checkFile(label, file);
  try {
    return fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new UsageError(`${label}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/** A path argument that must be an existing folder: a missing path or a file is a UsageError naming the flag. */
export function checkFolder(label: string, folder: string): string {
  const problem = pathProblem(label, folder, "folder");
  if (problem) throw new UsageError(problem);
  return folder;
}

/**
 * A path argument for a folder the command creates or fills: it may be missing, but it, or the
 * nearest part of it that exists, must be a folder.
 */
export function checkFolderToWrite(label: string, folder: string): string {
  const problem = writablePathProblem(label, folder, "folder");
  if (problem) throw new UsageError(problem);
  return folder;
}
