/**
 * What the simulated model "says": a deterministic function of (seed, position), so a given
 * prompt always yields the same text, tests can assert on it, and benchmarks replay exactly.
 * The text is simulated filler, not language-model output. Without `ignore_eos` a sequence
 * ends on its own after a seed-derived natural length of 24–255 tokens (finish_reason "stop").
 */
import { fnv1a, type Tokenizer } from "./tokenizer";

/**
 * The model's words, each with its leading space and each one tokenizer chunk (at most 7
 * characters). Any run of them re-tokenizes to one token per word, which is also why the
 * Hugging Face export (hf-tokenizer.ts) decodes its ids to these words.
 */
export const MODEL_WORDS: readonly string[] = (
  " the of and to in is that for it as with on be by this are from at an or we can which not " +
  "model token cache block batch GPU queue memory serve step page prefix decode stream tensor kernel " +
  "layer weight value key time load rate fast small large every each many more less new its their"
)
  .split(" ")
  .filter((w) => w.length > 0)
  .map((w) => ` ${w}`);

export class SimulatedModel {
  private readonly wordIds: number[];
  private readonly byId = new Map<number, string>();

  constructor(private readonly tokenizer: Tokenizer) {
    const vocab = [...MODEL_WORDS, ".", ","];
    this.wordIds = vocab.map((w) => tokenizer.idOf(w));
    vocab.forEach((w, i) => this.byId.set(this.wordIds[i]!, w));
  }

  /** A default seed for a prompt: equal prompts, equal outputs. */
  seedFor(promptTokenIds: readonly number[]): number {
    let h = 0x811c9dc5;
    for (const id of promptTokenIds) h = Math.imul(h ^ id, 0x01000193);
    return h >>> 0;
  }

  /** Output length at which the model emits its end of sequence. */
  naturalLength(seed: number): number {
    return 24 + (fnv1a(`len:${seed}`) % 232);
  }

  /** The token at output position `index`: a word, with a full stop every 12th and a comma every 7th. */
  tokenAt(seed: number, index: number): number {
    if (index % 12 === 11) return this.wordIds[MODEL_WORDS.length]!;
    // No comma next to a full stop: adjacent punctuation would tokenize as one chunk.
    if (index % 7 === 6 && index % 12 !== 10 && index % 12 !== 0) return this.wordIds[MODEL_WORDS.length + 1]!;
    return this.wordIds[fnv1a(`${seed}:${index}`) % MODEL_WORDS.length]!;
  }

  /** Text of tokens this model produced (ids it did not produce decode to nothing). */
  decode(tokenIds: readonly number[]): string {
    let s = "";
    for (const id of tokenIds) s += this.byId.get(id) ?? "";
    return s;
  }
}
