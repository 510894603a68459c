/**
 * Texts that exercise every rule of gpk-wordpiece-v1: prose, the simulated model's own output,
 * Llama 3's chat markers, marker look-alikes next to punctuation, long words, digit runs, CJK,
 * astral characters (emoji) and whitespace runs, plus seeded random strings over those parts.
 * Shared by the exported tokenizer's tests (npm test and the e2e with transformers).
 */
import { mulberry32 } from "../../runtime/scheduling/rng";
import { SimulatedModel } from "../../runtime/serving/engine/simulated-model";
import { Tokenizer, renderChat } from "../../runtime/serving/engine/tokenizer";

const PARTS = [
  "the", " cache", " supercalifragilistic", "1234567", " 3.14159", "!!", "?!.", " ", "   ", "\n\n", "\t",
  "<|eot_id|>", "<|begin_of_text|>", "<|", "|>", "<|x", "y|>", "<unk>", "[UNK]", "日本語テキスト", "café", "naïve",
  "🙂", "🙂🙂🙂🙂🙂🙂🙂🙂", "a", "Z", "_", "-", "—", "€", "\u0000",
];

export function tokenizerCorpus(): string[] {
  const tok = new Tokenizer(128256);
  const model = new SimulatedModel(tok);
  const fixed = [
    "",
    "Paged attention stores the KV cache in fixed-size blocks, allocated on demand.",
    model.decode(Array.from({ length: 300 }, (_, i) => model.tokenAt(7, i))),
    renderChat([{ role: "system", content: "You are terse." }, { role: "user", content: "Count: 1, 22, 333, 4444!" }]),
    "!<|eot_id|>", "x<|not a marker|>y", "<|eot_id|!>", "<|a|><|b|>!!",
  ];
  const rng = mulberry32(2026);
  const random = Array.from({ length: 300 }, () => Array.from({ length: 1 + rng.int(12) }, () => PARTS[rng.int(PARTS.length)]).join(""));
  return [...fixed, ...random];
}
