/**
 * The workloads a capacity search replays: a JSONL file in `gpk serve --replay`'s format, or a
 * named shape, whose requests are drawn from its input and output length distributions with a
 * fixed seed (the same name and seed, the same requests). The shapes are the kit's own
 * round figures for three kinds of traffic, not fits to a published trace: a plan for real
 * traffic should replay a sample of it.
 */
import { mulberry32 } from "../../scheduling/rng";
import { parseReplayFile, ReplayInputError, type ReplayRequest } from "../replay";

/** Token lengths: log-normal with this median and log-space σ, clamped to [min, max]. */
export interface LengthDistribution {
  median: number;
  sigma: number;
  min: number;
  max: number;
}

export interface WorkloadShape {
  description: string;
  input: LengthDistribution;
  output: LengthDistribution;
}

export const WORKLOAD_SHAPES = {
  chat: {
    description: "conversational turns: prompts of a few hundred tokens, answers of a few hundred",
    input: { median: 512, sigma: 0.8, min: 16, max: 4096 },
    output: { median: 256, sigma: 0.6, min: 8, max: 1024 },
  },
  rag: {
    description: "retrieval-augmented questions: long prompts (retrieved passages), short answers",
    input: { median: 3000, sigma: 0.4, min: 512, max: 6144 },
    output: { median: 200, sigma: 0.5, min: 16, max: 768 },
  },
  summarize: {
    description: "document summaries: long prompts, medium answers",
    input: { median: 5000, sigma: 0.3, min: 1024, max: 7168 },
    output: { median: 400, sigma: 0.4, min: 64, max: 1024 },
  },
} as const satisfies Record<string, WorkloadShape>;
export type WorkloadShapeName = keyof typeof WORKLOAD_SHAPES;
export const WORKLOAD_SHAPE_NAMES = Object.keys(WORKLOAD_SHAPES) as WorkloadShapeName[];

/** Requests a named shape expands to: enough for a p99 to rest on a few requests, few enough for a search. */
export const SHAPE_REQUESTS = 300;

function draw(d: LengthDistribution, u1: number, u2: number): number {
  // Box–Muller: one standard normal from two uniforms (u1 in (0, 1]).
  const z = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  return Math.min(d.max, Math.max(d.min, Math.round(d.median * Math.exp(d.sigma * z))));
}

/** The shape's requests, drawn with `seed`; no arrival times (the search sets the rate). */
export function shapeRequests(name: WorkloadShapeName, seed: number, count = SHAPE_REQUESTS): ReplayRequest[] {
  const shape: WorkloadShape = WORKLOAD_SHAPES[name];
  const rng = mulberry32(seed ^ 0x5eed);
  const u = () => 1 - rng.next();
  return Array.from({ length: count }, () => ({ inputTokens: draw(shape.input, u(), u()), outputTokens: draw(shape.output, u(), u()) }));
}

/** The JSONL form of requests, as `gpk serve --replay` reads it. */
export function toReplayJsonl(requests: readonly ReplayRequest[]): string {
  return requests.map((r) => JSON.stringify({ input_tokens: r.inputTokens, output_tokens: r.outputTokens })).join("\n") + "\n";
}

/**
 * A JSONL workload's requests for a search, which sets the arrivals itself: a line carrying
 * `arrival_s` is refused (as `gpk serve --replay` refuses it beside `--request-rate`).
 */
export function fileRequests(file: string, text: string): ReplayRequest[] {
  const requests = parseReplayFile(file, text);
  const timed = requests.findIndex((r) => r.arrivalS !== undefined);
  if (timed >= 0) throw new ReplayInputError(`${file}: request ${timed + 1} carries arrival_s; a capacity search sends the requests at the rates it tries, so drop arrival_s`);
  return requests;
}

export function isShapeName(name: string): name is WorkloadShapeName {
  return (WORKLOAD_SHAPE_NAMES as string[]).includes(name);
}
