/**
 * gpk-wordpiece-v1: a deterministic, table-free tokenizer for the simulated engine.
 *
 * Why not a real BPE: the runtime ships as one esbuild bundle in a ConfigMap (~1 MiB), and
 * BPE rank tables (cl100k, o200k, Llama 3's 128k vocabulary) are each larger than that alone.
 * What matters to a serving engine is how many tokens a text costs and that equal texts give
 * equal ids (prefix caching); this scheme gives both, at roughly BPE's ~4–5 characters per token
 * on English prose:
 * 1. special markers `<|...|>` are one token each;
 * 2. the rest splits GPT-style into pieces: an optional space plus a run of letters, a space
 *    plus up to 3 digits, a space plus a run of punctuation, or whitespace;
 * 3. pieces longer than 7 characters (code points; a space and 6 letters) split into 7-character chunks;
 * 4. a chunk's id is FNV-1a of its text modulo the model's vocabulary size.
 * Ids cannot be turned back into text; generated text comes from `SimulatedModel`, whose words
 * are single chunks, so re-tokenizing an output gives the same count.
 *
 * The same rules export to a Hugging Face `tokenizer.json` (hf-tokenizer.ts) that counts exactly
 * as this does, for benchmark clients that count tokens with `transformers`.
 */

/** Regex sources (valid in JavaScript with the `u` flag and in Oniguruma, which HF tokenizers uses). */
export const SPECIAL_SOURCE = String.raw`<\|[a-z_]+\|>`;
export const LETTERS_SOURCE = String.raw` ?\p{L}+`;
export const DIGITS_SOURCE = String.raw` ?\p{N}{1,3}`;
export const PUNCTUATION_CLASS = String.raw`[^\s\p{L}\p{N}]`;
export const WHITESPACE_SOURCE = String.raw`\s+`;
const SPECIAL = new RegExp(SPECIAL_SOURCE, "g");
const PIECE = new RegExp([LETTERS_SOURCE, DIGITS_SOURCE, ` ?${PUNCTUATION_CLASS}+`, WHITESPACE_SOURCE].join("|"), "gu");
export const MAX_CHUNK = 7;

export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export class Tokenizer {
  constructor(readonly vocabSize: number) {}

  /** Token id of one chunk (used by the simulated model for its own words too). */
  idOf(chunk: string): number {
    return fnv1a(chunk) % this.vocabSize;
  }

  encode(text: string): number[] {
    const ids: number[] = [];
    let last = 0;
    for (const m of text.matchAll(SPECIAL)) {
      this.encodePlain(text.slice(last, m.index), ids);
      ids.push(this.idOf(m[0]));
      last = m.index + m[0].length;
    }
    this.encodePlain(text.slice(last), ids);
    return ids;
  }

  count(text: string): number {
    return this.encode(text).length;
  }

  private encodePlain(text: string, out: number[]): void {
    for (const m of text.matchAll(PIECE)) {
      const piece = m[0];
      // At most 7 UTF-16 units is at most 7 characters: one chunk, the common case.
      if (piece.length <= MAX_CHUNK) {
        out.push(this.idOf(piece));
        continue;
      }
      const chars = Array.from(piece);
      for (let i = 0; i < chars.length; i += MAX_CHUNK) out.push(this.idOf(chars.slice(i, i + MAX_CHUNK).join("")));
    }
  }
}

export interface ChatMessage {
  role: string;
  content: string;
}

/**
 * Renders chat messages the way Llama 3's chat template does (header markers around each role,
 * `<|eot_id|>` after each turn, an open assistant header last), so chat prompts cost the
 * template's extra tokens as they would on vLLM.
 */
export function renderChat(messages: readonly ChatMessage[]): string {
  let s = "<|begin_of_text|>";
  for (const m of messages) s += `<|start_header_id|>${m.role}<|end_header_id|>\n\n${m.content.trim()}<|eot_id|>`;
  return `${s}<|start_header_id|>assistant<|end_header_id|>\n\n`;
}
