import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { admit } from "../../runtime/serving/engine/admission";
import { EngineConfigError, resolveEngineConfig } from "../../runtime/serving/engine/config";
import { SimulatedExecutor } from "../../runtime/serving/engine/executor";
import { V0_TIMING, V1_TIMING } from "../../runtime/serving/engine/timing";

const { allReduceLatencyS: ALL_REDUCE_LATENCY_S, overlapPenalty: OVERLAP_PENALTY, stepOverheadS: STEP_OVERHEAD_S } = V1_TIMING;
import { MODEL_PRESETS } from "../../runtime/serving/engine/models";
import { RequestStatus } from "../../runtime/serving/engine/request";
import { SimulatedModel } from "../../runtime/serving/engine/simulated-model";
import { Tokenizer } from "../../runtime/serving/engine/tokenizer";
import { RecordingSink, promptOf, virtualEngine } from "./helpers";
import { seeded } from "../property-seed";

describe("capacity from the model and GPU", () => {
  it("derives Llama-3-8B's KV bytes per token and block count on an H100", () => {
    const c = resolveEngineConfig({ model: "llama-3-8b", gpu: "h100" });
    // 2 (K,V) × 32 layers × 8 KV heads × 128 head dim × 2 bytes = 128 KiB per token.
    expect(c.kvBytesPerToken).toBe(131072);
    const expected = Math.floor((c.memory.usable - c.memory.weights - c.memory.activationReserve) / (16 * 131072));
    expect(c.numGpuBlocks).toBe(expected);
    expect(c.memory.usable).toBeCloseTo(81559 * 1024 * 1024 * 0.9, 0);
  });

  it("halves KV bytes with fp8 and splits KV heads over tensor-parallel ranks", () => {
    const bf16 = resolveEngineConfig({ model: "llama-3-70b", gpu: "h100", tensorParallelSize: 4 });
    const fp8 = resolveEngineConfig({ model: "llama-3-70b", gpu: "h100", tensorParallelSize: 4, kvCacheDtype: "fp8" });
    expect(fp8.kvBytesPerToken).toBe(bf16.kvBytesPerToken / 2);
    expect(fp8.numGpuBlocks).toBe(Math.floor(fp8.memory.kvCache / (16 * (fp8.kvBytesPerToken / 4))));
  });

  it("takes the Llama-3.1 presets by short name and repo id, with their 128k context up to what the KV cache holds", () => {
    const byAlias = resolveEngineConfig({ model: "llama-3.1-8b", gpu: "h100", maxModelLen: 131072 });
    expect(byAlias.model.id).toBe("meta-llama/Llama-3.1-8B-Instruct");
    expect(byAlias.maxModelLen).toBe(131072);
    // Llama-3-8B's KV layout: 128 KiB per token.
    expect(byAlias.kvBytesPerToken).toBe(131072);
    expect(() => resolveEngineConfig({ model: "llama-3.1-8b", gpu: "h100", maxModelLen: 131073 })).toThrow(/--max-model-len/);
    expect(() => resolveEngineConfig({ model: "llama-3-8b", gpu: "h100", maxModelLen: 131072 })).toThrow(/--max-model-len/);
    const seventy = resolveEngineConfig({ model: "meta-llama/Llama-3.1-70B-Instruct", gpu: "h100", tensorParallelSize: 4, maxModelLen: 131072 });
    expect(seventy.model.alias).toBe("llama-3.1-70b");
    expect(seventy.maxModelLen).toBe(131072);
  });

  it("names the flag when the model cannot fit or an argument is out of range", () => {
    expect(() => resolveEngineConfig({ model: "llama-3-70b", gpu: "h100", tensorParallelSize: 1 })).toThrow(/--gpu-memory-utilization: no memory left for the KV cache/);
    expect(() => resolveEngineConfig({ model: "gpt-5" })).toThrow(EngineConfigError);
    expect(() => resolveEngineConfig({ tensorParallelSize: 3 })).toThrow(/--tensor-parallel-size: 3 does not divide/);
    expect(() => resolveEngineConfig({ numGpuBlocksOverride: 10, maxModelLen: 8192 })).toThrow(/--max-model-len: 8192 tokens do not fit/);
    expect(() => resolveEngineConfig({ maxNumSeqs: 4096, maxNumBatchedTokens: 2048 })).toThrow(/--max-num-batched-tokens/);
    expect(() => resolveEngineConfig({ engine: "v2" as never })).toThrow(/^--engine: expected one of v1, v0, got "v2"$/);
    expect(() => resolveEngineConfig({ enableChunkedPrefill: false })).toThrow(/^--enable-chunked-prefill: vLLM V1 always chunks prefills/);
    expect(() => resolveEngineConfig({ preemptionMode: "swap" as never })).toThrow(/^--preemption-mode: vLLM V1 only recomputes/);
  });
});

