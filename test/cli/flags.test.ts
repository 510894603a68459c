/**
 * Flag errors are the kit's own (runtime/flags.ts): one line naming the flag, pointing at the
 * command's --help; a value from a GPK_* variable is reported under the variable's name.
 */
import { describe, expect, it } from "vitest";
import { FlagError, closest, numberValue, parseFlagArgs, requiredValue } from "../../runtime/flags";
import { COMMANDS } from "../../cli/main";
import { runGpk } from "./run-gpk";

const SPECS = {
  port: { type: "string", env: "GPK_TEST_PORT", default: "80" },
  budget: { type: "string" },
  json: { type: "boolean", default: false },
  "telemetry-url": { type: "string", multiple: true },
} as const;

function flagError(run: () => unknown): FlagError {
  try {
    run();
  } catch (err) {
    if (err instanceof FlagError) return err;
    throw err;
  }
  throw new Error("expected a FlagError");
}

describe("parseFlagArgs", () => {
  it("reads --name value, --name=value, booleans, repeats, defaults and positionals", () => {
    const parsed = parseFlagArgs(["a", "--budget", "3", "--telemetry-url=http://x", "--telemetry-url", "http://y", "--json", "--", "--budget"], SPECS);
    expect(parsed.values).toEqual({ port: "80", budget: "3", json: true, "telemetry-url": ["http://x", "http://y"] });
    expect(parsed.positionals).toEqual(["a", "--budget"]);
    expect(parsed.label("port")).toBe("--port");
  });

  it("takes a negative number as a value, so a count can refuse it by name", () => {
    expect(parseFlagArgs(["--budget", "-2"], SPECS).values.budget).toBe("-2");
    expect(flagError(() => numberValue("budget", "-2", { min: 1, max: 1000, integer: true })).message).toBe("--budget: expected an integer between 1 and 1000, got -2");
    expect(flagError(() => numberValue("real-nodes", "-1", { min: 0, integer: true })).message).toBe("--real-nodes: expected an integer of at least 0, got -1");
  });

  it.each([
    [["--bugdet", "3"], "unknown flag --bugdet (did you mean --budget?)"],
    [["--frobnicate"], "unknown flag --frobnicate"],
    [["-x"], "unknown flag -x"],
    [["--budget"], "--budget: missing value"],
    [["--budget", "--json"], "--budget: missing value"],
    [["--json=yes"], '--json: takes no value, got "yes"'],
  ])("%j: %s", (argv, message) => {
    expect(flagError(() => parseFlagArgs(argv, SPECS)).message).toBe(message);
  });

  it("refuses a positional where a command takes none", () => {
    expect(flagError(() => parseFlagArgs(["extra"], SPECS, { allowPositionals: false })).message).toBe('unexpected argument "extra"');
  });

  it("reads a flag's variable when the flag is absent, and names the variable in messages", () => {
    const fromEnv = parseFlagArgs([], SPECS, { env: { GPK_TEST_PORT: "x" } });
    expect(fromEnv.values.port).toBe("x");
    expect(fromEnv.label("port")).toBe("GPK_TEST_PORT");
    expect(flagError(() => numberValue(fromEnv.label("port"), "x", { integer: true })).message).toBe('GPK_TEST_PORT: expected an integer, got "x"');
    const flagWins = parseFlagArgs(["--port", "9"], SPECS, { env: { GPK_TEST_PORT: "x" } });
    expect([flagWins.values.port, flagWins.label("port")]).toEqual(["9", "--port"]);
    expect(parseFlagArgs([], SPECS, { env: { GPK_TEST_PORT: "" } }).label("port")).toBe("--port");
  });

  it("says a required flag is required", () => {
    expect(flagError(() => requiredValue("bucket", undefined)).message).toBe("--bucket: required");
    expect(flagError(() => requiredValue("policy", "", "one of a, b")).message).toBe("--policy: required; one of a, b");
  });

  it("suggests only a close name", () => {
    expect(closest("polcy", ["policy", "pods"])).toBe("policy");
    expect(closest("jsn", ["json", "seed"])).toBe("json");
    expect(closest("zzzzzz", ["policy", "pods"])).toBeUndefined();
    expect(closest("gkp:target", ["gpk:target", "gpk:tenants"])).toBe("gpk:target");
  });
});

