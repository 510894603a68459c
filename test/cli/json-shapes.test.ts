/**
 * Each `--json` document is declared once (cli/json-shapes.ts). Here: the notation itself, every
 * help text and doc showing the declaration, and the real output of the commands that run
 * without a cluster checked against it. The commands that need one (local, diagnose, defrag,
 * checkpoints) are checked where their tests run them: test/e2e, test/cli/diagnose.test.ts,
 * test/cli/defrag.test.ts, test/checkpoints.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonShape, shapeProblems } from "../../cli/json-shape";
import { JSON_SHAPES } from "../../cli/json-shapes";
import { COMMANDS } from "../../cli/main";
import { OPENB_DIR } from "../../data/paths";
import { expectJsonShape } from "./json-shape-assert";
import { GPK, REPO_ROOT, runGpk } from "./run-gpk";

describe("the shape notation", () => {
  const shape = jsonShape('{"a","b"?,"c":[{"d":"x"|"y"}],"e":{<any>:{"f"}},"g":[names],"h":null|{"i"}}');
  const good = { a: 1, c: [{ d: "x" }, { d: "y" }], e: { k1: { f: 1 }, k2: { f: [] } }, g: ["n"], h: null };

  it("accepts a document of the shape, optional keys absent or present", () => {
    expect(shapeProblems(shape, good)).toEqual([]);
    expect(shapeProblems(shape, { ...good, b: "here", h: { i: 0 } })).toEqual([]);
  });

  it("names each departure: a key missing, a key not declared, a wrong literal, a list where an object goes", () => {
    const { a: _a, ...noA } = good;
    expect(shapeProblems(shape, noA)).toEqual(['$: key "a" declared but missing']);
    expect(shapeProblems(shape, { ...good, z: 1 })).toEqual(['$: key "z" printed but not declared']);
    expect(shapeProblems(shape, { ...good, c: [{ d: "w" }] })).toEqual(['$.c[0].d: expected "x" or "y", got "w"']);
    expect(shapeProblems(shape, { ...good, e: { k: { f: 1, extra: 2 } } })).toEqual(['$.e.k: key "extra" printed but not declared']);
    expect(shapeProblems(shape, { ...good, h: [] })).toEqual(["$.h: expected an object, got a list"]);
    expect(shapeProblems(jsonShape('[{"a"}]'), { a: 1 })).toEqual(["$: expected a list, got an object"]);
  });

  it("refuses a malformed declaration when it loads", () => {
    expect(() => jsonShape('{"a",}')).toThrow(/JSON shape .*: expected "/);
    expect(() => jsonShape('{"a","a"}')).toThrow(/key "a" twice/);
    expect(() => jsonShape('{"a"')).toThrow(/expected ,/);
  });
});

/** A declaration as prose shows it: whitespace (line breaks, indents) does not count. */
const squeeze = (text: string) => text.replace(/\s+/g, "");
const declarations = Object.entries(JSON_SHAPES).flatMap(([command, variants]) =>
  Object.entries(variants).map(([variant, shape]) => ({ command, variant, text: shape.text })),
);

describe("help texts show the declarations", () => {
  it.each(declarations)("gpk $command --help shows the $variant shape", async ({ command, text }) => {
    expect(Object.keys(COMMANDS)).toContain(command);
    const { command: loaded } = (await import(`../../cli/commands/${command}.ts`)) as { command: { usage: string } };
    expect(squeeze(loaded.usage)).toContain(squeeze(text));
  });
});

