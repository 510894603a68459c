/**
 * `gpk plan serving` end to end through the real CLI: a recommendation's rate replayed with
 * `gpk serve --replay --request-rate` meets the SLO and 1.15× that rate misses (three workloads,
 * two GPU products); the same plan from one worker thread or two; bad flags as one line, exit 2.
 * SLOs are derived from the simulator (between a lone request's TPOT and a saturated replica's),
 * never written as figures, so the tests hold whatever the timing constants are.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { resolveEngineConfig } from "../../runtime/serving/engine/config";
import { replayWorkload } from "../../runtime/serving/replay";
import { MISS_FACTOR, roundRate } from "../../runtime/serving/capacity/search";
import { shapeRequests, toReplayJsonl, type WorkloadShapeName } from "../../runtime/serving/capacity/workload";
import { runGpk } from "../cli/run-gpk";
import { expectJsonShape } from "../cli/json-shape-assert";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gpk-plan-test-"));
const MODEL = "llama-3-8b";
const SETTING = { maxNumSeqs: 64, maxNumBatchedTokens: 2048 };
const REQUESTS = 150;

function workloadFile(shape: WorkloadShapeName): { file: string; requests: ReturnType<typeof shapeRequests> } {
  const requests = shapeRequests(shape, 7, REQUESTS);
  const file = path.join(dir, `${shape}.jsonl`);
  fs.writeFileSync(file, toReplayJsonl(requests));
  return { file, requests };
}

/** A p99 TPOT bound between what a lone request and a saturated replica measure: one the rate decides. */
function bindingTpotSlo(gpu: "h100" | "l40s", requests: ReturnType<typeof shapeRequests>): number {
  const config = resolveEngineConfig({ model: MODEL, gpu, ...SETTING });
  // The search's own first probes: Poisson arrivals at the burst throughput, and far below it.
  const throughput = roundRate(replayWorkload(config, requests, { seed: 0 }).requestThroughput);
  const saturated = replayWorkload(config, requests, { requestRate: throughput, seed: 0 });
  const lone = replayWorkload(config, requests, { requestRate: roundRate(throughput / 64), seed: 0 });
  expect(saturated.tpotMs.p99).toBeGreaterThan(lone.tpotMs.p99 * 1.2);
  return Math.round(Math.sqrt(lone.tpotMs.p99 * saturated.tpotMs.p99) * 10) / 10;
}

function replayAt(gpu: string, file: string, rate: number) {
  const run = runGpk(["serve", "--replay", file, "--model", MODEL, "--gpu", gpu, "--tensor-parallel-size", "1", "--max-num-seqs", String(SETTING.maxNumSeqs),
    "--max-num-batched-tokens", String(SETTING.maxNumBatchedTokens), "--request-rate", String(rate), "--seed", "0", "--json"]);
  expect(run.status, run.stderr).toBe(0);
  return JSON.parse(run.stdout);
}

describe("gpk plan serving: a recommendation's rate, replayed", () => {
  const cases = (["chat", "rag", "summarize"] as const).flatMap((shape) => (["h100", "l40s"] as const).map((gpu) => ({ shape, gpu })));
  it.each(cases)("$shape on $gpu: meets the SLO at maxRatePerReplica and misses it at 1.15×", ({ shape, gpu }) => {
    const { file, requests } = workloadFile(shape);
    const tpot = bindingTpotSlo(gpu, requests);
    const plan = runGpk(["plan", "serving", "--workload", file, "--rate", "10", "--slo", `tpot-p99=${tpot}`, "--model", MODEL, "--gpus", gpu, "--tp", "1",
      "--engine-settings", `${SETTING.maxNumSeqs}:${SETTING.maxNumBatchedTokens}`, "--workers", "1", "--json"]);
    expect(plan.status, plan.stderr).toBe(0);
    const doc = JSON.parse(plan.stdout);
    const best = doc.best;
    expect(best).toMatchObject({ gpu, tensorParallelSize: 1, ...SETTING, meetsSlo: true });
    expect(best.maxRatePerReplica).toBeGreaterThan(0);
    // The SLO, not the saturated throughput, bounds the rate: that is what 1.15× must cross.
    expect(doc.candidates.find((c: any) => c.instanceType === best.instanceType).limit).toBe("slo");
    const at = replayAt(gpu, file, best.maxRatePerReplica);
    expect(at.failed).toBe(0);
    expect(at.tpotMs.p99).toBeLessThanOrEqual(tpot);
    const above = replayAt(gpu, file, roundRate(best.maxRatePerReplica * MISS_FACTOR));
    expect(above.failed > 0 || above.tpotMs.p99 > tpot).toBe(true);
    // The replicas carry the peak with the default 20% headroom, and no fewer would.
    expect(best.replicas * best.maxRatePerReplica).toBeGreaterThanOrEqual(12 - 1e-9);
    expect((best.replicas - 1) * best.maxRatePerReplica).toBeLessThan(12);
  });
});

