/**
 * Continuous-batching scheduler (after vLLM v1's `scheduler.py`, rewritten). Each step it
 * hands out a token budget (`maxNumBatchedTokens`) first to running requests, in admission
 * order, then to waiting ones while fewer than `maxNumSeqs` run. Every request gets
 * `numTokens - numComputedTokens` tokens, capped by the budget: that one rule is chunked
 * prefill, decode, prefix-hit skipping and resumption.
 *
 * When the KV cache manager cannot give a running request its slots, the scheduler preempts
 * the most recently admitted running request (the tail of `running`) and retries, as vLLM v1
 * does. Recompute drops the victim's KV; swap (an option) parks it in host memory and charges
 * the copy time to the step. No new request is admitted in a step that preempted.
 *
 * With `chunkedPrefill` off (vLLM's `--no-enable-chunked-prefill`, the V0 engine's default
 * below 32k context: vllm-project/vllm v0.6.0, `core/scheduler.py` `_schedule_default`), a
 * step is either all prefills or all decodes: waiting requests are admitted first, each with
 * its whole prompt or not at all, and running requests decode only in steps that admitted
 * none. Prefills then stall every running request, which is what the V0 engine's TPOT shows
 * under load.
 *
 * Invariants: a request is in exactly one of `waiting` / `running` / neither (finished);
 * only running requests hold blocks; swapped requests hold none and have `swappedBytes > 0`.
 */
import { KVCacheBlocks, type KVCacheManager } from "./kv-cache-manager";
import { Request, RequestStatus } from "./request";

export const PreemptionMode = { Recompute: "recompute", Swap: "swap" } as const;
export type PreemptionMode = (typeof PreemptionMode)[keyof typeof PreemptionMode];

export interface SchedulerConfig {
  maxNumSeqs: number;
  maxNumBatchedTokens: number;
  preemptionMode: PreemptionMode;
  /** Host memory for swapped-out KV (vLLM's `swap_space`); when full, swap falls back to recompute. */
  swapSpaceBytes: number;
  /** KV bytes of one block across all tensor-parallel ranks, to cost swaps. */
  blockBytes: number;
  /** Mix prompt chunks into decode steps (V1); false schedules whole prompts in prefill-only steps (V0). Default true. */
  chunkedPrefill?: boolean;
}

export interface ScheduledRequest {
  request: Request;
  numNewTokens: number;
  /** Tokens already in the KV cache before this step (attention reads them). */
  numContextTokens: number;
}

/** The per-step plan the executor runs and the engine applies. */
export interface SchedulerOutput {
  scheduled: ScheduledRequest[];
  numScheduledTokens: number;
  preempted: Request[];
  swapOutBytes: number;
  swapInBytes: number;
}

export class Scheduler {
  readonly waiting: Request[] = [];
  readonly running: Request[] = [];
  numPreemptions = 0;
  private swapUsedBytes = 0;

  constructor(
    readonly config: SchedulerConfig,
    readonly kv: KVCacheManager,
  ) {}

  addRequest(request: Request): void {
    request.status = RequestStatus.Waiting;
    this.waiting.push(request);
  }

  hasWork(): boolean {
    return this.running.length > 0 || this.waiting.length > 0;
  }

  schedule(now: number): SchedulerOutput {
    const out: SchedulerOutput = { scheduled: [], numScheduledTokens: 0, preempted: [], swapOutBytes: 0, swapInBytes: 0 };
    let budget = this.config.maxNumBatchedTokens;
    if (this.config.chunkedPrefill === false) {
      budget = this.admitWaiting(now, out, budget, true);
      if (out.scheduled.length === 0) budget = this.continueRunning(out, budget);
    } else {
      budget = this.continueRunning(out, budget);
      if (out.preempted.length === 0) budget = this.admitWaiting(now, out, budget, false);
    }
    out.numScheduledTokens = this.config.maxNumBatchedTokens - budget;
    return out;
  }

