/**
 * Stacks are found by their file: `stacks/Pulumi.<name>.yaml`, so adding a stack is adding
 * a file. This module finds them and turns their `config:` block into the string map the
 * Pulumi runtime hands a program.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { UsageError, checkFolder } from "../contract";

export const REPO_ROOT = path.resolve(__dirname, "..", "..");
export const DEFAULT_STACKS_DIR = path.join(REPO_ROOT, "stacks");

const STACK_FILE = /^Pulumi\.([A-Za-z0-9_.-]+)\.yaml$/;

export function listStacks(stacksDir: string = DEFAULT_STACKS_DIR): string[] {
  if (!fs.existsSync(stacksDir)) return [];
  return fs.readdirSync(stacksDir).flatMap((f) => STACK_FILE.exec(f)?.[1] ?? []).sort();
}

export function stackFile(stack: string, stacksDir: string = DEFAULT_STACKS_DIR): string {
  checkFolder("--stacks-dir", stacksDir);
  stacksDir = path.resolve(stacksDir);
  const stacks = listStacks(stacksDir);
  if (!stacks.includes(stack)) {
    throw new UsageError(`unknown stack ${JSON.stringify(stack)}; stacks in ${path.relative(process.cwd(), stacksDir) || "."}: ${stacks.join(", ") || "none"}`);
  }
  return path.join(stacksDir, `Pulumi.${stack}.yaml`);
}

/**
 * The stack file's `config:` as Pulumi passes it to a program: structured values as JSON
 * text, scalars as plain text.
 */
export function readStackConfig(file: string): Record<string, string> {
  let document: unknown;
  try {
    document = parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    const where = path.relative(process.cwd(), file);
    throw new UsageError(`${where}: not valid YAML: ${(err as Error).message.split("\n")[0]}`);
  }
  const config = (document as { config?: unknown } | null)?.config ?? {};
  if (typeof config !== "object" || config === null || Array.isArray(config)) {
    throw new UsageError(`${path.relative(process.cwd(), file)}: \`config\` must be a map of keys to values`);
  }
  return Object.fromEntries(
    Object.entries(config).map(([key, value]) => [key, typeof value === "string" ? value : JSON.stringify(value)]),
  );
}
