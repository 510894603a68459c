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
});
