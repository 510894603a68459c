/**
 * Debian packages the e2e tests start as real peers (Redis for Ray's GCS fault tolerance),
 * listed in tools/debian-packages.txt with the command each provides. A package whose command
 * is on PATH is left alone; the others are installed with apt-get, which needs root. A machine
 * without root or apt-get gets an error naming the command to run, not a half-done install.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { KIT_TOOLS_DIR } from "./resolve";

export const DEBIAN_PACKAGES = path.join(KIT_TOOLS_DIR, "debian-packages.txt");

export class DebianToolsError extends Error {
  override readonly name = "DebianToolsError";
}

export interface DebianPackage {
  name: string;
  command: string;
}

/** `package command` per line; `#` starts a comment. Throws naming the line. */
export function parseDebianPackages(text: string, file = DEBIAN_PACKAGES): DebianPackage[] {
  const packages: DebianPackage[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.replace(/#.*/, "").trim();
    if (!line) return;
    const fields = line.split(/\s+/);
    if (fields.length !== 2 || !/^[a-z0-9][a-z0-9+.-]+$/.test(fields[0]!)) {
      throw new DebianToolsError(`${file}:${i + 1}: expected "<debian-package> <command>", got ${JSON.stringify(raw)}`);
    }
    packages.push({ name: fields[0]!, command: fields[1]! });
  });
  return packages;
}

/** The command's path on PATH, or undefined. */
export function onPath(command: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const dir of (env.PATH ?? "").split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, command);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not in this folder
    }
  }
  return undefined;
}

/** A command given by absolute path (a plugin outside PATH, such as a CNI plugin) or looked up on PATH. */
export function findCommand(command: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (!path.isAbsolute(command)) return onPath(command, env);
  try {
    fs.accessSync(command, fs.constants.X_OK);
    return command;
  } catch {
    return undefined;
  }
}

function apt(args: string[], log: (line: string) => void): void {
  log(`apt-get ${args.join(" ")}`);
  const r = spawnSync("apt-get", args, { encoding: "utf8", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" }, maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) {
    const detail = `${r.stderr ?? ""}`.trim().split("\n").slice(-3).join(" | ") || r.error?.message || `exit ${r.status}`;
    throw new DebianToolsError(`apt-get ${args.join(" ")} failed: ${detail}`);
  }
}

export interface DebianReport {
  package: string;
  command: string;
  path: string;
  installed: boolean;
}

/** Installs the listed packages whose command is missing; idempotent. */
export function ensureDebianPackages(log: (line: string) => void = () => {}, file = DEBIAN_PACKAGES): DebianReport[] {
  const packages = parseDebianPackages(fs.readFileSync(file, "utf8"), file);
  const missing = packages.filter((p) => !findCommand(p.command));
  if (missing.length > 0) {
    const names = missing.map((p) => p.name);
    const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
    if (!isRoot || !onPath("apt-get")) {
      throw new DebianToolsError(`missing ${missing.map((p) => p.command).join(", ")}; install as root: apt-get install -y ${names.join(" ")}`);
    }
    apt(["update", "-qq"], log);
    apt(["install", "-y", "-qq", "--no-install-recommends", ...names], log);
  }
  return packages.map((p) => {
    const found = findCommand(p.command);
    if (!found) throw new DebianToolsError(`${p.name} installed but ${p.command} is not ${path.isAbsolute(p.command) ? "executable" : "on PATH"}`);
    return { package: p.name, command: p.command, path: found, installed: missing.includes(p) };
  });
}
