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
 *
 * Clients also decode: guidellm and inference-perf build a prompt of N tokens by encoding a
 * corpus (or drawing random ids), decoding N ids and sending the text. So every id decodes to a
 * space-led word of one chunk (the simulated model's words; chunks outside them are the unknown
 * word " unk"), and a Fuse decoder joins them as they are: any decoded run of N ids is N words,
 * which the server counts as N tokens. The text is not the corpus's, but its length is exact.
 */
import { DIGITS_SOURCE, LETTERS_SOURCE, MAX_CHUNK, PUNCTUATION_CLASS, SPECIAL_SOURCE, WHITESPACE_SOURCE } from "./tokenizer";
import { MODEL_WORDS } from "./simulated-model";

export const HF_TOKENIZER_NAME = "gpk-wordpiece-v1";
/** Id 0: every chunk outside the vocabulary. A space-led word, so it decodes to one server token like the others. */
export const HF_UNKNOWN_WORD = " unk";

/** The WordLevel vocabulary: the unknown word, then the model's words. */
export function hfVocabulary(): Record<string, number> {
  return Object.fromEntries([HF_UNKNOWN_WORD, ...MODEL_WORDS].map((word, id) => [word, id]));
}

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
      // and count 1 where the server counts its chunks.
      added_tokens: [],
      normalizer: null,
      pre_tokenizer: { type: "Sequence", pretokenizers: [split(pieces), split(chunks)] },
      post_processor: null,
      decoder: { type: "Fuse" },
      model: { type: "WordLevel", vocab: hfVocabulary(), unk_token: HF_UNKNOWN_WORD },
    },
    "tokenizer_config.json": {
      tokenizer_class: "PreTrainedTokenizerFast",
      name_or_path: HF_TOKENIZER_NAME,
      model_max_length: modelMaxLength,
      clean_up_tokenization_spaces: false,
    },
  };
}