/** The real binary: each class of bad flag is exit 2, nothing on stdout, one exact line on stderr. */
describe("gpk flag errors", () => {
  it.each([
    // unknown flag
    [["simulate", "--polcy", "fgd"], "gpk simulate: unknown flag --polcy (did you mean --policy?); see `gpk simulate --help`"],
    [["sim", "nvidia-smi", "--sim-gpu", "2"], "gpk sim: unknown flag --sim-gpu (did you mean --sim-gpus?); see `gpk sim --help`"],
    [["extender", "--bogus"], "gpk extender: unknown flag --bogus; see `gpk extender --help`"],
    [["--verbose"], "gpk: unknown flag --verbose before a command; see `gpk --help`"],
    [["simulte"], `gpk: unknown command "simulte" (did you mean simulate?); commands: ${Object.keys(COMMANDS).join(", ")}`],
    // missing value
    [["simulate", "--policy", "fgd", "--nodes"], "gpk simulate: --nodes: missing value; see `gpk simulate --help`"],
    [["tools", "status", "--only", "--json"], "gpk tools: --only: missing value; see `gpk tools --help`"],
    [["sim", "nvidia-smi", "--sim-gpus", "-L"], "gpk sim: --sim-gpus: missing value; see `gpk sim --help`"],
    // a boolean given a value
    [["version", "--json=1"], 'gpk version: --json: takes no value, got "1"; see `gpk version --help`'],
    // negative numbers where a count is expected
    [["defrag", "--budget", "-2"], "gpk defrag: --budget: expected an integer between 1 and 1000, got -2; see `gpk defrag --help`"],
    [["serve", "--max-num-seqs", "-4"], "gpk serve: --max-num-seqs: expected an integer of at least 1, got -4; see `gpk serve --help`"],
    [["sim", "nvidia-smi", "--sim-gpus", "-1"], "gpk sim: --sim-gpus: expected an integer between 1 and 64, got -1; see `gpk sim --help`"],
    [["local", "up", "--real-nodes", "-1"], "gpk local: --real-nodes: expected an integer of at least 0, got -1; see `gpk local --help`"],
    // required flags left out
    [["simulate", "--nodes", "n.csv", "--pods", "p.csv"], "gpk simulate: --policy: required; one of random, dotprod, gpu-clustering, gpu-packing, best-fit, fgd, gpk, gpk-scarcity; see `gpk simulate --help`"],
    [["simulate", "--policy", "fgd"], "gpk simulate: --nodes: required; see `gpk simulate --help`"],
    [["checkpoints", "list"], "gpk checkpoints: --bucket: required; see `gpk checkpoints --help`"],
    [["checkpoints", "restore", "--bucket", "b", "--to", "v1"], "gpk checkpoints: --key: required; restore names the object to restore; see `gpk checkpoints --help`"],
  ])("gpk %j", (args, line) => {
    const run = runGpk(args, { timeoutMs: 60_000 });
    expect([run.status, run.stdout, run.stderr]).toEqual([2, "", `${line}\n`]);
  });

  it.each([
    [["telemetry"], { GPK_TELEMETRY_PORT: "abc" }, 'gpk telemetry: GPK_TELEMETRY_PORT: expected an integer, got "abc"; see `gpk telemetry --help`'],
    [["telemetry"], { GPK_TELEMETRY_SOURCE: "dcgm" }, 'gpk telemetry: GPK_TELEMETRY_SOURCE: expected sim or nvidia-smi, got "dcgm"; see `gpk telemetry --help`'],
    [["extender"], { GPK_EXTENDER_PORT: "70000" }, "gpk extender: GPK_EXTENDER_PORT: expected an integer between 0 and 65535, got 70000; see `gpk extender --help`"],
    [["extender"], { GPK_EXTENDER_HOT_TEMPERATURE_C: "hot" }, 'gpk extender: GPK_EXTENDER_HOT_TEMPERATURE_C: expected degrees Celsius between 0 and 150, got "hot"; see `gpk extender --help`'],
    [["serve"], { GPK_SERVING_MAX_NUM_SEQS: "many" }, 'gpk serve: GPK_SERVING_MAX_NUM_SEQS: expected an integer, got "many"; see `gpk serve --help`'],
    [["serve", "--write-tokenizer", "/nonexistent-gpk/tok"], { GPK_SERVING_MAX_NUM_SEQS: "0" }, "gpk serve: GPK_SERVING_MAX_NUM_SEQS: expected an integer of at least 1, got 0; see `gpk serve --help`"],
    [["serve"], { GPK_SERVING_ENABLE_PREFIX_CACHING: "yes" }, 'gpk serve: GPK_SERVING_ENABLE_PREFIX_CACHING: expected true or false, got "yes"; see `gpk serve --help`'],
    [["sim", "nvidia-smi", "-L"], { GPK_SIM_GPUS: "-1" }, 'gpk sim: GPK_SIM_GPUS: expected an integer between 1 and 64, got "-1"'],
  ])("gpk %j with %j names the variable", (args, env, line) => {
    const run = runGpk(args, { env, timeoutMs: 60_000 });
    expect([run.status, run.stdout, run.stderr]).toEqual([2, "", `${line}\n`]);
  });
});
