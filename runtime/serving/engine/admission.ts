/**
 * Admission control, the load-shedding half of the engine (pure, so the HTTP layer and the
 * benchmark run exactly the same rule):
 * - a request that can never run (prompt + max_tokens > max-model-len) is refused at once,
 *   as a client error, instead of waiting forever or failing mid-generation;
 * - a request arriving at a full waiting queue is refused with a retry hint, so overload turns
 *   into fast 429s instead of unbounded queueing, memory growth or timeouts.
 * Requests already admitted are never dropped: KV pressure is handled by preemption.
 */

export type Admission =
  | { ok: true }
  | { ok: false; kind: "context_length"; param: "max_tokens" | "prompt"; message: string }
  | { ok: false; kind: "queue_full"; retryAfterSeconds: number; message: string };

export interface AdmissionState {
  maxModelLen: number;
  waiting: number;
  maxWaiting: number;
  /** Requests finished per second recently; 0 when unknown. */
  recentFinishRate: number;
}

export const MAX_RETRY_AFTER_S = 60;

export function admit(promptTokens: number, maxTokens: number, state: AdmissionState): Admission {
  if (promptTokens + maxTokens > state.maxModelLen) {
    return {
      ok: false,
      kind: "context_length",
      param: promptTokens >= state.maxModelLen ? "prompt" : "max_tokens",
      message:
        `This model's maximum context length is ${state.maxModelLen} tokens. However, you requested ` +
        `${promptTokens + maxTokens} tokens (${promptTokens} in the prompt, ${maxTokens} in the completion). ` +
        `Please reduce the length of the prompt or completion.`,
    };
  }
  if (state.waiting >= state.maxWaiting) {
    return {
      ok: false,
      kind: "queue_full",
      retryAfterSeconds: retryAfter(state),
      message: `The server is overloaded: ${state.waiting} requests are waiting (limit ${state.maxWaiting}). Retry later.`,
    };
  }
  return { ok: true };
}

/** Seconds until the queue has likely drained once at the recent finish rate, in [1, 60]. */
export function retryAfter(state: AdmissionState): number {
  if (!(state.recentFinishRate > 0)) return 1;
  return Math.min(MAX_RETRY_AFTER_S, Math.max(1, Math.ceil(state.waiting / state.recentFinishRate)));
}
