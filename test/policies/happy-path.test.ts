import { describe, expect, it } from "vitest";
import { happyStack } from "./fixtures";
import { PACK_POLICIES, runPolicy } from "./helpers";

describe("happy-path fixture", () => {
  for (const [pack, policies] of Object.entries(PACK_POLICIES)) {
    for (const policy of policies) {
      it(`${pack}/${policy.name} finds nothing to report`, async () => {
        expect(await runPolicy(policy, happyStack())).toEqual([]);
      });
    }
  }

  it("policy names are unique kebab-case and descriptions start with 'Checks whether'", () => {
    const all = Object.values(PACK_POLICIES).flat();
    expect(new Set(all.map((p) => p.name)).size).toBe(all.length);
    for (const p of all) {
      expect(p.name).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
      expect(p.description).toMatch(/^Checks whether /);
      for (const [key, schema] of Object.entries(p.configSchema?.properties ?? {})) {
        expect({ key, hasDefault: "default" in schema }).toEqual({ key, hasDefault: true });
      }
    }
  });
});
