/**
 * Refactors keep the rendered stacks byte-identical. The golden fingerprints in ./golden were
 * written from the commit before the GPU facts moved to gpu/ (runtime bundles excepted, see
 * fingerprint.ts). After an intentional change to what a stack renders, rewrite them with
 * `GPK_UPDATE_GOLDEN=1 npx vitest run test/render/golden.test.ts` and say why in the commit.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { runGpk } from "../cli/run-gpk";
import { fingerprint } from "./fingerprint";

const GOLDEN_DIR = path.join(__dirname, "golden");

describe.each(["local", "staging", "prod"])("rendered stack %s", (stack) => {
  it("matches its golden fingerprint resource for resource", () => {
    const run = runGpk(["preview", stack, "--json", "--no-policies"]);
    expect(run.status, run.stderr).toBe(0);
    const actual = fingerprint(JSON.parse(run.stdout).resources);
    const file = path.join(GOLDEN_DIR, `${stack}.json`);
    if (process.env.GPK_UPDATE_GOLDEN) fs.writeFileSync(file, `${JSON.stringify(actual, null, 2)}\n`);
    const golden = JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, string>;
    expect(Object.keys(golden).length).toBeGreaterThan(40);
    const changed = Object.keys({ ...golden, ...actual }).filter((urn) => golden[urn] !== actual[urn]);
    expect(changed).toEqual([]);
  });
});