describe("engine modes", () => {
  it("V1 (the default) takes its token budget and sequence cap per GPU, always chunks and caches prefixes", () => {
    const at = (gpu: "h100" | "a100" | "l40s") => resolveEngineConfig({ model: "llama-3-8b", gpu, maxModelLen: 4096 });
    expect(at("h100")).toMatchObject({ engine: "v1", maxNumBatchedTokens: 8192, maxNumSeqs: 1024, enableChunkedPrefill: true, enablePrefixCaching: true });
    // vLLM keeps A100s and GPUs under 70 GiB at the smaller budget.
    expect(at("a100")).toMatchObject({ maxNumBatchedTokens: 2048, maxNumSeqs: 256 });
    expect(at("l40s")).toMatchObject({ maxNumBatchedTokens: 2048, maxNumSeqs: 256 });
    expect(resolveEngineConfig({ gpu: "h100", maxNumSeqs: 2048 }).maxNumBatchedTokens).toBe(8192);
    expect(resolveEngineConfig({ gpu: "h100", maxNumSeqs: 9000 }).maxNumBatchedTokens).toBe(9000);
  });
  it("V0 keeps prefill-only steps below 32k context and chunks above it, with its own budget", () => {
    expect(resolveEngineConfig({ engine: "v0", model: "llama-3-8b", maxModelLen: 2048 })).toMatchObject({ engine: "v0", enableChunkedPrefill: false, maxNumBatchedTokens: 2048, maxNumSeqs: 256 });
    expect(resolveEngineConfig({ engine: "v0", model: "llama-3.1-8b", maxModelLen: 65536 })).toMatchObject({ enableChunkedPrefill: true, maxNumBatchedTokens: 2048 });
  });
});

describe("admission", () => {
  const state = { maxModelLen: 100, waiting: 0, maxWaiting: 2, recentFinishRate: 0 };
  it("refuses what can never fit at once and sheds load when the queue is full", () => {
    expect(admit(60, 40, state)).toEqual({ ok: true });
    const long = admit(60, 41, state);
    expect(long.ok === false && long.kind === "context_length" && long.param === "max_tokens").toBe(true);
    const full = admit(10, 10, { ...state, waiting: 2, recentFinishRate: 0.5 });
    expect(full).toMatchObject({ ok: false, kind: "queue_full", retryAfterSeconds: 4 });
  });
});

