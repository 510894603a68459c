/**
 * gpk-wordpiece-v1 exported in Hugging Face format (runtime/serving/engine/hf-tokenizer.ts):
 * the files `gpk serve --write-tokenizer` writes, and the exported pre-tokenizer, run here with
 * the `tokenizers` library's Split semantics (each match isolated, the text between matches kept
 * as pieces), counting exactly as the server's tokenizer on the shared corpus.
 * test/e2e/47-tokenizer.e2e.ts loads the same files with transformers' AutoTokenizer.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { HF_UNKNOWN_WORD, hfTokenizerFiles, hfVocabulary } from "../../runtime/serving/engine/hf-tokenizer";
import { MODEL_WORDS } from "../../runtime/serving/engine/simulated-model";
import { mulberry32 } from "../../runtime/scheduling/rng";
import { Tokenizer } from "../../runtime/serving/engine/tokenizer";
import { runGpk } from "../cli/run-gpk";
import { tokenizerCorpus } from "./tokenizer-corpus";

/** tokenizers' Split with behavior Isolated: every match is a piece, and so is every gap between matches. */
function splitIsolated(pieces: string[], source: string): string[] {
  const re = new RegExp(source, "gu");
  return pieces.flatMap((piece) => {
    const out: string[] = [];
    let last = 0;
    for (const m of piece.matchAll(re)) {
      if (m.index > last) out.push(piece.slice(last, m.index));
      if (m[0].length > 0) out.push(m[0]);
      last = m.index + m[0].length;
    }
    if (last < piece.length) out.push(piece.slice(last));
    return out;
  });
}

describe("gpk-wordpiece-v1 in Hugging Face format", () => {
  const json = hfTokenizerFiles(2048)["tokenizer.json"] as any;

  it("is a WordLevel model behind two Split pre-tokenizers, with no added tokens and a Fuse decoder", () => {
    expect(json.model).toEqual({ type: "WordLevel", vocab: hfVocabulary(), unk_token: HF_UNKNOWN_WORD });
    expect(json.model.vocab[HF_UNKNOWN_WORD]).toBe(0);
    expect(Object.keys(json.model.vocab).slice(1)).toEqual(MODEL_WORDS);
    expect(json.added_tokens).toEqual([]);
    expect(json.decoder).toEqual({ type: "Fuse" });
    expect(json.pre_tokenizer.pretokenizers.map((p: any) => [p.type, p.behavior])).toEqual([["Split", "Isolated"], ["Split", "Isolated"]]);
  });

  it("decodes any run of ids to text the server counts as that many tokens", () => {
    // A Fuse decoder concatenates the ids' strings; clients send that text as an N-token prompt.
    const tok = new Tokenizer(128256);
    const words = Object.entries(json.model.vocab as Record<string, number>).sort((a, b) => a[1] - b[1]).map(([w]) => w);
    expect(words.every((w) => tok.count(w) === 1)).toBe(true);
    const rng = mulberry32(11);
    for (const n of [1, 2, 17, 64, 500]) {
      const ids = Array.from({ length: n }, () => Math.floor(rng.next() * words.length));
      expect(tok.count(ids.map((id) => words[id]).join(""))).toBe(n);
    }
  });

  it("splits every corpus text into as many pieces as the server counts tokens", () => {
    const tok = new Tokenizer(128256);
    const [pieces, chunks] = json.pre_tokenizer.pretokenizers.map((p: any) => p.pattern.Regex as string);
    const corpus = tokenizerCorpus();
    expect(corpus.length).toBeGreaterThan(300);
    const exported = corpus.map((text) => splitIsolated(splitIsolated([text], pieces), chunks).length);
    expect(exported).toEqual(corpus.map((text) => tok.count(text)));
  });

  it("gpk serve --write-tokenizer writes both files with the model's context as model_max_length", () => {
    const dir = path.join(mkdtempSync(path.join(tmpdir(), "gpk-tokenizer-")), "llama");
    const run = runGpk(["serve", "--write-tokenizer", dir, "--model", "llama-3-8b", "--json"]);
    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ dir, files: ["tokenizer.json", "tokenizer_config.json"], modelMaxLength: 8192 });
    expect(JSON.parse(readFileSync(path.join(dir, "tokenizer_config.json"), "utf8"))).toMatchObject({ tokenizer_class: "PreTrainedTokenizerFast", model_max_length: 8192 });
    expect(JSON.parse(readFileSync(path.join(dir, "tokenizer.json"), "utf8"))).toEqual(hfTokenizerFiles(8192)["tokenizer.json"]);
    // A path under a regular file cannot be a directory.
    const under = path.join(dir, "tokenizer.json", "x");
    const bad = runGpk(["serve", "--write-tokenizer", under]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe(`gpk serve: --write-tokenizer: cannot create ${under}: ${path.join(dir, "tokenizer.json")} is a file\n`);
  });
});
