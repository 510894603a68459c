/** Small builders shared by the serving tests: an engine on a virtual clock and a recording sink. */
import { VirtualClock } from "../../runtime/serving/engine/clock";
import { resolveEngineConfig, type EngineArgs } from "../../runtime/serving/engine/config";
import { LLMEngine } from "../../runtime/serving/engine/engine";
import type { FinishReason, RequestSink } from "../../runtime/serving/engine/request";

export function virtualEngine(args: EngineArgs = {}) {
  const clock = new VirtualClock();
  const engine = new LLMEngine(resolveEngineConfig(args), () => clock.now());
  const runUntilIdle = (maxSteps = 1_000_000) => {
    let steps = 0;
    while (engine.hasWork() && steps++ < maxSteps) engine.step((s) => clock.advance(s));
    return steps;
  };
  return { clock, engine, runUntilIdle };
}

export class RecordingSink implements RequestSink {
  tokens: number[] = [];
  times: number[] = [];
  finished: FinishReason | null = null;
  onToken(token: number, now: number): void {
    this.tokens.push(token);
    this.times.push(now);
  }
  onFinish(reason: FinishReason): void {
    this.finished = reason;
  }
}

/** Deterministic token ids 0..n-1 shifted by `offset` (distinct offsets: no shared prefix). */
export function promptOf(n: number, offset = 0): number[] {
  return Array.from({ length: n }, (_, i) => (offset * 7919 + i) % 32000);
}
