/**
 * The house's arrows: the in-cluster programs (runtime/) and the GPU facts (gpu/) never
 * import the Pulumi layer, and no import cycle exists among the project's sources
 * (type-only imports count: they couple modules all the same).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";

const REPO_ROOT = path.resolve(__dirname, "../..");
const SOURCE_DIRS = ["data", "gpu", "stacks", "components", "policies", "runtime", "cli", "bench", "scripts"];

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory() && entry.name !== "node_modules") out.push(...sourceFiles(p));
    else if (/\.(ts|mts)$/.test(entry.name) && !entry.name.endsWith(".d.ts")) out.push(p);
  }
  return out;
}

const IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|^\s*import\s+)["'](\.{1,2}\/[^"']+)["']/gm;

function resolveImport(from: string, spec: string): string | undefined {
  const base = path.resolve(path.dirname(from), spec);
  for (const candidate of [base, `${base}.ts`, `${base}.mts`, path.join(base, "index.ts")]) {
    if (fs.existsSync(candidate) && fs.statSync(candidate).isFile()) return candidate;
  }
  return undefined;
}

const files = SOURCE_DIRS.flatMap((d) => sourceFiles(path.join(REPO_ROOT, d)));
const graph = new Map<string, string[]>(
  files.map((file) => {
    const text = fs.readFileSync(file, "utf8");
    const targets = [...text.matchAll(IMPORT)].map((m) => resolveImport(file, m[1]!)).filter((t): t is string => t !== undefined);
    return [file, [...new Set(targets)]];
  }),
);
const rel = (f: string) => path.relative(REPO_ROOT, f);

/** Strongly connected components with more than one module, or a module importing itself (Tarjan). */
function cycles(): string[][] {
  let index = 0;
  const indices = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    indices.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!indices.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, indices.get(w)!));
    }
    if (low.get(v) === indices.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(rel(w));
      } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!indices.has(v)) visit(v);
  return found;
}

describe("import graph", () => {
  it("reads the project's sources", () => {
    expect(files.length).toBeGreaterThan(150);
    expect([...graph.values()].flat().length).toBeGreaterThan(300);
  });

  it("runtime/ and gpu/ import nothing from components/, stacks/, policies/ or cli/", () => {
    const upward = /^(components|stacks|policies|cli)\//;
    const offenders = [...graph]
      .filter(([file]) => /^(runtime|gpu)\//.test(rel(file)))
      .flatMap(([file, targets]) => targets.filter((t) => upward.test(rel(t))).map((t) => `${rel(file)} -> ${rel(t)}`));
    expect(offenders).toEqual([]);
  });

  it("gpu/ imports nothing of the kit", () => {
    const offenders = [...graph].filter(([file]) => rel(file).startsWith("gpu/")).flatMap(([file, targets]) => targets.filter((t) => !rel(t).startsWith("gpu/")).map((t) => `${rel(file)} -> ${rel(t)}`));
    expect(offenders).toEqual([]);
  });

  it("has no import cycle", () => {
    expect(cycles()).toEqual([]);
  });

  it("finds a cycle when there is one (the detector itself)", () => {
    const a = path.join(REPO_ROOT, "virtual-a.ts");
    const b = path.join(REPO_ROOT, "virtual-b.ts");
    graph.set(a, [b]);
    graph.set(b, [a]);
    try {
      expect(cycles()).toContainEqual(["virtual-a.ts", "virtual-b.ts"]);
    } finally {
      graph.delete(a);
      graph.delete(b);
    }
  });
});
