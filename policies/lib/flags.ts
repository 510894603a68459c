/**
 * Engine flags in container `command`/`args`. Serving and Ray containers pass their
 * settings as CLI flags in any of three shapes, and a policy must read (and a remediation
 * rewrite) all of them:
 *   ["--max-num-seqs", "256"]     separate element
 *   ["--max-num-seqs=256"]        `=` form
 *   ["sh", "-c", "vllm serve m --max-num-seqs 256"]   inside a shell string
 */
import type { Json } from "./k8s";

export interface FlagHit {
  /** `command` or `args`. */
  list: "command" | "args";
  /** Index of the element holding the value. */
  index: number;
  value: string;
  shape: "separate" | "equals" | "inline";
}

function escape(flag: string): string {
  return flag.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function inlinePattern(flag: string): RegExp {
  return new RegExp(`(^|\\s)${escape(flag)}(=|\\s+)([^\\s"']+)`);
}

/** The last occurrence of `flag` (the one an argv parser keeps), or undefined. */
export function findFlag(container: Json, flag: string): FlagHit | undefined {
  let hit: FlagHit | undefined;
  for (const list of ["command", "args"] as const) {
    const items: unknown = container[list];
    if (!Array.isArray(items)) continue;
    items.forEach((item, i) => {
      if (typeof item !== "string") return;
      if (item === flag && typeof items[i + 1] === "string") {
        hit = { list, index: i + 1, value: items[i + 1], shape: "separate" };
      } else if (item.startsWith(`${flag}=`)) {
        hit = { list, index: i, value: item.slice(flag.length + 1), shape: "equals" };
      } else if (/\s/.test(item)) {
        const m = inlinePattern(flag).exec(item);
        if (m) hit = { list, index: i, value: m[3], shape: "inline" };
      }
    });
  }
  return hit;
}

/** A copy of the container's `command`/`args` with the flag found at `hit` set to `value`. */
export function replaceFlag(container: Json, hit: FlagHit, flag: string, value: string): Json {
  const items = [...(container[hit.list] as string[])];
  const old = items[hit.index];
  items[hit.index] =
    hit.shape === "separate" ? value
    : hit.shape === "equals" ? `${flag}=${value}`
    : old.replace(inlinePattern(flag), (_m, lead: string, sep: string) => `${lead}${flag}${sep}${value}`);
  return { ...container, [hit.list]: items };
}
