/**
 * `gpk serve --replay`: a workload run through the engine on the virtual clock, reported the
 * way vLLM's serving benchmark reports a run against a server (`vllm bench serve`;
 * vllm-project/vllm benchmarks/benchmark_serving.py, `calculate_metrics`, v0.6.0 and later):
 *
 * - a request is sent at its arrival time: the line's `arrival_s`, else a Poisson process at
 *   `--request-rate` (seeded exponential gaps, as the benchmark draws them), else all at t=0;
 * - with `--max-concurrency C`, at most C requests are in flight; the rest wait in arrival
 *   order and are sent as slots free (the benchmark's semaphore), timed from that moment;
 * - the server's front end takes each sent request in before the engine sees it and, in V1,
 *   streams each token out before the client sees it (replayWorkload below); that time counts
 *   in TTFT and ITL;
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
import { timingOf } from "./engine/timing";
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
  /** End-to-end latency per completed request, send to last token seen (the benchmark's e2el). */
  e2elMs: Distribution;
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
 * The server's front end (HTTP, request parsing, tokenization, request setup on the way in;
 * detokenization and streaming on the way out), by engine:
 * - V0 runs it on the engine's own thread, in turns with the steps: between two steps every
 *   request that has arrived is taken in, frontEndSecondsPerRequest each, and only then does the
 *   next step start. So a burst of N requests reaches the engine N × that after it was sent
 *   (LambdaLabs' V0 runs: of 80 requests at once none had a first token before 266 ms, though
 *   the first prefill held only 1,842 tokens; per-request `ttfts` in data/vllm-benchmark).
 * - V1 runs it in a process of its own beside the engine core, while the engine steps on. Each
 *   sent request takes frontEndSecondsPerRequest of its intake, which the requests in intake
 *   share (an event loop interleaves their handlers: a burst of N comes through together after
 *   N times that, as GPUStack's V1 runs show: 1,000 chat requests of 128 tokens at once had a
 *   median TTFT of 18 s and a p99 of 22.5 s in a run of 22.7 s); then frontEndLatencyS more that
 *   holds nothing up (the hop to the engine core). Each output token takes
 *   frontEndSecondsPerToken of the output stream, one after another, before the client sees it.
 * The constants are fitted per engine with the executor's (timing.ts).
 */