describe("executor roofline", () => {
  const config = resolveEngineConfig({ model: "llama-3-8b", gpu: "h100" });
  const ex = new SimulatedExecutor(config);
  const step = (n: number, ctx: number, seqs = 1) => ({
    scheduled: Array.from({ length: seqs }, () => ({ request: null as never, numNewTokens: n, numContextTokens: ctx })),
    numScheduledTokens: n * seqs, preempted: [], swapOutBytes: 0, swapInBytes: 0,
  });
  it("is memory-bound for a decode batch and compute-bound for a long prefill", () => {
    const decode = ex.stepCost(step(1, 500, 64));
    expect(decode.memorySeconds).toBeGreaterThan(decode.computeSeconds);
    const prefill = ex.stepCost(step(2048, 0));
    expect(prefill.computeSeconds).toBeGreaterThan(prefill.memorySeconds);
    // 2·8.03e9·2048 FLOPs of matmuls at least.
    expect(prefill.flops).toBeGreaterThan(2 * 8.03e9 * 2048);
  });
  it("streams weights and reads the KV cache at their own shares of HBM bandwidth", () => {
    const decode = ex.stepCost(step(1, 4000, 32));
    const kvBytes = config.kvBytesPerToken * 4001 * 32;
    expect(decode.bytes).toBeCloseTo(8.03e9 * 2 + kvBytes, 0);
    expect(decode.memorySeconds).toBeCloseTo((8.03e9 * 2) / (3350e9 * V1_TIMING.memoryEfficiency) + kvBytes / (3350e9 * V1_TIMING.kvMemoryEfficiency), 12);
  });
  it("overlaps compute and memory only in part: a share of the smaller adds to the larger", () => {
    // V0's set: one bandwidth share, so the ridge sits where the test's batch is.
    const v0 = resolveEngineConfig({ engine: "v0", model: "llama-3-8b", gpu: "h100" });
    const at = (overlapPenalty: number) => new SimulatedExecutor({ ...v0, timing: { overlapPenalty } });
    // A decode batch of 512 sits near the ridge: compute and memory within 2× of each other.
    const nearRidge = step(1, 1000, 512);
    const [perfect, half, none] = [0, 0.5, 1].map((b) => at(b).stepCost(nearRidge));
    const smaller = Math.min(perfect!.computeSeconds, perfect!.memorySeconds);
    expect(Math.max(perfect!.computeSeconds, perfect!.memorySeconds) / smaller).toBeLessThan(2);
    expect(half!.seconds - perfect!.seconds).toBeCloseTo(0.5 * smaller, 12);
    expect(none!.seconds - perfect!.seconds).toBeCloseTo(smaller, 12);
    expect(new SimulatedExecutor(v0).stepCost(nearRidge).seconds - perfect!.seconds).toBeCloseTo(V0_TIMING.overlapPenalty * smaller, 12);
  });
  it("divides step time by the tensor-parallel degree", () => {
    const tp2 = new SimulatedExecutor(resolveEngineConfig({ model: "llama-3-8b", gpu: "h100", tensorParallelSize: 2 }));
    const one = ex.stepCost(step(2048, 0));
    const two = tp2.stepCost(step(2048, 0));
    expect(two.computeSeconds).toBeCloseTo(one.computeSeconds / 2, 9);
  });
  it("adds two all-reduces per layer under tensor parallelism: a fixed latency plus the ring's bytes over the interconnect", () => {
    expect(ex.stepCost(step(1, 500, 8)).commSeconds).toBe(0);
    const tp4 = new SimulatedExecutor(resolveEngineConfig({ model: "llama-3-70b", gpu: "h100", tensorParallelSize: 4 }));
    const decode = tp4.stepCost(step(1, 500, 8));
    // 80 layers × 2 calls × (21 µs + 1.5 × 8 tokens × 8192 × 2 bytes / 450 GB/s).
    expect(decode.commSeconds).toBeCloseTo(160 * (ALL_REDUCE_LATENCY_S + (1.5 * 8 * 8192 * 2) / 450e9), 12);
    expect(decode.seconds).toBeCloseTo(Math.max(decode.computeSeconds, decode.memorySeconds) + OVERLAP_PENALTY * Math.min(decode.computeSeconds, decode.memorySeconds) + decode.commSeconds + STEP_OVERHEAD_S, 12);
    // A long prefill moves enough bytes for bandwidth to matter; over PCIe far more than over NVLink.
    const l40s = new SimulatedExecutor(resolveEngineConfig({ model: "llama-3-8b", gpu: "l40s", tensorParallelSize: 2 }));
    const h100 = new SimulatedExecutor(resolveEngineConfig({ model: "llama-3-8b", gpu: "h100", tensorParallelSize: 2 }));
    expect(l40s.stepCost(step(2048, 0)).commSeconds).toBeGreaterThan(5 * h100.stepCost(step(2048, 0)).commSeconds);
  });
});

describe("tokenizer and simulated model", () => {
  it("is deterministic and counts roughly BPE-like on prose", () => {
    const tok = new Tokenizer(128256);
    const text = "Paged attention stores the KV cache in fixed-size blocks, allocated on demand.";
    expect(tok.encode(text)).toEqual(tok.encode(text));
    expect(tok.count(text)).toBe(18); // 78 characters: 4.3 per token, near cl100k on English
    expect(tok.count("<|eot_id|>")).toBe(1);
  });
  it.each(MODEL_PRESETS.map((m) => [m.alias, m.vocabSize] as const))("%s: generated words re-tokenize to one token each", (_alias, vocab) => {
    const tok = new Tokenizer(vocab);
    const model = new SimulatedModel(tok);
    const ids = Array.from({ length: 200 }, (_, i) => model.tokenAt(12345, i));
    const text = model.decode(ids);
    expect(tok.encode(text)).toEqual(ids);
  });
});

