/**
 * The exported gpk-wordpiece-v1 (`gpk serve --write-tokenizer`) loaded by the real
 * transformers `AutoTokenizer.from_pretrained(<dir>)`, offline and without torch, as benchmark
 * clients load a model's tokenizer: on the shared corpus it counts exactly as the server does.
 * transformers comes from the project's pinned Python environment (tools/python-requirements.txt).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { ensurePythonTools } from "../../cli/tools/python";
import { Tokenizer } from "../../runtime/serving/engine/tokenizer";
import { tokenizerCorpus } from "../serving/tokenizer-corpus";
import { gpk } from "./cluster";

// Reads the corpus as JSON on stdin; prints the token count of each text.
const COUNT = [
  "import json, sys",
  "from transformers import AutoTokenizer",
  "tok = AutoTokenizer.from_pretrained(sys.argv[1], local_files_only=True)",
  "print(json.dumps([len(tok.encode(t, add_special_tokens=False)) for t in json.load(sys.stdin)]))",
].join("\n");

// Reads the corpus as JSON on stdin; for each text, decodes the first half of its ids and a run of
// pseudo-random ids, as guidellm and inference-perf build prompts of a given length.
const DECODE = [
  "import json, random, sys",
  "from transformers import AutoTokenizer",
  "tok = AutoTokenizer.from_pretrained(sys.argv[1], local_files_only=True)",
  "rng = random.Random(5)",
  "out = []",
  "for t in json.load(sys.stdin):",
  "    ids = tok.encode(t, add_special_tokens=False)",
  "    n = len(ids) // 2",
  "    drawn = [rng.randrange(len(tok)) for _ in range(1 + len(t) % 97)]",
  "    out.append([n, tok.decode(ids[:n]), len(drawn), tok.decode(drawn)])",
  "print(json.dumps(out))",
].join("\n");

describe("gpk-wordpiece-v1 through transformers' AutoTokenizer", () => {
  it("counts every corpus text exactly as gpk serve does", () => {
    const dir = path.join(mkdtempSync(path.join(tmpdir(), "gpk-hf-tokenizer-")), "gpk-wordpiece-v1");
    const written = gpk(["serve", "--write-tokenizer", dir, "--model", "llama-3.1-8b"]);
    expect(written.status, written.stderr).toBe(0);
    const python = ensurePythonTools().bin("python");
    const corpus = tokenizerCorpus();
    const run = spawnSync(python, ["-c", COUNT, dir], {
      input: JSON.stringify(corpus), encoding: "utf8", timeout: 120_000, maxBuffer: 16 * 1024 * 1024,
      env: { ...process.env, HF_HUB_OFFLINE: "1", TRANSFORMERS_OFFLINE: "1" },
    });
    expect(run.status, run.stderr).toBe(0);
    const counts = JSON.parse(run.stdout.trim().split("\n").at(-1)!) as number[];
    const server = new Tokenizer(128256);
    expect(counts).toEqual(corpus.map((text) => server.count(text)));
  });

  it("decodes ids to text the server counts as that many tokens", () => {
    const dir = path.join(mkdtempSync(path.join(tmpdir(), "gpk-hf-tokenizer-")), "gpk-wordpiece-v1");
    expect(gpk(["serve", "--write-tokenizer", dir]).status).toBe(0);
    const run = spawnSync(ensurePythonTools().bin("python"), ["-c", DECODE, dir], {
      input: JSON.stringify(tokenizerCorpus()), encoding: "utf8", timeout: 120_000, maxBuffer: 16 * 1024 * 1024,
      env: { ...process.env, HF_HUB_OFFLINE: "1", TRANSFORMERS_OFFLINE: "1" },
    });
    expect(run.status, run.stderr).toBe(0);
    const decoded = JSON.parse(run.stdout.trim().split("\n").at(-1)!) as [number, string, number, string][];
    const server = new Tokenizer(128256);
    expect(decoded.map(([, text, , drawn]) => [server.count(text), server.count(drawn)])).toEqual(decoded.map(([n, , m]) => [n, m]));
  });
});