describe("README.md and docs/*.md quote only declared shapes", () => {
  // Shapes of other things than a gpk --json document: input formats and HTTP bodies.
  const NOT_OUTPUT = [
    '{"input_tokens","output_tokens","arrival_s"?}', // serve --replay's input lines
    '{"input_tokens","output_tokens"}', // gpk plan serving's workload lines
    '{"error":{"message","type","param","code"}}', // the OpenAI API's error body
    '{"role":"assistant","content":""}', // a chat delta
  ].map(squeeze);
  const files = ["README.md", ...fs.readdirSync(path.join(REPO_ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];
  const quoted = files.flatMap((file) =>
    [...fs.readFileSync(path.join(REPO_ROOT, file), "utf8").matchAll(/`(\[?\{"[^`]*)`/g)]
      .map((m) => m[1]!)
      // The notation: quoted keys in a list (`{"a","b"}`, `{"kind":"x",...}`), not a JSON example (`{"1g.10gb": 14}`).
      .filter((t) => /^\[?\{"[^"]*"(,|\?|:\[|:\{|:"[^"]*",|\})/.test(t) && !/": \d/.test(t))
      .map((text) => ({ file, text })),
  );

  it("finds the shapes the README quotes", () => {
    expect(quoted.filter((q) => q.file === "README.md").length).toBeGreaterThanOrEqual(8);
  });

  it.each(quoted)("$file: $text", ({ text }) => {
    const s = squeeze(text);
    if (NOT_OUTPUT.includes(s)) return;
    expect(declarations.some((d) => squeeze(d.text).includes(s)), `not a declared shape (or part of one) in cli/json-shapes.ts`).toBe(true);
  });
});

describe("real output matches its declaration", () => {
  let dir = "";
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "gpk-shapes-"));
    const head = (file: string, lines: number) => fs.readFileSync(path.join(OPENB_DIR, file), "utf8").split("\n").slice(0, lines + 1).join("\n");
    fs.writeFileSync(path.join(dir, "nodes.csv"), head("openb_node_list_gpu_node.csv", 40));
    fs.writeFileSync(path.join(dir, "pods.csv"), head("openb_pod_list_gpuspec10.csv", 120));
    fs.writeFileSync(path.join(dir, "timed.csv"), head("openb_pod_list_default.csv", 300));
    fs.writeFileSync(path.join(dir, "workload.jsonl"), '{"input_tokens":64,"output_tokens":8}\n{"input_tokens":32,"output_tokens":4,"arrival_s":0.1}\n');
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it.each([
    ["version", "version", () => ["version", "--json"]],
    ["simulate", "artifact", () => ["simulate", "--nodes", `${dir}/nodes.csv`, "--pods", `${dir}/pods.csv`, "--policy", "gpk", "--json"]],
    ["simulate", "replay", () => ["simulate", "--mode", "replay", "--defrag", "gpk", "--nodes", `${dir}/nodes.csv`, "--pods", `${dir}/timed.csv`, "--policy", "gpk", "--json"]],
    ["serve", "replay", () => ["serve", "--replay", `${dir}/workload.jsonl`, "--model", "qwen2.5-0.5b", "--gpu", "l4", "--json"]],
    ["serve", "write-tokenizer", () => ["serve", "--write-tokenizer", `${dir}/tokenizer`, "--json"]],
    ["sim", "nvidia-smi", () => ["sim", "nvidia-smi", "--sim-gpus", "2", "--json"]],
    ["tools", "status", () => ["tools", "status", "--only", "kine", "--json"]],
    ["ray", "start-args", () => ["ray", "start-args", "local", "--json"]],
    ["preview", "preview", () => ["preview", "local", "--no-policies", "--json"]],
  ] as const)("gpk %s (%s)", (command, variant, args) => {
    const run = runGpk([...args()], { timeoutMs: 120_000 });
    expect([0, 1]).toContain(run.status); // tools status is 1 where a tool is not built
    expectJsonShape(command, variant as never, run.stdout);
  });

  it("gpk check (the policy packs' violations)", () => {
    const run = runGpk(["check", "local", "--json"], { timeoutMs: 120_000 });
    expect(run.status).toBe(0);
    expectJsonShape("check", "check", run.stdout);
  });

  /** A server prints its document once it listens; read it, then stop the server. */
  async function firstDocument(args: string[]): Promise<string> {
    const child = spawn(process.execPath, [GPK, ...args], { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    try {
      return await new Promise<string>((resolve, reject) => {
        child.stdout.on("data", (chunk) => {
          out += chunk;
          try {
            JSON.parse(out);
            resolve(out);
          } catch {
            // not whole yet
          }
        });
        child.once("exit", (code) => reject(new Error(`exited ${code}; stdout: ${out}`)));
      });
    } finally {
      child.kill("SIGTERM");
    }
  }

  it("gpk serve and gpk telemetry, once listening", async () => {
    expectJsonShape("serve", "serve", await firstDocument(["serve", "--port", "0", "--host", "127.0.0.1", "--model", "qwen2.5-0.5b", "--gpu", "l4", "--json"]));
    expectJsonShape("telemetry", "telemetry", await firstDocument(["telemetry", "--port", "0", "--host", "127.0.0.1", "--json"]));
  });
});
