/**
 * gpk-wordpiece-v1 (tokenizer.ts) as a Hugging Face tokenizer directory: `tokenizer.json` (the
 * `tokenizers` library's serialisation: pre-tokenizer, model, no normaliser) and
 * `tokenizer_config.json`, so `transformers.AutoTokenizer.from_pretrained(<dir>)` loads it
 * offline and counts tokens exactly as `gpk serve` does. Benchmark clients (guidellm,
 * inference-perf) count prompt and output tokens that way.
 *
 * The rules map one to one:
 * - a Split pre-tokenizer isolates the pieces: special markers, letters, digits in threes,
 *   punctuation runs (stopping before a marker, which the server splits out first), whitespace;
 * - a second Split cuts each piece into 7-character chunks, leaving markers whole;
 * - a WordLevel model maps every chunk to one id. The ids are not the server's (its ids are
 *   hashes, which no vocabulary lists); only counts are meant to agree.
 * Oniguruma, which `tokenizers` uses, reads these patterns as JavaScript does with the `u` flag.
 */
import { DIGITS_SOURCE, LETTERS_SOURCE, MAX_CHUNK, PUNCTUATION_CLASS, SPECIAL_SOURCE, WHITESPACE_SOURCE } from "./tokenizer";

export const HF_TOKENIZER_NAME = "gpk-wordpiece-v1";
const UNK = "<unk>";

export interface HfTokenizerFiles {
  "tokenizer.json": unknown;
  "tokenizer_config.json": unknown;
}

export function hfTokenizerFiles(modelMaxLength: number): HfTokenizerFiles {
  const punctuation = `(?:(?!${SPECIAL_SOURCE})${PUNCTUATION_CLASS})+`;
  const pieces = [SPECIAL_SOURCE, LETTERS_SOURCE, DIGITS_SOURCE, ` ?${punctuation}`, WHITESPACE_SOURCE].join("|");
  const chunks = `${SPECIAL_SOURCE}|[\\s\\S]{1,${MAX_CHUNK}}`;
  const split = (regex: string) => ({ type: "Split", pattern: { Regex: regex }, behavior: "Isolated", invert: false });
  return {
    "tokenizer.json": {
      version: "1.0",
      truncation: null,
      padding: null,
      // No added tokens: an added (special) token would be matched in text before pre-tokenizing,
      // and "<unk>" in a prompt would then count 1 instead of the server's 3.
      added_tokens: [],
      normalizer: null,
      pre_tokenizer: { type: "Sequence", pretokenizers: [split(pieces), split(chunks)] },
      post_processor: null,
      decoder: null,
      model: { type: "WordLevel", vocab: { [UNK]: 0 }, unk_token: UNK },
    },
    "tokenizer_config.json": {
      tokenizer_class: "PreTrainedTokenizerFast",
      name_or_path: HF_TOKENIZER_NAME,
      model_max_length: modelMaxLength,
      clean_up_tokenization_spaces: false,
    },
  };
}
