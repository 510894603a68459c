/**
 * Property tests are reproducible: every fast-check property in the suite runs with the
 * shared seed (test/property-seed.ts), and a failure names that seed so it can be replayed.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FC_SEED, seeded } from "../property-seed";

const TEST_ROOT = path.resolve(__dirname, "..");

function testFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? testFiles(p) : e.name.endsWith(".ts") ? [p] : [];
  });
}

// Built from parts so this file does not match itself.
const CALL = ["fc", "assert("].join(".");

/** The text of each fast-check assert call in the source, through its closing parenthesis. */
function assertCalls(source: string): string[] {
  const calls: string[] = [];
  for (let at = source.indexOf(CALL); at >= 0; at = source.indexOf(CALL, at + 1)) {
    let depth = 0;
    let end = at + CALL.length - 1;
    for (; end < source.length; end++) {
      if (source[end] === "(") depth++;
      else if (source[end] === ")" && --depth === 0) break;
    }
    calls.push(source.slice(at, end + 1));
  }
  return calls;
}

describe("fast-check seeds", () => {
  it("every fc.assert in test/ passes the shared seed through seeded(...)", () => {
    const calls = testFiles(TEST_ROOT).flatMap((f) => assertCalls(fs.readFileSync(f, "utf8")).map((call) => ({ file: path.relative(TEST_ROOT, f), call })));
    expect(calls.length).toBeGreaterThan(0);
    const unseeded = calls.filter(({ call }) => !/\bseeded\(/.test(call)).map(({ file, call }) => `${file}: ${call.slice(0, 80)}`);
    expect(unseeded).toEqual([]);
  });

  it("a failing property reports the seed it ran with", () => {
    const details = fc.check(fc.property(fc.nat(), (n) => n < 0), seeded());
    expect(details.failed).toBe(true);
    expect(details.seed).toBe(FC_SEED);
    expect(fc.defaultReportMessage(details)).toContain(`seed: ${FC_SEED}`);
  });
});
