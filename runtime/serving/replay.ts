/**
 * `gpk serve --replay`: a workload run through the engine on the virtual clock, reported the
 * way vLLM's serving benchmark reports a run against a server (`vllm bench serve`;
 * vllm-project/vllm benchmarks/benchmark_serving.py, `calculate_metrics`, v0.6.0 and later):
 *
 * - a request is sent at its arrival time: the line's `arrival_s`, else a Poisson process at
 *   `--request-rate` (seeded exponential gaps, as the benchmark draws them), else all at t=0;
 * - with `--max-concurrency C`, at most C requests are in flight; the rest wait in arrival
 *   order and are sent as slots free (the benchmark's semaphore), timed from that moment;
 * - the server's front end takes each sent request in before the engine sees it, in turns with
 *   the engine's steps (FRONT_END_SECONDS_PER_REQUEST below), and that time counts in TTFT;
 * - TTFT is from send to the first output token; TPOT is (latency − TTFT) / (output tokens − 1),
 *   only for requests with more than one output token; ITL is every gap between consecutive
 *   output tokens; percentiles are linear between closest ranks (numpy's default);
 * - duration is from the first send to the last finish; throughputs are completed requests
 *   and the input and output tokens of completed requests over it.
 *
 * Each request's prompt is `input_tokens` distinct token ids (no accidental prefix-cache hits)
 * and it generates exactly `output_tokens` (ignore_eos). A line with `output_tokens` 0 stands
 * for a request whose only token was its end of sequence (published results have them): it
 * generates one token and counts none. A request the engine refuses (longer than
 * --max-model-len) counts as failed, not completed.
 */
import { LLMEngine } from "./engine/engine";
import type { EngineConfig } from "./engine/config";
import { VirtualClock } from "./engine/clock";
import { mulberry32 } from "../scheduling/rng";

export interface ReplayRequest {
  inputTokens: number;
  outputTokens: number;
  arrivalS?: number;
}

export interface ReplayOptions {
  /** Requests per second of a Poisson process; Infinity (the default) sends all at once. */
  requestRate?: number;
  maxConcurrency?: number;
  seed?: number;
  /** Called for each completed request, in request order, with its TTFT and end-to-end latency in seconds. */
  onCompleted?: (index: number, timing: { ttftS: number; latencyS: number }) => void;
}

export interface Distribution {
  mean: number;
  p50: number;
  p99: number;
}

/** The `gpk serve --replay --json` contract. */
export interface ReplayReport {
  requests: number;
  completed: number;
  failed: number;
  durationS: number;
  requestThroughput: number;
  inputTokensPerS: number;
  outputTokensPerS: number;
  ttftMs: Distribution;
  tpotMs: Distribution;
  itlMs: Distribution;
  preemptions: number;
}

export class ReplayInputError extends Error {
  override readonly name = "ReplayInputError";
}

const KEYS = new Set(["input_tokens", "output_tokens", "arrival_s"]);

