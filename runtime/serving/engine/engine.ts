/**
 * The engine core: admission, scheduler, KV cache manager and simulated executor behind a small
 * API. It owns no clock and no transport: callers pass time in (`now`) and drive steps
 * (`schedule` → wait `cost.seconds` → `complete`), so the same engine runs under a virtual
 * clock in benchmarks and tests and in real time behind HTTP (see loop.ts).
 */
import { admit, type Admission } from "./admission";
import type { EngineConfig } from "./config";
import { SimulatedExecutor, type StepCost } from "./executor";
import { KVCacheManager } from "./kv-cache-manager";
import { Request, RequestStatus, isFinished, type FinishReason, type RequestSink } from "./request";
import { Scheduler, type SchedulerOutput } from "./scheduler";
import { SimulatedModel } from "./simulated-model";
import { Tokenizer } from "./tokenizer";

export interface SubmitOptions {
  id?: string;
  promptTokenIds: readonly number[];
  maxTokens: number;
  ignoreEos?: boolean;
  seed?: number;
  /** When the request arrived (defaults to now); benchmarks pass the exact arrival time. */
  arrivalTime?: number;
  sink: RequestSink;
}

export type SubmitResult = ({ ok: true; request: Request }) | Exclude<Admission, { ok: true }>;

/** Per-request timings for metrics; all times in engine seconds. */
export interface EngineObserver {
  onFirstToken?(request: Request, ttft: number): void;
  onInterToken?(request: Request, seconds: number): void;
  onFinish?(request: Request, reason: FinishReason, e2e: number): void;
}

export interface Step {
  output: SchedulerOutput;
  cost: StepCost;
}

export interface EngineSnapshot {
  running: number;
  waiting: number;
  kvCacheUsage: number;
  usedBlocks: number;
  numBlocks: number;
  numPreemptions: number;
  promptTokens: number;
  generationTokens: number;
}

const STATUS_FOR: Record<FinishReason, RequestStatus> = {
  stop: RequestStatus.FinishedStopped,
  length: RequestStatus.FinishedLength,
  abort: RequestStatus.FinishedAborted,
};

export class LLMEngine {
  readonly tokenizer: Tokenizer;
  readonly model: SimulatedModel;
  readonly kv: KVCacheManager;
  readonly scheduler: Scheduler;
  readonly executor: SimulatedExecutor;
  private readonly requests = new Map<string, Request>();
  private readonly observers: EngineObserver[] = [];
  private readonly recentFinishes: number[] = [];
  private nextId = 0;
  promptTokens = 0;
  generationTokens = 0;

  constructor(
    readonly config: EngineConfig,
    private readonly now: () => number,
  ) {
    this.tokenizer = new Tokenizer(config.model.vocabSize);
    this.model = new SimulatedModel(this.tokenizer);
    this.kv = new KVCacheManager(config.numGpuBlocks, config.blockSize, config.enablePrefixCaching);
    this.scheduler = new Scheduler(
      {
        maxNumSeqs: config.maxNumSeqs,
        maxNumBatchedTokens: config.maxNumBatchedTokens,
        preemptionMode: config.preemptionMode,
        swapSpaceBytes: config.swapSpaceBytes,
        blockBytes: config.kvBytesPerToken * config.blockSize,
        chunkedPrefill: config.enableChunkedPrefill,
      },
      this.kv,
    );
    this.executor = new SimulatedExecutor(config);
  }

  addObserver(observer: EngineObserver): void {
    this.observers.push(observer);
  }

  /** Admits a request or says why not (see admission.ts); never throws for load or length. */
  submit(opts: SubmitOptions): SubmitResult {
    const decision = admit(opts.promptTokenIds.length, opts.maxTokens, {
      maxModelLen: this.config.maxModelLen,
      waiting: this.scheduler.waiting.length,
      maxWaiting: this.config.maxWaiting,
      recentFinishRate: this.recentFinishRate(),
    });
    if (!decision.ok) return decision;
    const id = opts.id ?? `req-${this.nextId++}`;
    if (this.requests.has(id)) throw new Error(`duplicate request id ${id}`);
    const request = new Request(
      id,
      opts.promptTokenIds,
      { maxTokens: opts.maxTokens, ignoreEos: opts.ignoreEos ?? false, seed: opts.seed ?? this.model.seedFor(opts.promptTokenIds) },
      opts.arrivalTime ?? this.now(),
      opts.sink,
    );
    this.requests.set(id, request);
    this.scheduler.addRequest(request);
    return { ok: true, request };
  }

