/**
 * One generation request as the engine sees it. There is no prefill/decode phase field:
 * the scheduler only compares `numComputedTokens` with `numTokens` (prompt + output so far)
 * and schedules the difference, which covers chunked prefill, prefix hits, decode and
 * resumption after preemption with one rule (vLLM v1).
 */

export const RequestStatus = {
  Waiting: "waiting",
  Running: "running",
  /** Preempted and back in the waiting queue (recompute: computed tokens dropped; swap: KV held in host memory). */
  Preempted: "preempted",
  FinishedStopped: "finished_stopped",
  FinishedLength: "finished_length",
  FinishedAborted: "finished_aborted",
} as const;
export type RequestStatus = (typeof RequestStatus)[keyof typeof RequestStatus];

export type FinishReason = "stop" | "length" | "abort";

export function isFinished(status: RequestStatus): boolean {
  return status === RequestStatus.FinishedStopped || status === RequestStatus.FinishedLength || status === RequestStatus.FinishedAborted;
}

/** What the engine tells the owner of a request; called synchronously at the end of a step. */
export interface RequestSink {
  /** One new output token at simulated time `now` (seconds). */
  onToken(tokenId: number, now: number): void;
  onFinish(reason: FinishReason, now: number): void;
}

export interface SamplingSpec {
  maxTokens: number;
  /** Keep generating past the simulated model's natural end of sequence (vLLM's `ignore_eos`). */
  ignoreEos: boolean;
  /** Seed of the simulated model's deterministic output; derived from the prompt when absent. */
  seed: number;
}

export class Request {
  status: RequestStatus = RequestStatus.Waiting;
  readonly outputTokenIds: number[] = [];
  /** Tokens whose KV is in the cache (or in host memory while swapped). Catches up to `numTokens`. */
  numComputedTokens = 0;
  /** Prompt tokens served from the prefix cache at first admission (reported as cached tokens). */
  numCachedPromptTokens = -1;
  numPreemptions = 0;
  /** Set while preempted by swap: bytes of KV held in host memory. */
  swappedBytes = 0;
  firstScheduledTime: number | null = null;
  firstTokenTime: number | null = null;
  lastTokenTime: number | null = null;
  finishTime: number | null = null;

  constructor(
    readonly id: string,
    readonly promptTokenIds: readonly number[],
    readonly sampling: SamplingSpec,
    readonly arrivalTime: number,
    readonly sink: RequestSink,
  ) {
    if (promptTokenIds.length === 0) throw new Error("a request needs at least one prompt token");
  }

  get numPromptTokens(): number {
    return this.promptTokenIds.length;
  }

  get numTokens(): number {
    return this.promptTokenIds.length + this.outputTokenIds.length;
  }

  tokenAt(i: number): number {
    const p = this.promptTokenIds.length;
    return i < p ? this.promptTokenIds[i]! : this.outputTokenIds[i - p]!;
  }
}