describe("scheduler", () => {
  it("without chunked prefill (V0): whole prompts in prefill-only steps that stall decoding", () => {
    const { engine } = virtualEngine({ engine: "v0", model: "llama-3-8b", maxModelLen: 2048, enableChunkedPrefill: false });
    expect(engine.config.maxNumBatchedTokens).toBe(2048);
    const sink = new RecordingSink();
    engine.submit({ promptTokenIds: promptOf(1500, 1), maxTokens: 4, ignoreEos: true, sink });
    engine.submit({ promptTokenIds: promptOf(1000, 2), maxTokens: 4, ignoreEos: true, sink });
    const steps: { prefill: number; decode: number }[] = [];
    let submitted = false;
    while (engine.hasWork()) {
      const s = engine.step(() => {});
      const prefill = s.output.scheduled.filter((x) => x.numNewTokens > 1).length;
      steps.push({ prefill, decode: s.output.scheduled.length - prefill });
      // A third prompt arrives while the first two decode: its prefill takes a step of its own.
      if (!submitted && steps.length === 3) {
        engine.submit({ promptTokenIds: promptOf(300, 3), maxTokens: 2, ignoreEos: true, sink });
        submitted = true;
      }
    }
    // 1500 + 1000 exceed the 2048-token step: the second prompt waits whole for the next step.
    expect(steps.slice(0, 4)).toEqual([{ prefill: 1, decode: 0 }, { prefill: 1, decode: 0 }, { prefill: 0, decode: 2 }, { prefill: 1, decode: 0 }]);
    expect(steps.every((x) => x.prefill === 0 || x.decode === 0)).toBe(true);
    expect(() => resolveEngineConfig({ engine: "v0", model: "llama-3-8b", maxModelLen: 4096, maxNumBatchedTokens: 2048, enableChunkedPrefill: false })).toThrow(
      "--max-num-batched-tokens: 2048 is below --max-model-len 4096; without chunked prefill a whole prompt must fit one step",
    );
  });

  it("chunks a long prefill under the token budget, then decodes one token per step", () => {
    const { engine, runUntilIdle } = virtualEngine({ model: "llama-3-8b", maxNumBatchedTokens: 2048 });
    const sink = new RecordingSink();
    engine.submit({ promptTokenIds: promptOf(5000), maxTokens: 3, ignoreEos: true, sink });
    const sizes: number[] = [];
    while (engine.hasWork()) {
      const s = engine.step(() => {});
      sizes.push(s.output.numScheduledTokens);
    }
    expect(sizes).toEqual([2048, 2048, 904, 1, 1]);
    expect(sink.tokens.length).toBe(3);
    expect(sink.finished).toBe("length");
    expect(runUntilIdle()).toBe(0);
  });

  it("admits at most max-num-seqs and keeps admission order", () => {
    const { engine } = virtualEngine({ maxNumSeqs: 2 });
    for (let i = 0; i < 3; i++) engine.submit({ promptTokenIds: promptOf(10, i), maxTokens: 5, ignoreEos: true, sink: new RecordingSink() });
    engine.step(() => {});
    expect(engine.scheduler.running.map((r) => r.id)).toEqual(["req-0", "req-1"]);
    expect(engine.scheduler.waiting.map((r) => r.id)).toEqual(["req-2"]);
  });

  it("preempts the most recently admitted request when blocks run out, and every request still finishes", () => {
    // 12 blocks × 16 tokens; four requests growing to 64 tokens each need 16 blocks together.
    const { engine, runUntilIdle } = virtualEngine({ numGpuBlocksOverride: 12, maxModelLen: 192 });
    const sinks = Array.from({ length: 4 }, () => new RecordingSink());
    sinks.forEach((sink, i) => engine.submit({ promptTokenIds: promptOf(16, i + 1), maxTokens: 48, ignoreEos: true, sink }));
    let firstVictim: string | null = null;
    while (engine.hasWork()) {
      const s = engine.step(() => {});
      firstVictim ??= s.output.preempted[0]?.id ?? null;
      engine.kv.pool.checkInvariants();
    }
    expect(firstVictim).toBe("req-3");
    expect(engine.scheduler.numPreemptions).toBeGreaterThan(0);
    expect(sinks.map((s) => [s.tokens.length, s.finished])).toEqual(Array(4).fill([48, "length"]));
    expect(engine.kv.pool.numUsedBlocks).toBe(0);
    expect(runUntilIdle()).toBe(0);
  });

  it("swap preemption keeps computed tokens and charges the copy time to the step", () => {
    const { engine } = virtualEngine({ engine: "v0", numGpuBlocksOverride: 12, maxModelLen: 192, preemptionMode: "swap" });
    for (let i = 0; i < 4; i++) engine.submit({ promptTokenIds: promptOf(16, i + 1), maxTokens: 48, ignoreEos: true, sink: new RecordingSink() });
    let swapSeconds = 0;
    let swappedKept = false;
    while (engine.hasWork()) {
      const s = engine.step(() => {});
      swapSeconds += s.cost.swapSeconds;
      for (const v of s.output.preempted) if (v.status === RequestStatus.Preempted && v.numComputedTokens > 0 && v.swappedBytes > 0) swappedKept = true;
    }
    expect(swappedKept).toBe(true);
    expect(swapSeconds).toBeGreaterThan(0);
    expect(engine.kv.pool.numUsedBlocks).toBe(0);
  });

  it("serves a repeated prompt from the prefix cache", () => {
    const { engine, runUntilIdle } = virtualEngine({});
    const prompt = promptOf(100, 3);
    engine.submit({ promptTokenIds: prompt, maxTokens: 1, sink: new RecordingSink() });
    runUntilIdle();
    const again = engine.submit({ promptTokenIds: prompt, maxTokens: 1, sink: new RecordingSink() });
    const s = engine.step(() => {});
    expect(s.output.numScheduledTokens).toBe(100 - 96);
    expect(again.ok && again.request.numCachedPromptTokens).toBe(96);
  });

  it("property: any mix of submits, aborts and steps keeps pool invariants and ends with zero blocks in use", () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant("submit" as const), shared: fc.integer({ min: 0, max: 2 }), len: fc.integer({ min: 1, max: 120 }), out: fc.integer({ min: 1, max: 60 }) }),
      fc.record({ kind: fc.constant("abort" as const), which: fc.nat() }),
      fc.record({ kind: fc.constant("step" as const), n: fc.integer({ min: 1, max: 8 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 50 }), fc.constantFrom("recompute", "swap"), (ops, mode) => {
        const { engine, runUntilIdle } = virtualEngine({ engine: mode === "swap" ? "v0" : "v1", enableChunkedPrefill: true, numGpuBlocksOverride: 20, maxModelLen: 320, maxNumSeqs: 6, maxNumBatchedTokens: 64, maxWaiting: 8, preemptionMode: mode as "recompute" | "swap" });
        const ids: string[] = [];
        for (const o of ops) {
          if (o.kind === "submit") {
            const prompt = Array.from({ length: o.len }, (_, i) => (i < 48 ? o.shared * 1000 + i : ids.length * 7 + i));
            const r = engine.submit({ promptTokenIds: prompt, maxTokens: o.out, ignoreEos: true, sink: new RecordingSink() });
            if (r.ok) ids.push(r.request.id);
          } else if (o.kind === "abort" && ids.length > 0) engine.finishRequest(ids[o.which % ids.length]!);
          else if (o.kind === "step") for (let i = 0; i < o.n && engine.hasWork(); i++) engine.step(() => {});
          engine.kv.pool.checkInvariants();
          if (engine.scheduler.running.length > 6) return false;
        }
        runUntilIdle(100_000);
        engine.kv.pool.checkInvariants();
        return engine.kv.pool.numUsedBlocks === 0 && engine.numActiveRequests === 0;
      }),
      seeded({ numRuns: 200 }),
    );
  });
});