  /** Ends a request early (client gone, or a stop string matched) and frees its blocks at once. */
  finishRequest(id: string, reason: FinishReason = "abort"): boolean {
    const request = this.requests.get(id);
    if (!request || isFinished(request.status)) return false;
    this.finish(request, reason);
    return true;
  }

  hasWork(): boolean {
    return this.scheduler.hasWork();
  }

  /** Plans one step and prices it; the caller waits `cost.seconds` of engine time, then calls `complete`. */
  schedule(): Step {
    const output = this.scheduler.schedule(this.now());
    return { output, cost: this.executor.stepCost(output) };
  }

  /** Applies a finished step: computed tokens catch up, caught-up requests emit their next token. */
  complete(step: Step): void {
    const now = this.now();
    for (const { request, numNewTokens } of step.output.scheduled) {
      // Aborted (or finished by a stop string) while the step ran: its blocks are already free.
      if (request.status !== RequestStatus.Running) continue;
      request.numComputedTokens += numNewTokens;
      if (request.numComputedTokens < request.numTokens) continue; // a prefill chunk: no token yet
      this.emitToken(request, now);
    }
  }

  /** Runs one step in zero wall time with the given clock advance; for virtual-clock drivers. */
  step(advance: (seconds: number) => void): Step {
    const step = this.schedule();
    advance(step.cost.seconds);
    this.complete(step);
    return step;
  }

  snapshot(): EngineSnapshot {
    return {
      running: this.scheduler.running.length,
      waiting: this.scheduler.waiting.length,
      kvCacheUsage: this.kv.usage(),
      usedBlocks: this.kv.pool.numUsedBlocks,
      numBlocks: this.kv.numBlocks,
      numPreemptions: this.scheduler.numPreemptions,
      promptTokens: this.promptTokens,
      generationTokens: this.generationTokens,
    };
  }

  /** Requests not yet finished (for introspection in tests). */
  get numActiveRequests(): number {
    return this.requests.size;
  }

  private emitToken(request: Request, now: number): void {
    const index = request.outputTokenIds.length;
    const token = this.model.tokenAt(request.sampling.seed, index);
    request.outputTokenIds.push(token);
    this.generationTokens++;
    if (request.firstTokenTime === null) {
      request.firstTokenTime = now;
      this.promptTokens += request.numPromptTokens;
      for (const o of this.observers) o.onFirstToken?.(request, now - request.arrivalTime);
    } else {
      for (const o of this.observers) o.onInterToken?.(request, now - request.lastTokenTime!);
    }
    request.lastTokenTime = now;
    request.sink.onToken(token, now);
    if (request.status !== RequestStatus.Running) return; // the sink finished it (stop string)

    const produced = request.outputTokenIds.length;
    if (produced >= request.sampling.maxTokens || request.numTokens >= this.config.maxModelLen) this.finish(request, "length");
    else if (!request.sampling.ignoreEos && produced >= this.model.naturalLength(request.sampling.seed)) this.finish(request, "stop");
  }

  private finish(request: Request, reason: FinishReason): void {
    const now = this.now();
    this.scheduler.finish(request, STATUS_FOR[reason]);
    request.finishTime = now;
    this.requests.delete(request.id);
    if (reason !== "abort") {
      this.recentFinishes.push(now);
      if (this.recentFinishes.length > 64) this.recentFinishes.shift();
    }
    for (const o of this.observers) o.onFinish?.(request, reason, now - request.arrivalTime);
    request.sink.onFinish(reason, now);
  }

  private recentFinishRate(): number {
    const f = this.recentFinishes;
    if (f.length < 2) return 0;
    const span = f[f.length - 1]! - f[0]!;
    return span > 0 ? (f.length - 1) / span : 0;
  }
}
