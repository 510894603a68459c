/**
 * Stacks are found by their file: `stacks/Pulumi.<name>.yaml`, so adding a stack is adding
 * a file. This module finds them and turns their `config:` block into the string map the
 * Pulumi runtime hands a program.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { closest } from "../../runtime/flags";
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
  const where = path.relative(process.cwd(), file);
  let document: unknown;
  try {
    document = parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    throw new UsageError(`${where}: not valid YAML: ${(err as Error).message.split("\n")[0]}`);
  }
  if (document === null || document === undefined) throw new UsageError(`${where}: empty; expected a \`config:\` map of gpk:* keys`);
  if (typeof document !== "object" || Array.isArray(document)) throw new UsageError(`${where}: expected a map with a \`config:\` key, got ${Array.isArray(document) ? "a list" : JSON.stringify(document)}`);
  checkTopLevelKeys(where, Object.keys(document));
  const config = (document as { config?: unknown }).config ?? {};
  if (typeof config !== "object" || config === null || Array.isArray(config)) {
    throw new UsageError(`${where}: \`config\` must be a map of keys to values`);
  }
  return Object.fromEntries(
    Object.entries(config).map(([key, value]) => [key, typeof value === "string" ? value : JSON.stringify(value)]),
  );
}

/** The top-level keys of a Pulumi stack settings file (Pulumi.<stack>.yaml). */
const STACK_FILE_KEYS = ["config", "secretsprovider", "encryptedkey", "encryptionsalt", "environment"];

/**
 * Config keys at the top level (the `config:` wrapper left out), or a misspelt `config:`: one
 * line naming the mistake, since every key would otherwise be silently ignored and the error
 * would be about a missing value.
 */
function checkTopLevelKeys(where: string, keys: string[]): void {
  const stray = keys.filter((k) => !STACK_FILE_KEYS.includes(k));
  if (stray.length === 0) return;
  const namespaced = stray.filter((k) => k.includes(":"));
  if (namespaced.length > 0) {
    const more = namespaced.length > 1 ? ` and ${namespaced.length - 1} more key${namespaced.length > 2 ? "s" : ""}` : "";
    throw new UsageError(`${where}: \`${namespaced[0]}\`${more} sit at the top level; put them under \`config:\``);
  }
  const guess = closest(stray[0]!, STACK_FILE_KEYS);
  throw new UsageError(`${where}: unknown top-level key \`${stray[0]}\`; ${guess ? `did you mean \`${guess}\`?` : `a stack file holds ${STACK_FILE_KEYS.join(", ")}`}`);
}
