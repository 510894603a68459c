/**
 * Bad input a newcomer meets first: a stack file whose keys are misplaced or misspelt, and path
 * arguments that are missing, a file where a folder goes, or a folder where a file goes. Each is
 * exit 2 with one line naming the mistake, never "internal error".
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UsageError } from "../../cli/contract";
import { readStackConfig } from "../../cli/render/stack-files";
import { REPO_ROOT, runGpk } from "./run-gpk";

let dir = "";
let file = "";
let stacks = "";

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "gpk-bad-input-"));
  file = path.join(dir, "a-file");
  fs.writeFileSync(file, "not a folder\n");
  stacks = path.join(dir, "stacks");
  fs.mkdirSync(stacks);
  const local = fs.readFileSync(path.join(REPO_ROOT, "stacks", "Pulumi.local.yaml"), "utf8");
  fs.writeFileSync(path.join(stacks, "Pulumi.typo.yaml"), local.replace("gpk:target:", "gkp:target:"));
  fs.writeFileSync(path.join(stacks, "Pulumi.bare.yaml"), local.replace(/^config:\n/m, "").replace(/^ {2}/gm, ""));
  fs.writeFileSync(path.join(stacks, "Pulumi.conf.yaml"), local.replace(/^config:$/m, "conf:"));
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function usageError(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error("accepted");
}

describe("a stack file's shape", () => {
  const rel = (name: string) => path.relative(process.cwd(), path.join(stacks, name));

  it("names config keys left outside `config:`", () => {
    expect(usageError(() => readStackConfig(path.join(stacks, "Pulumi.bare.yaml")))).toBe(`${rel("Pulumi.bare.yaml")}: \`gpk:target\` and 6 more keys sit at the top level; put them under \`config:\``);
  });

  it("names a misspelt `config:`", () => {
    expect(usageError(() => readStackConfig(path.join(stacks, "Pulumi.conf.yaml")))).toBe(`${rel("Pulumi.conf.yaml")}: unknown top-level key \`conf\`; did you mean \`config\`?`);
  });

  it("names an empty file and one that is not a map", () => {
    const empty = path.join(stacks, "Pulumi.empty.yaml");
    fs.writeFileSync(empty, "# nothing yet\n");
    expect(usageError(() => readStackConfig(empty))).toBe(`${rel("Pulumi.empty.yaml")}: empty; expected a \`config:\` map of gpk:* keys`);
    const list = path.join(stacks, "Pulumi.list.yaml");
    fs.writeFileSync(list, "- gpk:target: kind\n");
    expect(usageError(() => readStackConfig(list))).toBe(`${rel("Pulumi.list.yaml")}: expected a map with a \`config:\` key, got a list`);
    fs.rmSync(empty);
    fs.rmSync(list);
  });

  it("gpk preview reports a misspelt namespace as the one mistake, exit 2", () => {
    const run = runGpk(["preview", "typo", "--no-policies", "--stacks-dir", stacks]);
    expect(run.status).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr.trimEnd().split("\n").filter((l) => !l.startsWith("Rendering"))).toEqual(["gpk preview: unknown key `gkp:target`; did you mean `gpk:target`?"]);
  });

  it("gpk local reports the same line", () => {
    const run = runGpk(["local", "up", "--stack", "typo", "--stacks-dir", stacks]);
    expect([run.status, run.stdout, run.stderr]).toEqual([2, "", "gpk local: unknown key `gkp:target`; did you mean `gpk:target`?\n"]);
  });
});

describe("path arguments", () => {
  const missing = () => path.join(dir, "missing");
  const cases: [string, () => string[], () => Record<string, string>, () => string][] = [
    ["--nodes, a folder", () => ["simulate", "--policy", "fgd", "--nodes", dir, "--pods", file], () => ({}), () => `gpk simulate: --nodes: ${dir} is a folder; expected a file`],
    ["--pods, missing", () => ["simulate", "--policy", "fgd", "--nodes", file, "--pods", missing()], () => ({}), () => `gpk simulate: --pods: no such file: ${missing()}`],
    ["--pods, below a file", () => ["simulate", "--policy", "fgd", "--nodes", file, "--pods", `${file}/p.csv`], () => ({}), () => `gpk simulate: --pods: no such file: ${file}/p.csv (a part of the path is a file)`],
    ["--replay, a folder", () => ["serve", "--replay", dir], () => ({}), () => `gpk serve: --replay: ${dir} is a folder; expected a file`],
    ["--write-tokenizer, a file", () => ["serve", "--write-tokenizer", file], () => ({}), () => `gpk serve: --write-tokenizer: ${file} is a file; expected a folder`],
    ["--write-tokenizer, below a file", () => ["serve", "--write-tokenizer", `${file}/tok`], () => ({}), () => `gpk serve: --write-tokenizer: cannot create ${file}/tok: ${file} is a file`],
    ["--sim-state, a folder", () => ["sim", "nvidia-smi", "--sim-state", dir], () => ({}), () => `gpk sim: --sim-state: ${dir} is a folder; expected a file`],
    ["GPK_SIM_STATE, missing", () => ["sim", "nvidia-smi"], () => ({ GPK_SIM_STATE: missing() }), () => `gpk sim: GPK_SIM_STATE: no such file: ${missing()}`],
    ["--state-file, a folder", () => ["telemetry", "--state-file", dir], () => ({}), () => `gpk telemetry: --state-file: ${dir} is a folder; expected a file`],
    ["--follow-state from GPK_SIM_STATE, a folder", () => ["telemetry"], () => ({ GPK_SIM_STATE: dir }), () => `gpk telemetry: GPK_SIM_STATE: ${dir} is a folder; expected a file`],
    ["--snapshot, missing", () => ["extender", "--snapshot", missing()], () => ({}), () => `gpk extender: --snapshot: no such file: ${missing()}`],
    ["--tls-cert, a folder", () => ["extender", "--tls-cert", dir, "--tls-key", file, "--client-ca", file], () => ({}), () => `gpk extender: --tls-cert: ${dir} is a folder; expected a file`],
    ["--kubeconfig, a folder", () => ["diagnose", "--kubeconfig", dir], () => ({}), () => `gpk diagnose: --kubeconfig: ${dir} is a folder; expected a file`],
    ["KUBECONFIG, missing", () => ["defrag"], () => ({ KUBECONFIG: missing() }), () => `gpk defrag: KUBECONFIG: no such file: ${missing()}`],
    ["--stacks-dir, a file", () => ["preview", "local", "--stacks-dir", file], () => ({}), () => `gpk preview: --stacks-dir: ${file} is a file; expected a folder`],
    ["--stacks-dir, missing", () => ["ray", "start-args", "local", "--stacks-dir", missing()], () => ({}), () => `gpk ray: --stacks-dir: no such folder: ${missing()}`],
    ["--policy-pack, a file", () => ["local", "preview", "--runtime", "binaries", "--policy-pack", file], () => ({}), () => `gpk local: --policy-pack: ${file} is a file; expected a folder`],
    ["GPK_TOOLS_DIR, a file", () => ["tools", "status"], () => ({ GPK_TOOLS_DIR: file }), () => `gpk tools: GPK_TOOLS_DIR: ${file} is a file; expected a folder`],
  ];

  it.each(cases)("%s", (_label, args, env, line) => {
    const run = runGpk(args(), { env: env(), timeoutMs: 60_000 });
    expect([run.status, run.stdout, run.stderr]).toEqual([2, "", `${line()}\n`]);
  });
});
