/**
 * Capacity results cached on disk by the hash of everything that decides them: the task (engine
 * arguments, requests, SLO, seed, peak, headroom), the configuration the engine resolves them to
 * and the timing constants it runs with. A changed simulator constant is a new key, so a cached
 * figure is never stale, and `gpk check` or `pulumi preview --policy-pack` pays for a search
 * once per configuration. The folder is `$GPK_CACHE_DIR`, else `$XDG_CACHE_HOME/gpk/serving-capacity`,
 * else `~/.cache/gpk/serving-capacity`; an unwritable folder only loses the cache.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { resolveEngineConfig } from "../engine/config";
import { timingOf } from "../engine/timing";

/** Bumped when the search's own rules change (search.ts), which the inputs do not show. */
export const SEARCH_VERSION = 1;

export function capacityCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.GPK_CACHE_DIR) return env.GPK_CACHE_DIR;
  return path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache"), "gpk", "serving-capacity");
}

/** The key of a computation over an engine configuration: inputs, resolved config and timing. */
export function capacityKey(kind: string, engine: Parameters<typeof resolveEngineConfig>[0], inputs: unknown): string {
  let resolved: unknown;
  try {
    const config = resolveEngineConfig(engine);
    resolved = { config, timing: timingOf(config) };
  } catch (err) {
    resolved = { error: (err as Error).message };
  }
  return createHash("sha256").update(JSON.stringify({ kind, version: SEARCH_VERSION, engine, resolved, inputs })).digest("hex");
}

/** `compute()`'s value, from the cache when this key was computed before. */
export function cachedCompute<T>(key: string, compute: () => T, dir: string = capacityCacheDir()): T {
  const file = path.join(dir, `${key}.json`);
  try {
    return JSON.parse(fs.readFileSync(file, "utf8")) as T;
  } catch {
    // not cached (or unreadable): compute it
  }
  const value = compute();
  try {
    fs.mkdirSync(dir, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(value));
    fs.renameSync(tmp, file);
  } catch {
    // a read-only cache folder costs time, not correctness
  }
  return value;
}
