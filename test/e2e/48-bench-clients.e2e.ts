/**
 * The Kubernetes inference community's benchmark clients, from PyPI, against a running
 * `gpk serve` on loopback: guidellm 0.3.1 and inference-perf 0.7.0 (the bench-clients set,
 * tools/python-bench-requirements.txt). Each runs a short sweep of two request rates with
 * synthetic prompts of exact token counts, built with the kit's tokenizer exported in Hugging
 * Face format (`gpk serve --write-tokenizer`); then its report is parsed and its counts are
 * set against the server's own /metrics counters, read before and after with a Prometheus
 * text parser:
 * - inference-perf sends only the benchmark's requests: the server counts exactly its
 *   requests, output tokens and prompt tokens;
 * - guidellm first checks the connection with requests of its own ("Test connection",
 *   max_tokens 1: guidellm/backend/backend.py `validate`, called by the run and by each worker
 *   process), which its report leaves out. Each adds one request and one output token, so the
 *   server's counts exceed the report's by the same number in both, and by that many times
 *   the probe prompt's tokens in prompt tokens.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import parsePrometheus from "parse-prometheus-text-format";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BENCH_CLIENTS, ensurePythonTools, type PythonTools } from "../../cli/tools/python";
import { findModel } from "../../runtime/serving/engine/models";
import { Tokenizer } from "../../runtime/serving/engine/tokenizer";
import { GPK, REPO_ROOT, gpk } from "./cluster";

const MODEL = "Qwen/Qwen2.5-0.5B-Instruct";
const OFFLINE = { HF_HUB_OFFLINE: "1", TRANSFORMERS_OFFLINE: "1", HF_DATASETS_OFFLINE: "1" };

interface Counters {
  requests: number;
  promptTokens: number;
  generationTokens: number;
}

/** The server's request and token counters, summed over their labels. */
async function counters(baseUrl: string): Promise<Counters> {
  const families = parsePrometheus(await (await fetch(`${baseUrl}/metrics`)).text());
  const total = (name: string) => {
    const family = families.find((f) => f.name === name);
    if (!family) throw new Error(`/metrics has no ${name}`);
    return (family.metrics as { value: string }[]).reduce((sum, m) => sum + Number(m.value), 0);
  };
  return { requests: total("vllm:request_success_total"), promptTokens: total("vllm:prompt_tokens_total"), generationTokens: total("vllm:generation_tokens_total") };
}

const delta = (before: Counters, after: Counters): Counters => ({
  requests: after.requests - before.requests,
  promptTokens: after.promptTokens - before.promptTokens,
  generationTokens: after.generationTokens - before.generationTokens,
});

function writeJson(file: string, value: unknown): string {
  writeFileSync(file, JSON.stringify(value));
  return file;
}

function runClient(file: string, args: string[], cwd: string): string {
  const run = spawnSync(file, args, { cwd, encoding: "utf8", timeout: 300_000, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, ...OFFLINE } });
  expect(run.status, `${path.basename(file)} exited ${run.status}\n${run.stdout.slice(-3000)}\n${run.stderr.slice(-3000)}`).toBe(0);
  return run.stdout;
}

