import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { FlagError, parseFlags } from "../../cli/contract";
import { kitVersion } from "../../cli/version";
import { REPO_ROOT, runGpk } from "./run-gpk";

describe("CLI contract: bad usage is one line, exit 2", () => {
  it("reads a negative number as a flag's value, so the command can say what it expected", () => {
    const { values } = parseFlags(["--port", "-1"], { port: { type: "string" } });
    expect(values.port).toBe("-1");
    expect(() => parseFlags(["--port", "--json"], { port: { type: "string" }, json: { type: "boolean" } })).toThrow(new FlagError("--port", "--port: missing value"));
  });

  it("gpk telemetry --port -1 reports one line on stderr and nothing on stdout", () => {
    const run = runGpk(["telemetry", "--port", "-1"], { timeoutMs: 60_000 });
    expect(run.status).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(run.stderr).toBe("gpk telemetry: --port: expected an integer between 0 and 65535, got -1; see `gpk telemetry --help`\n");
  });

  it("gpk with no command exits 2 with one line on stderr; gpk --help exits 0 with the usage on stdout", () => {
    const bare = runGpk([], { timeoutMs: 60_000 });
    expect(bare.status).toBe(2);
    expect(bare.stdout).toBe("");
    expect(bare.stderr).toMatch(/^gpk: expected a command .*: preview, check, .*sim, version\n$/);
    const help = runGpk(["--help"], { timeoutMs: 60_000 });
    expect(help.status).toBe(0);
    expect(help.stderr).toBe("");
    expect(help.stdout).toContain("Usage: gpk <command>");
  });

  it.each([
    [["simulate", "--nodes", "missing.csv", "--pods", "x", "--policy", "fgd"], /^gpk simulate: --nodes: no such file: missing\.csv\n$/],
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

describe("small things users reach for", () => {
  it("gpk --version and gpk version print the kit's version on stdout", () => {
    const line = `gpk ${kitVersion()} (Node.js ${process.versions.node})\n`;
    for (const args of [["--version"], ["version"]]) {
      const run = runGpk(args, { timeoutMs: 60_000 });
      expect([run.status, run.stdout, run.stderr]).toEqual([0, line, ""]);
    }
  });

  it("gpk tools status prints its report on stdout, where a pipe finds it", () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), "gpk-status-"));
    const run = runGpk(["tools", "status", "--only", "kine"], { env: { GPK_TOOLS_DIR: empty, PATH: empty }, timeoutMs: 60_000 });
    expect(run.status).toBe(1);
    expect(run.stdout).toMatch(/^kine v\S+: missing kine\n$/);
    expect(run.stderr).toBe("");
    fs.rmSync(empty, { recursive: true });
  });

  it("gpk local preview and destroy say there is no cluster when none runs", () => {
    const stacks = fs.mkdtempSync(path.join(os.tmpdir(), "gpk-nocluster-"));
    fs.copyFileSync(path.join(REPO_ROOT, "stacks", "Pulumi.local.yaml"), path.join(stacks, "Pulumi.newcomer.yaml"));
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), "gpk-nopath-")); // no kind on PATH: no kind cluster either
    for (const action of ["preview", "destroy"]) {
      const run = runGpk(["local", action, "--stack", "newcomer", "--stacks-dir", stacks], { env: { PATH: empty }, timeoutMs: 60_000 });
      expect([run.status, run.stdout, run.stderr]).toEqual([2, "", "gpk local: no local cluster for stack newcomer: start one with `gpk local up --stack newcomer`\n"]);
    }
    for (const d of [stacks, empty]) fs.rmSync(d, { recursive: true });
  });
});