describe("gpk plan serving: backends and determinism", () => {
  it("prints the same plan from one worker thread and from two (apart from wallSeconds)", () => {
    const { file } = workloadFile("chat");
    const args = ["plan", "serving", "--workload", file, "--rate", "4", "--slo", "ttft-p99=2000,tpot-p99=80", "--model", MODEL, "--gpus", "l40s,l4", "--tp", "1,2",
      "--engine-settings", "64:2048", "--json"];
    const one = runGpk([...args, "--workers", "1"]);
    const two = runGpk([...args, "--workers", "2"]);
    expect(one.status, one.stderr).toBe(0);
    expect(two.status, two.stderr).toBe(0);
    const strip = (s: string) => ({ ...JSON.parse(s), wallSeconds: undefined });
    expect(strip(two.stdout)).toEqual(strip(one.stdout));
    const doc = expectJsonShape("plan", "serving", one.stdout);
    expect(doc.backend).toBe("threads");
    expect(Object.keys(doc.candidates[0])).toEqual(expect.arrayContaining([
      "gpu", "instanceType", "tensorParallelSize", "maxNumSeqs", "maxNumBatchedTokens", "maxRatePerReplica", "replicas", "gpus", "dollarsPerHour", "dollarsPerMillionOutputTokens", "meetsSlo",
    ]));
    // Ranked: every candidate that meets the SLO before any that does not, cheapest first.
    const meeting = doc.candidates.filter((c: any) => c.meetsSlo);
    expect(doc.candidates.slice(0, meeting.length)).toEqual(meeting);
    expect(meeting.map((c: any) => c.dollarsPerHour)).toEqual([...meeting.map((c: any) => c.dollarsPerHour)].sort((a: number, b: number) => a - b));
    if (doc.best) expect(doc.best).toEqual(meeting[0]);
    // Progress went to stderr, one line per configuration searched.
    expect(one.stderr.match(/^\[\d+\/\d+\]/gm)?.length).toBe(4);
  });

  it("sizes a stack entry from its traffic and slo and prints the config change that applies the best candidate", () => {
    const run = runGpk(["plan", "serving", "local", "--gpus", "h100", "--tp", "1", "--engine-settings", "64:2048", "--json"]);
    expect(run.status, run.stderr).toBe(0);
    const doc = expectJsonShape("plan", "serving", run.stdout);
    expect(doc).toMatchObject({ stack: "local", entry: "chat" });
    if (doc.best) {
      expect(doc.configChange).toMatchObject({ entry: "gpk:serving[0]", set: { tensorParallelSize: 1, maxNumSeqs: 64, maxNumBatchedTokens: 2048, maxReplicas: doc.best.replicas } });
    } else expect(doc.configChange).toBeNull();
  });
});

describe("gpk plan serving: bad input", () => {
  const base = ["plan", "serving", "--workload", "chat", "--rate", "5", "--slo", "ttft-p99=500", "--model", MODEL];
  it.each([
    [["--slo", "ttft=5"], /^gpk plan: --slo: unknown metric "ttft"; one of ttft-p99, tpot-p99, e2e-p99\n$/],
    [["--gpus", "h200"], /^gpk plan: --gpus: unknown GPU "h200"; one of h100, a100, l40s, a10g, l4\n$/],
    [["--engine-settings", "64"], /^gpk plan: --engine-settings: expected max-num-seqs:max-num-batched-tokens such as 256:4096, got "64"\n$/],
    [["--workload", "/nonexistent.jsonl"], /^gpk plan: --workload: cannot read \/nonexistent\.jsonl \(ENOENT\)/],
    [["--model", "gpt-9"], /^gpk plan: --model: unknown model "gpt-9"/],
    [["--workers", "2", "--ray-address", "auto"], /^gpk plan: --workers and --ray-address exclude each other\n$/],
    [["--workload", "/tmp"], /^gpk plan: --workload: \/tmp is a folder; expected a \.jsonl file or a shape \(chat, rag, summarize\)\n$/],
    [["--html", "/tmp"], /^gpk plan: --html: \/tmp is a folder; expected a file\n$/],
    [["--rate", "-5"], /^gpk plan: --rate: expected a number between 0\.000001 and 1000000000, got -5; see `gpk plan --help`\n$/],
  ])("%j: one line, exit 2", (extra, message) => {
    const flags = [...base];
    for (let i = 0; i < extra.length; i += 2) {
      const at = flags.indexOf(extra[i]!);
      if (at >= 0) flags.splice(at, 2);
      flags.push(extra[i]!, extra[i + 1]!);
    }
    const run = runGpk(flags);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("refuses a workload line with arrival_s, naming the request", () => {
    const file = path.join(dir, "timed.jsonl");
    fs.writeFileSync(file, '{"input_tokens": 10, "output_tokens": 5}\n{"input_tokens": 10, "output_tokens": 5, "arrival_s": 1}\n');
    const run = runGpk([...base.slice(0, 2), "--workload", file, ...base.slice(4)]);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain("request 2 carries arrival_s");
  });

  it("names a stack entry without traffic", () => {
    const run = runGpk(["plan", "serving", "prod", "--entry", "nope"]);
    expect(run.status).toBe(2);
    expect(run.stderr).toBe('gpk plan: --entry: no serving entry "nope" in stack prod; entries: llama-8b\n');
  });
});
