/**
 * The timing model against published vLLM runs (bench/fidelity-runs.ts, data/vllm-benchmark):
 * every validation run, which no constant is fitted on, meets the bar that
 * docs/serving-fidelity.md reports: output throughput and median TPOT within ±15% of published,
 * mean TTFT within ±30%. The set holds low load (10 requests) and high (320 and 1,280 at once),
 * on 1 GPU (Llama-3-8B) and under TP4 (Llama-3-70B). Figures are virtual-clock seconds, the same
 * on any machine.
 */
import { describe, expect, it } from "vitest";
import { CALIBRATION, PUBLISHED_RUNS, meetsBar, replayPublishedRun } from "../../bench/fidelity-runs";

const validation = PUBLISHED_RUNS.filter((r) => !CALIBRATION.has(r.numPrompts));

describe("replay against published vLLM runs", () => {
  it("the validation set covers low and high load, 1 GPU and TP4", () => {
    expect(validation.map((r) => [r.model, r.tensorParallelSize, r.numPrompts]).sort()).toEqual([
      ["llama-3-70b", 4, 10], ["llama-3-70b", 4, 1280], ["llama-3-70b", 4, 320], ["llama-3-70b", 4, 80],
      ["llama-3-8b", 1, 10], ["llama-3-8b", 1, 1280], ["llama-3-8b", 1, 320], ["llama-3-8b", 1, 80],
    ]);
  });

  it.each(validation.map((r) => [r.model, r.numPrompts, r] as const))("%s with %i requests at once meets the bar", (_model, _n, run) => {
    const { sim, ratios } = replayPublishedRun(run);
    expect(sim.completed).toBe(run.published.completed);
    expect(meetsBar(ratios), JSON.stringify(ratios)).toBe(true);
  });
});
