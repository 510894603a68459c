/** Each pack directory is runnable by the Pulumi CLI and documents every policy it serves. */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { POLICIES_DIR } from "../../cli/check";
import { PACK_POLICIES } from "./helpers";

describe.each(Object.entries(PACK_POLICIES))("pack %s", (pack, policies) => {
  const dir = path.join(POLICIES_DIR, pack);
  const read = (f: string) => fs.readFileSync(path.join(dir, f), "utf8");

  it("has PulumiPolicy.yaml (nodejs), a versioned package.json whose main loads index.ts through tsx", () => {
    expect(parse(read("PulumiPolicy.yaml")).runtime).toBe("nodejs");
    const pkg = JSON.parse(read("package.json"));
    expect(pkg.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(read(pkg.main)).toMatch(/require\("tsx\/cjs"\);\s*require\("\.\/index\.ts"\);/);
  });

  it("constructs its PolicyPack in index.ts from exactly the policies the tests cover", () => {
    const index = read("index.ts");
    expect(index.match(/new PolicyPack\(/g)).toHaveLength(1);
    expect(index).toContain(`new PolicyPack("${pack}"`);
    const others = fs.readdirSync(dir).filter((f) => f.endsWith(".ts") && f !== "index.ts");
    for (const f of others) expect({ f, constructs: read(f).includes("new PolicyPack") }).toEqual({ f, constructs: false });
  });

  it("README lists each policy with its level and config keys", () => {
    const readme = read("README.md");
    for (const p of policies) {
      const row = readme.split("\n").find((l) => l.startsWith(`| \`${p.name}\` |`));
      expect({ policy: p.name, row: row !== undefined }).toEqual({ policy: p.name, row: true });
      expect(row).toContain(`| ${p.enforcementLevel} |`);
      for (const key of Object.keys(p.configSchema?.properties ?? {})) expect(row).toContain(`\`${key}\``);
    }
  });

  it("config.example.json names only real policies and keys", () => {
    const example = JSON.parse(read("config.example.json")) as Record<string, Record<string, unknown>>;
    for (const [name, cfg] of Object.entries(example)) {
      const policy = policies.find((p) => p.name === name);
      expect(policy?.name).toBe(name);
      for (const key of Object.keys(cfg)) if (key !== "enforcementLevel") expect(Object.keys(policy!.configSchema!.properties)).toContain(key);
    }
  });
});
