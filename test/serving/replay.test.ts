/**
 * `gpk serve --replay`: the workload parser's refusals, vLLM's benchmark definitions (TTFT,
 * TPOT without the first token, ITL, numpy percentiles), arrivals and max concurrency on the
 * virtual clock, and the CLI's exit codes and byte-identical output.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { resolveEngineConfig } from "../../runtime/serving/engine/config";
import { V1_TIMING } from "../../runtime/serving/engine/timing";

const STEP_OVERHEAD_S = V1_TIMING.stepOverheadS;
import { arrivalTimes, parseReplayFile, percentile, replayWorkload } from "../../runtime/serving/replay";
import { runGpk } from "../cli/run-gpk";

const config = resolveEngineConfig({ model: "llama-3-8b", gpu: "h100", maxModelLen: 2048 });

describe("the workload file", () => {
  it("reads one request per line and names the line of a bad one", () => {
    expect(parseReplayFile("w.jsonl", '{"input_tokens":5,"output_tokens":3}\n\n{"input_tokens":1,"output_tokens":0,"arrival_s":1.5}\n')).toEqual([
      { inputTokens: 5, outputTokens: 3 },
      { inputTokens: 1, outputTokens: 0, arrivalS: 1.5 },
    ]);
    const bad: [string, string][] = [
      ['{"input_tokens":5}', 'w.jsonl:2: "output_tokens" must be an integer of at least 0, got undefined'],
      ['{"input_tokens":0,"output_tokens":1}', 'w.jsonl:2: "input_tokens" must be an integer of at least 1, got 0'],
      ['{"input_tokens":2.5,"output_tokens":1}', 'w.jsonl:2: "input_tokens" must be an integer of at least 1, got 2.5'],
      ['{"input_tokens":2,"output_tokens":1,"arrival_s":-1}', 'w.jsonl:2: "arrival_s" must be a number of seconds ≥ 0, got -1'],
      ['{"input_tokens":2,"output_tokens":1,"prompt":"x"}', 'w.jsonl:2: unknown key "prompt"; expected input_tokens, output_tokens, arrival_s'],
      ["[1,2]", 'w.jsonl:2: expected an object {"input_tokens","output_tokens","arrival_s"?}'],
    ];
    for (const [line, message] of bad) expect(() => parseReplayFile("w.jsonl", `{"input_tokens":1,"output_tokens":1}\n${line}\n`), line).toThrow(message);
    expect(() => parseReplayFile("w.jsonl", "{oops\n")).toThrow(/^w\.jsonl:1: not JSON/);
    expect(() => parseReplayFile("w.jsonl", "\n\n")).toThrow("w.jsonl: no requests");
  });
});

describe("vLLM's benchmark definitions", () => {
  it("percentiles interpolate linearly between closest ranks, as numpy's", () => {
    expect(percentile([1, 2, 3, 4], 50)).toBe(2.5);
    expect(percentile([10, 20], 99)).toBeCloseTo(19.9, 9);
    expect(percentile([7], 99)).toBe(7);
  });

  it("one request alone: TTFT is its prefill step, TPOT and ITL its decode steps, and one output token has no TPOT", () => {
    const one = replayWorkload(config, [{ inputTokens: 100, outputTokens: 5 }]);
    expect(one).toMatchObject({ requests: 1, completed: 1, failed: 0, preemptions: 0 });
    // Every decode step is the same size here, so TPOT = ITL, and both exceed the fixed overhead.
    expect(one.tpotMs.mean).toBeCloseTo(one.itlMs.mean, 6);
    expect(one.itlMs.mean).toBeGreaterThan(STEP_OVERHEAD_S * 1000);
    expect(one.durationS * 1000).toBeCloseTo(one.ttftMs.mean + 4 * one.itlMs.mean, 1);
    expect(one.outputTokensPerS).toBeCloseTo(5 / one.durationS, 0);
    const single = replayWorkload(config, [{ inputTokens: 100, outputTokens: 1 }]);
    expect(single.tpotMs).toEqual({ mean: 0, p50: 0, p99: 0 });
    // An empty output (its only token was EOS) takes a step and counts no token.
    const empty = replayWorkload(config, [{ inputTokens: 100, outputTokens: 0 }]);
    expect(empty).toMatchObject({ completed: 1, outputTokensPerS: 0 });
    expect(empty.ttftMs.mean).toBeCloseTo(single.ttftMs.mean, 6);
  });

  it("counts a request longer than --max-model-len as failed", () => {
    const r = replayWorkload(config, [{ inputTokens: 2000, outputTokens: 100 }, { inputTokens: 10, outputTokens: 10 }]);
    expect(r).toMatchObject({ requests: 2, completed: 1, failed: 1 });
  });
});

describe("arrivals and concurrency", () => {
  const work = Array.from({ length: 40 }, () => ({ inputTokens: 200, outputTokens: 50 }));

  it("all at once, Poisson at a rate (seeded), or the file's times", () => {
    expect(arrivalTimes(work, {}).every((t) => t === 0)).toBe(true);
    const poisson = arrivalTimes(work, { requestRate: 4, seed: 1 });
    expect(poisson[0]).toBe(0);
    expect(poisson.every((t, i) => i === 0 || t > poisson[i - 1]!)).toBe(true);
    // 39 gaps of mean 1/4 s.
    expect(poisson.at(-1)!).toBeGreaterThan(39 / 4 / 2);
    expect(poisson.at(-1)!).toBeLessThan((39 / 4) * 2);
    expect(arrivalTimes(work, { requestRate: 4, seed: 1 })).toEqual(poisson);
    expect(arrivalTimes(work, { requestRate: 4, seed: 2 })).not.toEqual(poisson);
    expect(arrivalTimes([{ inputTokens: 1, outputTokens: 1, arrivalS: 3 }, { inputTokens: 1, outputTokens: 1 }], { requestRate: 4 })).toEqual([3, 0]);
  });

  it("a burst queues behind itself; spreading it or capping concurrency trades duration for latency", () => {
    const burst = replayWorkload(config, work);
    const spread = replayWorkload(config, work, { requestRate: 2, seed: 3 });
    const capped = replayWorkload(config, work, { maxConcurrency: 4 });
    expect(spread.durationS).toBeGreaterThan(burst.durationS);
    expect(spread.ttftMs.mean).toBeLessThan(burst.ttftMs.mean);
    // Four at a time: smaller batches, so each token comes sooner, and the run lasts longer.
    expect(capped.tpotMs.mean).toBeLessThan(burst.tpotMs.mean);
    expect(capped.durationS).toBeGreaterThan(burst.durationS);
    for (const r of [burst, spread, capped]) expect(r.completed).toBe(40);
  });
});

describe("the server's front end", () => {
  const v0Config = resolveEngineConfig({ engine: "v0", model: "llama-3-8b", gpu: "h100", maxModelLen: 2048 });
  const withFrontEnd = (seconds: number) => ({ ...v0Config, timing: { frontEndSecondsPerRequest: seconds } });
  const v1With = (perRequest: number, perToken: number, latency: number) => ({
    ...config, timing: { frontEndSecondsPerRequest: perRequest, frontEndSecondsPerToken: perToken, frontEndLatencyS: latency },
  });

  it("V1: a lone request pays its intake and the way to the engine; a burst shares the intake and arrives together", () => {
    const lone = [{ inputTokens: 200, outputTokens: 10 }];
    expect(replayWorkload(v1With(0.01, 0, 0.02), lone).ttftMs.p50 - replayWorkload(v1With(0, 0, 0), lone).ttftMs.p50).toBeCloseTo(30, 6);
    const burst = Array.from({ length: 30 }, () => ({ inputTokens: 100, outputTokens: 20 }));
    const none = replayWorkload(v1With(0, 0, 0), burst);
    const some = replayWorkload(v1With(0.01, 0, 0.02), burst);
    // 30 handlers interleaved: all done after 30 × 10 ms, then 20 ms on the way; the same schedule, later.
    expect(some.ttftMs.p50 - none.ttftMs.p50).toBeCloseTo(320, 6);
    expect(some.ttftMs.p99 - some.ttftMs.p50).toBeCloseTo(none.ttftMs.p99 - none.ttftMs.p50, 6);
    expect(some.tpotMs).toEqual(none.tpotMs);
  });

  it("V1: streamed tokens queue on the front end while the engine steps on, so many streams space each one's tokens", () => {
    const burst = Array.from({ length: 50 }, () => ({ inputTokens: 100, outputTokens: 20 }));
    const engineOnly = replayWorkload(v1With(0, 0, 0), burst);
    const streamed = replayWorkload(v1With(0, 0.002, 0), burst);
    // 50 streams × 2 ms per token: a stream's next token comes about 100 ms after its last, far slower than a step.
    expect(engineOnly.itlMs.p50).toBeLessThan(20);
    expect(streamed.itlMs.p50).toBeGreaterThan(95);
    expect(streamed.itlMs.p50).toBeLessThan(105);
    expect(streamed.durationS).toBeGreaterThan(50 * 20 * 0.002);
  });

  it("V0: takes a burst in before the engine's first step: every latency moves by the burst's front-end time", () => {
    const burst = Array.from({ length: 30 }, (_, i) => ({ inputTokens: 100 + i, outputTokens: 20 }));
    const none = replayWorkload(withFrontEnd(0), burst);
    const some = replayWorkload(withFrontEnd(0.004), burst);
    // All 30 reach the engine before it steps, so the schedule is the same, 30 × 4 ms later.
    expect(some.ttftMs.mean - none.ttftMs.mean).toBeCloseTo(120, 6);
    expect(some.ttftMs.p50 - none.ttftMs.p50).toBeCloseTo(120, 6);
    expect(some.tpotMs).toEqual(none.tpotMs);
    expect(some.durationS - none.durationS).toBeCloseTo(0.12, 9);
  });

  it("V0: times a request from its arrival, also when it arrives while a step runs", () => {
    const v0 = { ...resolveEngineConfig({ engine: "v0", model: "llama-3-8b", gpu: "h100", maxModelLen: 2048, enableChunkedPrefill: false }), timing: { frontEndSecondsPerRequest: 0 } };
    const ttfts: number[] = [];
    const alone = replayWorkload(v0, [{ inputTokens: 300, outputTokens: 1 }]);
    // The second arrives 12.3 ms into the first's decoding, in the middle of a step: it waits for
    // that step's end, and the wait counts in its TTFT, as a client measures it.
    replayWorkload(v0, [{ inputTokens: 300, outputTokens: 200, arrivalS: 0 }, { inputTokens: 300, outputTokens: 1, arrivalS: 0.0123 }], {
      onCompleted: (i, t) => (ttfts[i] = t.ttftS * 1000),
    });
    expect(ttfts[1]).toBeGreaterThan(alone.ttftMs.mean + 0.1);
  });
});

describe("gpk serve --replay", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "gpk-replay-"));
  const file = path.join(dir, "work.jsonl");
  writeFileSync(file, Array.from({ length: 30 }, (_, i) => JSON.stringify({ input_tokens: 50 + i * 7, output_tokens: 20 + (i % 9) * 11 })).join("\n") + "\n");

  it("prints the documented JSON, byte for byte the same on a second run", () => {
    const args = ["serve", "--replay", file, "--model", "llama-3-8b", "--max-model-len", "2048", "--request-rate", "10", "--seed", "7", "--json"];
    const first = runGpk(args);
    expect(first.status, first.stderr).toBe(0);
    const doc = JSON.parse(first.stdout);
    expect(Object.keys(doc)).toEqual(["requests", "completed", "failed", "durationS", "requestThroughput", "inputTokensPerS", "outputTokensPerS", "ttftMs", "tpotMs", "itlMs", "e2elMs", "preemptions"]);
    expect(Object.keys(doc.ttftMs)).toEqual(["mean", "p50", "p99"]);
    expect(doc).toMatchObject({ requests: 30, completed: 30, failed: 0 });
    expect(runGpk(args).stdout).toBe(first.stdout);
    // vLLM's flag names reach the engine: V0 and its scheduling change the figures, and V1
    // refuses prefill-only steps, naming the flag.
    const v0 = JSON.parse(runGpk([...args, "--engine", "v0", "--no-enable-chunked-prefill"]).stdout);
    expect(v0.completed).toBe(30);
    expect(v0).not.toEqual(doc);
    const refused = runGpk([...args, "--no-enable-chunked-prefill"]);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/--enable-chunked-prefill: vLLM V1 always chunks prefills/);
    const unknown = runGpk([...args, "--engine", "v2"]);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/--engine: expected one of v1, v0, got "v2"/);
  });

  it("exits 2 naming the line of a malformed request, and for flags that do not go together", () => {
    const bad = path.join(dir, "bad.jsonl");
    writeFileSync(bad, '{"input_tokens":5,"output_tokens":3}\n{"input_tokens":5,"output_tokens":"many"}\n');
    const r = runGpk(["serve", "--replay", bad]);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr.trim()).toBe(`gpk serve: --replay: ${bad}:2: "output_tokens" must be an integer of at least 0, got "many"`);
    for (const [args, message] of [
      [["--replay", path.join(dir, "missing.jsonl")], "--replay: no such file: "],
      [["--replay", file, "--port", "8000"], "--port does not apply to --replay"],
      [["--replay", file, "--max-concurrency", "0"], "--max-concurrency"],
      [["--replay", file, "--request-rate", "fast"], '--request-rate: expected a number, got "fast"'],
      [["--request-rate", "2"], "--request-rate goes with --replay"],
      [["--replay", file, "--write-tokenizer", dir], "--write-tokenizer and --replay exclude each other"],
    ] as const) {
      const run = runGpk(["serve", ...args]);
      expect(run.status, args.join(" ")).toBe(2);
      expect(run.stderr).toContain(message);
    }
  });
});