/** One request per non-empty line: {"input_tokens","output_tokens","arrival_s"?}; a bad line throws naming `file:line`. */
export function parseReplayFile(file: string, text: string): ReplayRequest[] {
  const out: ReplayRequest[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (line === "") return;
    const at = `${file}:${i + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      throw new ReplayInputError(`${at}: not JSON: ${(err as Error).message}`);
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw new ReplayInputError(`${at}: expected an object {"input_tokens","output_tokens","arrival_s"?}`);
    const o = value as Record<string, unknown>;
    const unknown = Object.keys(o).find((k) => !KEYS.has(k));
    if (unknown !== undefined) throw new ReplayInputError(`${at}: unknown key ${JSON.stringify(unknown)}; expected input_tokens, output_tokens, arrival_s`);
    const int = (key: string, min: number) => {
      const v = o[key];
      if (typeof v !== "number" || !Number.isInteger(v) || v < min) throw new ReplayInputError(`${at}: "${key}" must be an integer of at least ${min}, got ${JSON.stringify(v)}`);
      return v;
    };
    const request: ReplayRequest = { inputTokens: int("input_tokens", 1), outputTokens: int("output_tokens", 0) };
    if (o.arrival_s !== undefined) {
      const a = o.arrival_s;
      if (typeof a !== "number" || !Number.isFinite(a) || a < 0) throw new ReplayInputError(`${at}: "arrival_s" must be a number of seconds ≥ 0, got ${JSON.stringify(a)}`);
      request.arrivalS = a;
    }
    out.push(request);
  });
  if (out.length === 0) throw new ReplayInputError(`${file}: no requests`);
  return out;
}

/** Linear interpolation between closest ranks (numpy.percentile's default). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (rank - lo);
}

const round = (x: number) => Math.round(x * 1000) / 1000;

function distribution(valuesS: number[]): Distribution {
  const ms = valuesS.map((v) => v * 1000).sort((a, b) => a - b);
  const mean = ms.length === 0 ? 0 : ms.reduce((s, v) => s + v, 0) / ms.length;
  return { mean: round(mean), p50: round(percentile(ms, 50)), p99: round(percentile(ms, 99)) };
}

/** Send times in request order: the file's, Poisson at the rate, or all at 0. */
export function arrivalTimes(requests: readonly ReplayRequest[], options: ReplayOptions): number[] {
  const rate = options.requestRate ?? Infinity;
  if (requests.some((r) => r.arrivalS !== undefined)) return requests.map((r) => r.arrivalS ?? 0);
  if (rate === Infinity) return requests.map(() => 0);
  const rng = mulberry32(options.seed ?? 0);
  let t = 0;
  return requests.map((_, i) => {
    if (i > 0) t += -Math.log(1 - rng.next()) / rate;
    return t;
  });
}

/**
 * Host time the server spends on each request before its engine can schedule it (HTTP, request
 * parsing, tokenization, request setup), taken in turns with the engine's steps on one thread:
 * between two steps, every request that has arrived is taken in, this long each, and only then
 * does the next step start. So a burst of N requests reaches the engine N × this after it was
 * sent. Why in turns, not beside the engine: in the published runs of docs/serving-fidelity.md
 * the first tokens after a burst came late in proportion to the burst (Llama-3-8B: 10 requests
 * at once all had theirs at 62–63 ms, a prefill of 1,369 tokens; of 80 at once none before 266 ms,
 * though the first prefill held only 1,842 tokens; per-request `ttfts` in the source files).
 * Fitted on their calibration runs with the executor's constants (executor.ts;
 * `npm run bench:fidelity -- --fit`).
 */
export const FRONT_END_SECONDS_PER_REQUEST = 0.0015;

export function replayWorkload(config: EngineConfig, requests: readonly ReplayRequest[], options: ReplayOptions = {}): ReplayReport {
  const clock = new VirtualClock();
  const engine = new LLMEngine({ ...config, maxWaiting: Math.max(config.maxWaiting, requests.length) }, () => clock.now());
  const frontEndS = config.timing?.frontEndSecondsPerRequest ?? FRONT_END_SECONDS_PER_REQUEST;
  const arrivals = arrivalTimes(requests, options)
    .map((t, index) => ({ t, index }))
    .sort((a, b) => a.t - b.t || a.index - b.index);
  const limit = options.maxConcurrency ?? Infinity;
  const sentAt = new Array<number>(requests.length).fill(NaN);
  const tokenTimes: number[][] = requests.map(() => []);
  const finishedAt = new Array<number>(requests.length).fill(NaN);
  const failed = new Set<number>();
  /** Arrived, waiting for a concurrency slot (the client's semaphore), in arrival order. */
  const ready: number[] = [];
  /** Sent by the client, not yet taken in by the server's front end, in send order. */
  const sent: number[] = [];
  let next = 0;
  let inFlight = 0;
  /** Requests that finished at the end of the last step: their slots were still taken before it. */
  let finishedAtStepEnd = 0;
  let nextId = 0;

  const send = (index: number, at: number) => {
    sentAt[index] = at;
    inFlight++;
    sent.push(index);
  };
  // The client's side. A request that arrived during the last step was sent when it arrived if a
  // slot was free then, before that step's finishes; the rest go out as slots free, in order.
  const clientSends = () => {
    const now = clock.now();
    while (next < arrivals.length && arrivals[next]!.t <= now) {
      const { t, index } = arrivals[next++]!;
      if (ready.length === 0 && t < now && inFlight + finishedAtStepEnd < limit) send(index, t);
      else ready.push(index);
    }
    while (ready.length > 0 && inFlight < limit) send(ready.shift()!, now);
    finishedAtStepEnd = 0;
  };
  // The server's front end: takes in what was sent, in turns with the engine's steps.
  const takeIn = (index: number) => {
    clock.advance(frontEndS);
    const r = requests[index]!;
    const base = nextId * 7919;
    nextId++;
    const prompt = Array.from({ length: r.inputTokens }, (_, i) => (base + i * 31) % 120_000);
    const now = clock.now();
    const submitted = engine.submit({
      id: `replay-${index}`,
      promptTokenIds: prompt,
      maxTokens: Math.max(1, r.outputTokens),
      ignoreEos: true,
      arrivalTime: now,
      sink: {
        onToken: (_id, at) => tokenTimes[index]!.push(at),
        onFinish: (_reason, at) => {
          finishedAt[index] = at;
          inFlight--;
          finishedAtStepEnd++;
        },
      },
    });
    if (!submitted.ok) {
      failed.add(index);
      finishedAt[index] = now;
      inFlight--;
    }
  };

  for (;;) {
    clientSends();
    if (sent.length > 0) {
      takeIn(sent.shift()!);
      continue;
    }
    if (engine.hasWork()) {
      engine.step((s) => clock.advance(s));
      continue;
    }
    if (next < arrivals.length) {
      clock.advanceTo(arrivals[next]!.t);
      continue;
    }
    if (ready.length === 0) break;
    // Ready requests, no arrivals left and an idle engine: only a lost finish could cause it.
    throw new Error(`replay stalled with ${ready.length} request(s) ready and ${inFlight} in flight`);
  }

  const done = requests.map((_, i) => i).filter((i) => !failed.has(i));
  const start = Math.min(...sentAt);
  const end = Math.max(...finishedAt);
  const durationS = end - start;
  const ttfts: number[] = [];
  const tpots: number[] = [];
  const itls: number[] = [];
  let inputTokens = 0;
  let outputTokens = 0;
  for (const i of done) {
    const times = tokenTimes[i]!;
    const counted = requests[i]!.outputTokens;
    inputTokens += requests[i]!.inputTokens;
    outputTokens += counted;
    const ttft = times[0]! - sentAt[i]!;
    ttfts.push(ttft);
    options.onCompleted?.(i, { ttftS: ttft, latencyS: times.at(-1)! - sentAt[i]! });
    if (counted > 1) tpots.push((times.at(-1)! - sentAt[i]! - ttft) / (counted - 1));
    for (let k = 1; k < times.length; k++) itls.push(times[k]! - times[k - 1]!);
  }
  const per = (x: number) => (durationS > 0 ? round(x / durationS) : 0);
  return {
    requests: requests.length,
    completed: done.length,
    failed: failed.size,
    durationS: Math.round(durationS * 1e6) / 1e6,
    requestThroughput: per(done.length),
    inputTokensPerS: per(inputTokens),
    outputTokensPerS: per(outputTokens),
    ttftMs: distribution(ttfts),
    tpotMs: distribution(tpots),
    itlMs: distribution(itls),
    preemptions: engine.scheduler.numPreemptions,
  };
}
