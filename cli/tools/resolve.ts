/**
 * Where the upstream tools are found, without building anything. Order, per binary:
 * GPK_TOOLS_DIR (a flat folder of prebuilt binaries), KUBEBUILDER_ASSETS (envtest's
 * folder; control-plane binaries only), the pinned build in the cache, then PATH.
 * The cache is `$GPK_TOOLS_DIR` or `~/.cache/gpk/tools`, one `<tool>-<pin hash>` folder each.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { KWOK_STAGES_FILE, TOOL_BINARIES, TOOL_NAMES, pinHash, type ToolName, type ToolPins } from "./recipes";

export type BinarySource = "GPK_TOOLS_DIR" | "KUBEBUILDER_ASSETS" | "cache" | "PATH";

export interface LocatedBinary {
  name: string;
  path: string;
  source: BinarySource;
}

/** Binaries envtest ships in KUBEBUILDER_ASSETS (controller-runtime's setup-envtest). */
const ENVTEST_BINARIES = new Set(["kube-apiserver", "etcd", "kubectl"]);

/** Folder of the kit's own plugins for the Pulumi engine: the Node.js language host and dynamic-resource provider (tools/). */
export const KIT_TOOLS_DIR = path.join(__dirname, "..", "..", "tools");

export function toolsCacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.GPK_TOOLS_DIR) return path.resolve(env.GPK_TOOLS_DIR);
  const cacheHome = env.XDG_CACHE_HOME || path.join(env.HOME || os.homedir(), ".cache");
  return path.join(cacheHome, "gpk", "tools");
}

/** The cache folder a tool's pinned build lives in. */
export function toolCacheDir(name: ToolName, pins: ToolPins, env: NodeJS.ProcessEnv = process.env): string {
  return path.join(toolsCacheRoot(env), `${name}-${pinHash(name, pins)}`);
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function onPath(bin: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? "").split(path.delimiter)) {
    if (dir && isExecutable(path.join(dir, bin))) return path.join(dir, bin);
  }
  return undefined;
}

export function locateBinary(bin: string, tool: ToolName, pins: ToolPins, env: NodeJS.ProcessEnv = process.env): LocatedBinary | undefined {
  const candidates: [BinarySource, string | undefined][] = [
    ["GPK_TOOLS_DIR", env.GPK_TOOLS_DIR ? path.join(env.GPK_TOOLS_DIR, bin) : undefined],
    ["KUBEBUILDER_ASSETS", env.KUBEBUILDER_ASSETS && ENVTEST_BINARIES.has(bin) ? path.join(env.KUBEBUILDER_ASSETS, bin) : undefined],
    ["cache", path.join(toolCacheDir(tool, pins, env), "bin", bin)],
  ];
  for (const [source, file] of candidates) {
    if (file && isExecutable(file)) return { name: bin, path: file, source };
  }
  const found = onPath(bin, env);
  return found ? { name: bin, path: found, source: "PATH" } : undefined;
}

export interface ToolStatus {
  tool: ToolName;
  version: string;
  binaries: LocatedBinary[];
  missing: string[];
}

export function toolStatus(tool: ToolName, pins: ToolPins, env: NodeJS.ProcessEnv = process.env): ToolStatus {
  const binaries: LocatedBinary[] = [];
  const missing: string[] = [];
  for (const bin of TOOL_BINARIES[tool]) {
    const located = locateBinary(bin, tool, pins, env);
    if (located) binaries.push(located);
    else missing.push(bin);
  }
  return { tool, version: pins[tool].version, binaries, missing };
}

export function allToolStatus(pins: ToolPins, env: NodeJS.ProcessEnv = process.env, tools: ToolName[] = TOOL_NAMES): ToolStatus[] {
  return tools.map((tool) => toolStatus(tool, pins, env));
}

/** Paths the binaries runtime runs, once every tool is present; throws naming what is missing. */
export interface ResolvedTools {
  bin: Record<string, string>;
  kwokStages: string;
}

export function resolveTools(pins: ToolPins, env: NodeJS.ProcessEnv = process.env, needed: ToolName[] = TOOL_NAMES): ResolvedTools {
  const statuses = allToolStatus(pins, env, needed);
  const missing = statuses.flatMap((s) => s.missing);
  if (missing.length > 0) throw new Error(`missing ${missing.join(", ")}: run \`npm run tools\` (builds them from their Go modules)`);
  const bin: Record<string, string> = {};
  for (const s of statuses) for (const b of s.binaries) bin[b.name] = b.path;
  const kwokStages = path.join(toolCacheDir("kwok", pins, env), KWOK_STAGES_FILE);
  if (!fs.existsSync(kwokStages)) throw new Error(`missing ${kwokStages}: run \`npm run tools\` (writes kwok's stages from sigs.k8s.io/kwok ${pins.kwok.version})`);
  return { bin, kwokStages };
}