describe("benchmark clients against gpk serve", () => {
  let server: ChildProcess;
  let baseUrl = "";
  let tools: PythonTools;
  let work = "";
  let tokenizerDir = "";

  beforeAll(async () => {
    tools = ensurePythonTools((line) => process.stderr.write(`[bench-clients] ${line}\n`), process.env, BENCH_CLIENTS);
    work = mkdtempSync(path.join(tmpdir(), "gpk-bench-clients-"));
    tokenizerDir = path.join(work, "tokenizer");
    const written = gpk(["serve", "--write-tokenizer", tokenizerDir, "--model", "qwen2.5-0.5b"]);
    expect(written.status, written.stderr).toBe(0);
    server = spawn(process.execPath, [GPK, "serve", "--host", "127.0.0.1", "--port", "0", "--model", "qwen2.5-0.5b", "--json"], { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
    const listening = await new Promise<{ url: string }>((resolve, reject) => {
      let out = "";
      const timer = setTimeout(() => reject(new Error(`gpk serve printed no JSON within 60 s: ${out}`)), 60_000);
      server.stdout!.on("data", (chunk) => {
        out += chunk;
        try {
          resolve(JSON.parse(out));
          clearTimeout(timer);
        } catch {
          // Not the whole document yet.
        }
      });
      server.once("exit", (code) => reject(new Error(`gpk serve exited ${code}: ${out}`)));
    });
    baseUrl = listening.url;
  }, 900_000);

  afterAll(() => {
    server?.kill("SIGTERM");
  });

  it("inference-perf: the server counts exactly the requests and tokens it reports", async () => {
    const reports = path.join(work, "inference-perf");
    const config = path.join(work, "inference-perf.yml");
    // Written as JSON, which is YAML; keys are inference-perf's config schema (config/*.py).
    writeFileSync(config, JSON.stringify({
      api: { type: "completion", streaming: true },
      data: {
        type: "random",
        input_distribution: { min: 32, max: 96, mean: 64, std_dev: 16 },
        output_distribution: { min: 8, max: 24, mean: 16, std_dev: 4 },
      },
      load: { type: "constant", interval: 0.5, stages: [{ rate: 4, duration: 2 }, { rate: 8, duration: 2 }], num_workers: 1 },
      server: { type: "vllm", model_name: MODEL, base_url: baseUrl, ignore_eos: true },
      tokenizer: { pretrained_model_name_or_path: tokenizerDir },
      report: { request_lifecycle: { summary: true, per_stage: true, per_request: false } },
      storage: { local_storage: { path: reports } },
    }));
    const before = await counters(baseUrl);
    runClient(tools.bin("inference-perf"), ["--config_file", config], work);
    const served = delta(before, await counters(baseUrl));

    const summary = JSON.parse(readFileSync(path.join(reports, "summary_lifecycle_metrics.json"), "utf8"));
    const stages = [0, 1].map((n) => JSON.parse(readFileSync(path.join(reports, `stage_${n}_lifecycle_metrics.json`), "utf8")));
    expect(summary.failures.count).toBe(0);
    expect(stages.map((s) => s.successes.count).reduce((a, b) => a + b, 0)).toBe(summary.successes.count);
    expect(summary.load_summary.count).toBe(summary.successes.count);
    expect(served).toEqual({
      requests: summary.successes.count,
      promptTokens: summary.successes.prompt_tokens.total,
      generationTokens: summary.successes.output_tokens.total,
    });
    // The client re-tokenized every streamed output with the exported tokenizer: same counts as the server's usage.
    expect(summary.successes.token_count_mismatches).toBe(0);
    expect(summary.successes.client_fallback_requests).toEqual({ prompt: 0, output: 0 });
    expect(summary.successes.count).toBeGreaterThan(10);
  });

  it("guidellm: the server counts its requests plus its connection checks, and nothing else", async () => {
    const report = path.join(work, "guidellm.json");
    const before = await counters(baseUrl);
    runClient(tools.bin("guidellm"), [
      "benchmark", "--target", baseUrl, "--model", MODEL, "--processor", tokenizerDir,
      "--data", "prompt_tokens=64,output_tokens=16,samples=40", "--rate-type", "constant", "--rate", "4,8",
      "--max-requests", "10", "--random-seed", "7", "--output-path", report, "--disable-progress",
    ], work);
    const served = delta(before, await counters(baseUrl));

    const benchmarks = (JSON.parse(readFileSync(report, "utf8")) as { benchmarks: any[] }).benchmarks;
    expect(benchmarks.map((b) => b.args.strategy.rate ?? b.args.strategy.type_)).toEqual([4, 8]);
    const successful = benchmarks.flatMap((b) => b.requests.successful as { prompt_tokens: number; output_tokens: number }[]);
    for (const b of benchmarks) expect(b.request_totals).toMatchObject({ successful: 10, errored: 0, incomplete: 0, total: 10 });
    const reported = {
      requests: successful.length,
      promptTokens: successful.reduce((s, r) => s + r.prompt_tokens, 0),
      generationTokens: successful.reduce((s, r) => s + r.output_tokens, 0),
    };
    expect(reported.generationTokens).toBe(20 * 16);
    const probes = served.requests - reported.requests;
    expect(probes).toBeGreaterThanOrEqual(1);
    const probePromptTokens = new Tokenizer(findModel(MODEL)!.vocabSize).count("Test connection");
    expect(served).toEqual({
      requests: reported.requests + probes,
      promptTokens: reported.promptTokens + probes * probePromptTokens,
      generationTokens: reported.generationTokens + probes,
    });
    // guidellm cut each prompt to its token target with the exported tokenizer (encode, then
    // decode a prefix); transformers counts the text it sent exactly as the server did.
    const sent = benchmarks.flatMap((b) => b.requests.successful as { prompt: string }[]).map((r) => r.prompt);
    const count = runClient(tools.bin("python"), ["-c", [
      "import json, sys",
      "from transformers import AutoTokenizer",
      "tok = AutoTokenizer.from_pretrained(sys.argv[1], local_files_only=True)",
      "print(json.dumps([len(tok.encode(t, add_special_tokens=False)) for t in json.load(open(sys.argv[2]))]))",
    ].join("\n"), tokenizerDir, writeJson(path.join(work, "guidellm-prompts.json"), sent)], work);
    expect(JSON.parse(count.trim().split("\n").at(-1)!)).toEqual(successful.map((r) => r.prompt_tokens));
  });
});
