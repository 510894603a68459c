import { describe, expect, it } from "vitest";
import { UsageError, parseFlags } from "../../cli/contract";
import { runGpk } from "./run-gpk";

describe("CLI contract: bad usage is one line, exit 2", () => {
  it("folds node's multi-line flag errors into one line", () => {
    let caught: unknown;
    try {
      parseFlags(["--port", "-1"], { port: { type: "string" } });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(UsageError);
    const message = (caught as UsageError).message;
    expect(message).toContain("'--port' argument is ambiguous");
    expect(message).not.toContain("\n");
  });

  it("gpk telemetry --port -1 reports one line on stderr and nothing on stdout", () => {
    const run = runGpk(["telemetry", "--port", "-1"], { timeoutMs: 60_000 });
    expect(run.status).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(run.stderr).toMatch(/^gpk telemetry: .*--port/);
  });

  it("gpk with no command exits 2 with one line on stderr; gpk --help exits 0 with the usage on stdout", () => {
    const bare = runGpk([], { timeoutMs: 60_000 });
    expect(bare.status).toBe(2);
    expect(bare.stdout).toBe("");
    expect(bare.stderr).toMatch(/^gpk: expected a command .*: preview, check, .*sim\n$/);
    const help = runGpk(["--help"], { timeoutMs: 60_000 });
    expect(help.status).toBe(0);
    expect(help.stderr).toBe("");
    expect(help.stdout).toContain("Usage: gpk <command>");
  });

  it.each([
    [["simulate", "--nodes", "missing.csv", "--pods", "x", "--policy", "fgd"], /^gpk simulate: --nodes: cannot read missing\.csv/],
    [["serve", "--max-num-seqs", "x"], /^gpk serve: --max-num-seqs: expected an integer, got "x"/],
    [["extender", "--policy", "bogus"], /^gpk extender: --policy: unknown placement policy "bogus"/],
  ])("gpk %j exits 2 with one line naming the flag", (args, reason) => {
    const run = runGpk(args, { timeoutMs: 60_000 });
    expect(run.status).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(run.stderr).toMatch(reason);
  });
});