export function replayWorkload(config: EngineConfig, requests: readonly ReplayRequest[], options: ReplayOptions = {}): ReplayReport {
  const clock = new VirtualClock();
  const engine = new LLMEngine({ ...config, maxWaiting: Math.max(config.maxWaiting, requests.length) }, () => clock.now());
  const { frontEndSecondsPerRequest: intakeS, frontEndSecondsPerToken: tokenS, frontEndLatencyS: latencyS } = timingOf(config);
  const ownProcess = config.engine === "v1";
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
  /** V0: sent by the client, not yet taken in by the front end, in send order. */
  const sent: number[] = [];
  /** V1: taken in by the front end at `at`, not yet seen by the engine, in order. */
  const intake: { index: number; at: number }[] = [];
  /** V1: when the client saw a request's last token (its slot frees then), ascending. */
  const slotsFreeing: number[] = [];
  /** V1: the front end's intake, shared by the requests in it; each then travels latencyS more. */
  const intakes = new SharedIntake(intakeS, (index, at) => intake.push({ index, at: at + latencyS }));
  /** V1: when the front end's output stream is next free. */
  let outputFree = 0;
  let next = 0;
  let inFlight = 0;
  /** V0: requests that finished at the end of the last step: their slots were still taken before it. */
  let finishedAtStepEnd = 0;
  let nextId = 0;

  const send = (index: number, at: number) => {
    sentAt[index] = at;
    inFlight++;
    if (!ownProcess) return void sent.push(index);
    intakes.add(index, at);
  };
  /** When the client sees a token the engine produced at `at`. */
  const deliver = (at: number) => (ownProcess ? (outputFree = Math.max(at, outputFree) + tokenS) : at);
  // The client's side, V0. A request that arrived during the last step was sent when it arrived
  // if a slot was free then, before that step's finishes; the rest go out as slots free, in order.
  const clientSendsInTurns = () => {
    const now = clock.now();
    while (next < arrivals.length && arrivals[next]!.t <= now) {
      const { t, index } = arrivals[next++]!;
      if (ready.length === 0 && t < now && inFlight + finishedAtStepEnd < limit) send(index, t);
      else ready.push(index);
    }
    while (ready.length > 0 && inFlight < limit) send(ready.shift()!, now);
    finishedAtStepEnd = 0;
  };
  // The client's side, V1: arrivals and freed slots up to now, in time order; a waiting request
  // goes out the moment a slot frees.
  const clientSendsBeside = () => {
    const now = clock.now();
    for (;;) {
      const arrival = next < arrivals.length && arrivals[next]!.t <= now ? arrivals[next]!.t : Infinity;
      const freed = slotsFreeing.length > 0 && slotsFreeing[0]! <= now ? slotsFreeing[0]! : Infinity;
      if (arrival === Infinity && freed === Infinity) return;
      if (arrival <= freed) {
        const { t, index } = arrivals[next++]!;
        if (ready.length === 0 && inFlight < limit) send(index, t);
        else ready.push(index);
      } else {
        slotsFreeing.shift();
        inFlight--;
        if (ready.length > 0) send(ready.shift()!, freed);
      }
    }
  };
  const submit = (index: number, at: number) => {
    const r = requests[index]!;
    const base = nextId * 7919;
    nextId++;
    const prompt = Array.from({ length: r.inputTokens }, (_, i) => (base + i * 31) % 120_000);
    const submitted = engine.submit({
      id: `replay-${index}`,
      promptTokenIds: prompt,
      maxTokens: Math.max(1, r.outputTokens),
      ignoreEos: true,
      arrivalTime: at,
      sink: {
        onToken: (_id, t) => tokenTimes[index]!.push(deliver(t)),
        onFinish: (_reason, t) => {
          finishedAt[index] = tokenTimes[index]!.at(-1) ?? t;
          if (ownProcess) insertSorted(slotsFreeing, finishedAt[index]!);
          else {
            inFlight--;
            finishedAtStepEnd++;
          }
        },
      },
    });
    if (!submitted.ok) {
      failed.add(index);
      finishedAt[index] = at;
      if (ownProcess) insertSorted(slotsFreeing, at);
      else inFlight--;
    }
  };

  for (;;) {
    if (!ownProcess) {
      clientSendsInTurns();
      if (sent.length > 0) {
        clock.advance(intakeS);
        submit(sent.shift()!, clock.now());
        continue;
      }
    } else {
      clientSendsBeside();
      intakes.advance(clock.now());
      while (intake.length > 0 && intake[0]!.at <= clock.now()) submit(intake[0]!.index, intake.shift()!.at);
    }
    if (engine.hasWork()) {
      engine.step((s) => clock.advance(s));
      continue;
    }
    const upcoming = Math.min(arrivals[next]?.t ?? Infinity, intake[0]?.at ?? Infinity, intakes.nextDone(), slotsFreeing[0] ?? Infinity);
    if (upcoming < Infinity) {
      clock.advanceTo(Math.max(upcoming, clock.now()));
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
  const e2els: number[] = [];
  let inputTokens = 0;
  let outputTokens = 0;
  for (const i of done) {
    const times = tokenTimes[i]!;
    const counted = requests[i]!.outputTokens;
    inputTokens += requests[i]!.inputTokens;
    outputTokens += counted;
    const ttft = times[0]! - sentAt[i]!;
    ttfts.push(ttft);
    e2els.push(times.at(-1)! - sentAt[i]!);
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
    e2elMs: distribution(e2els),
    preemptions: engine.scheduler.numPreemptions,
  };
}

function insertSorted(xs: number[], x: number): void {
  let i = xs.length;
  while (i > 0 && xs[i - 1]! > x) i--;
  xs.splice(i, 0, x);
}

/**
 * Egalitarian processor sharing of a fixed amount of work per job: with k jobs in, each
 * progresses at 1/k. `onDone` gets each job as it completes, in time order.
 */
class SharedIntake {
  private active: { index: number; left: number }[] = [];
  private t = 0;

  constructor(private readonly work: number, private readonly onDone: (index: number, at: number) => void) {}

  add(index: number, at: number): void {
    this.advance(at);
    this.active.push({ index, left: this.work });
  }

  /** Runs the shared work up to `to`, completing the jobs that finish by then. */
  advance(to: number): void {
    while (this.active.length > 0) {
      const k = this.active.length;
      const least = Math.min(...this.active.map((a) => a.left));
      const doneAt = this.t + least * k;
      if (doneAt > to) break;
      this.t = doneAt;
      for (const a of this.active) a.left -= least;
      const [done, rest] = [this.active.filter((a) => a.left <= 1e-12), this.active.filter((a) => a.left > 1e-12)];
      this.active = rest;
      for (const a of done) this.onDone(a.index, doneAt);
    }
    if (to > this.t) {
      for (const a of this.active) a.left -= (to - this.t) / this.active.length;
      this.t = to;
    }
  }

  nextDone(): number {
    if (this.active.length === 0) return Infinity;
    return this.t + Math.min(...this.active.map((a) => a.left)) * this.active.length;
  }
}