  /** Running requests in admission order, preempting from the tail when blocks run out; returns the budget left. */
  private continueRunning(out: SchedulerOutput, budget: number): number {
    for (let i = 0; i < this.running.length && budget > 0; i++) {
      const request = this.running[i]!;
      const numNew = Math.min(request.numTokens - request.numComputedTokens, budget);
      if (numNew <= 0) continue;
      let granted = false;
      for (;;) {
        if (this.kv.allocateSlots(request, numNew)) {
          granted = true;
          break;
        }
        const victim = this.running.pop()!; // the most recently admitted
        this.preempt(victim, out);
        if (victim === request) break;
      }
      if (!granted) break;
      out.scheduled.push({ request, numNewTokens: numNew, numContextTokens: request.numComputedTokens });
      budget -= numNew;
    }
    return budget;
  }

  /** Waiting requests in order while fewer than maxNumSeqs run; `whole`: a prompt is admitted entire or waits. Returns the budget left. */
  private admitWaiting(now: number, out: SchedulerOutput, budget: number, whole: boolean): number {
    while (this.waiting.length > 0 && budget > 0 && this.running.length < this.config.maxNumSeqs) {
      const request = this.waiting[0]!;
      const resumingSwap = request.swappedBytes > 0;
      let hit = { blocks: KVCacheBlocks.empty, numComputedTokens: 0 };
      if (!resumingSwap) {
        request.numComputedTokens = 0;
        hit = this.kv.getComputedBlocks(request);
      }
      const remaining = request.numTokens - request.numComputedTokens - hit.numComputedTokens;
      if (whole && remaining > budget) break;
      const numNew = Math.min(remaining, budget);
      if (!this.kv.allocateSlots(request, numNew, hit.blocks)) break;
      this.waiting.shift();
      if (resumingSwap) {
        out.swapInBytes += request.swappedBytes;
        this.swapUsedBytes -= request.swappedBytes;
        request.swappedBytes = 0;
      } else {
        this.kv.recordPrefixLookup(request.numTokens, hit.numComputedTokens);
        if (request.numCachedPromptTokens < 0) request.numCachedPromptTokens = Math.min(hit.numComputedTokens, request.numPromptTokens);
      }
      request.numComputedTokens += hit.numComputedTokens;
      request.status = RequestStatus.Running;
      request.firstScheduledTime ??= now;
      this.running.push(request);
      out.scheduled.push({ request, numNewTokens: numNew, numContextTokens: request.numComputedTokens });
      budget -= numNew;
    }
    return budget;
  }

  /** Ends a request wherever it is (running, waiting, swapped) and frees its blocks at once. */
  finish(request: Request, status: RequestStatus): void {
    const r = this.running.indexOf(request);
    if (r >= 0) this.running.splice(r, 1);
    else {
      const w = this.waiting.indexOf(request);
      if (w >= 0) this.waiting.splice(w, 1);
    }
    this.kv.free(request);
    this.swapUsedBytes -= request.swappedBytes;
    request.swappedBytes = 0;
    request.status = status;
  }

  private preempt(victim: Request, out: SchedulerOutput): void {
    const computedBlocks = Math.ceil(victim.numComputedTokens / this.kv.blockSize);
    const bytes = computedBlocks * this.config.blockBytes;
    this.kv.free(victim);
    if (this.config.preemptionMode === PreemptionMode.Swap && bytes > 0 && this.swapUsedBytes + bytes <= this.config.swapSpaceBytes) {
      victim.swappedBytes = bytes;
      this.swapUsedBytes += bytes;
      out.swapOutBytes += bytes;
    } else {
      victim.numComputedTokens = 0;
    }
    victim.status = RequestStatus.Preempted;
    victim.numPreemptions++;
    this.numPreemptions++;
    this.waiting.unshift(victim);
    out.preempted.push(victim);
  }
}
