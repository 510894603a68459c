/**
 * `gpk serve`: the vLLM-style OpenAI server (runtime/serving) on a simulated GPU, in this
 * process. Prints the listening address on stderr and serves until interrupted.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { hfTokenizerFiles } from "../../runtime/serving/engine/hf-tokenizer";
import { SERVE_FLAGS, SERVE_USAGE, resolveServeConfig, serveSettings } from "../../runtime/serving/args";
import { EngineConfigError } from "../../runtime/serving/engine/config";
import { describeConfig } from "../../runtime/serving/describe";
import { startServer } from "../../runtime/serving/http";
import { ReplayInputError, parseReplayFile, replayWorkload } from "../../runtime/serving/replay";
import { ExitCode, FlagError, UsageError, checkFolderToWrite, numberFlag, parseFlags, printJson, progress, readFileArgument, type Command } from "../contract";
import { helpShape } from "../json-shapes";

/** Flags of the two modes that run without a server: --replay and --write-tokenizer. */
const OFFLINE_FLAGS = {
  replay: { type: "string" },
  "write-tokenizer": { type: "string" },
  "request-rate": { type: "string" },
  "max-concurrency": { type: "string" },
  seed: { type: "string" },
} as const;

export const command: Command = {
  usage: `Usage: gpk serve [--port 8000] [--gpu h100|a100|l40s|a10g|l4] [--model <preset>] [--max-num-seqs N]
                 [--max-waiting N] [--gpu-memory-utilization 0.9] [more vLLM engine flags]

Serves the OpenAI API (/v1/completions, /v1/chat/completions, /v1/models), /health and
/metrics (vLLM metric names) from a vLLM-style engine — paged KV cache, continuous batching,
chunked prefill, preemption, bounded queue with 429 + Retry-After — on a simulated GPU.
Generated text is deterministic filler; token counts, timings and memory behaviour are modelled.

${SERVE_USAGE}
  --json                           once listening, print ${helpShape("serve", "serve", 35)}

Replay (no server): gpk serve --replay <workload.jsonl> [engine flags] [--request-rate R] [--max-concurrency C]
                    [--seed 0] [--json]
runs a workload on the virtual clock and reports what vLLM's serving benchmark (vllm bench serve)
reports for a run against a server, with its definitions. Latencies include the server's front end
(v1: beside the engine, per request and per streamed token; v0: in turns with its steps; docs/serving.md).
  --replay <file>                  one request per line: {"input_tokens","output_tokens","arrival_s"?}
                                   (no arrival_s: sent at --request-rate, or all at t=0)
  --request-rate R                 Poisson arrivals at R requests/s, seeded (default inf: all at once)
  --max-concurrency C              at most C requests in flight; the rest wait their turn
  --seed 0                         seed of the Poisson arrivals
  --json                           print ${helpShape("serve", "replay", 35)};
                                   same file and seed, same bytes
A malformed line is exit 2 naming file:line.

Tokenizer: gpk serve --write-tokenizer <dir> [--model <preset>] [--json]
writes gpk-wordpiece-v1 as a Hugging Face tokenizer (tokenizer.json, tokenizer_config.json) that
transformers.AutoTokenizer.from_pretrained(<dir>) loads offline and that counts tokens exactly as
the server does (ids differ), for benchmark clients that count with transformers. --json prints
${helpShape("serve", "write-tokenizer", 0)}.
`,
  async run(argv) {
    const { values: flags, positionals } = parseFlags(argv, { ...SERVE_FLAGS, ...OFFLINE_FLAGS, json: { type: "boolean", default: false } }, false);
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    const { json, replay, "request-rate": rate, "max-concurrency": concurrency, seed, "write-tokenizer": tokenizerDir, ...values } = flags;
    if (tokenizerDir !== undefined && replay !== undefined) throw new UsageError("--write-tokenizer and --replay exclude each other");
    if (tokenizerDir !== undefined) return writeTokenizer(tokenizerDir as string, values, Boolean(json));
    if (replay !== undefined) return runReplay(replay as string, values, { rate, concurrency, seed }, Boolean(json));
    for (const [flag, v] of Object.entries({ "request-rate": rate, "max-concurrency": concurrency, seed })) {
      if (v !== undefined) throw new UsageError(`--${flag} goes with --replay`);
    }
    let server;
    let config;
    let servedModelName: string | undefined;
    try {
      const settings = serveSettings(values);
      config = resolveServeConfig(settings);
      servedModelName = settings.servedModelName;
      server = await startServer({ config, clock: settings.clock, port: settings.port, host: settings.host, servedModelName });
      progress(describeConfig(config));
    } catch (err) {
      if (err instanceof EngineConfigError) throw new FlagError(err.flag, err.message);
      if ((err as NodeJS.ErrnoException).code === "EADDRINUSE") throw new UsageError(`--port: ${(err as Error).message}`);
      throw err;
    }
    progress(`serving on ${server.url} (OpenAI API: ${server.url}/v1; Ctrl-C to stop)`);
    if (json) {
      printJson({
        url: server.url, openaiBaseUrl: `${server.url}/v1`, model: config.model.id, servedModelName: servedModelName ?? config.model.id,
        gpu: config.gpu, tensorParallelSize: config.tensorParallelSize, maxNumSeqs: config.maxNumSeqs, maxWaiting: config.maxWaiting,
        kvCacheBlocks: config.numGpuBlocks, blockSize: config.blockSize,
      });
    }
    await new Promise<void>((resolve) => {
      const stop = () => void server.close().then(resolve);
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });
    return ExitCode.Ok;
  },
};

function runReplay(file: string, values: Record<string, string | boolean | undefined>, replayFlags: { rate?: unknown; concurrency?: unknown; seed?: unknown }, json: boolean): number {
  for (const flag of ["port", "host", "clock", "speedup"] as const) {
    if (values[flag] !== undefined) throw new UsageError(`--${flag} does not apply to --replay, which runs on the virtual clock without a server`);
  }
  const rawRate = replayFlags.rate as string | undefined;
  const requestRate = rawRate === undefined || rawRate === "inf" ? Infinity : numberFlag("request-rate", rawRate, Infinity, { min: 1e-6, max: 1e9 });
  const maxConcurrency = numberFlag("max-concurrency", replayFlags.concurrency as string | undefined, Infinity, { min: 1, max: 1e9, integer: true });
  const seed = numberFlag("seed", replayFlags.seed as string | undefined, 0, { min: 0, max: 2 ** 32 - 1, integer: true });
  const text = readFileArgument("--replay", file);
  let requests;
  try {
    requests = parseReplayFile(file, text);
    if (rawRate !== undefined && requests.some((r) => r.arrivalS !== undefined)) throw new UsageError("--request-rate: the workload's lines carry arrival_s; drop one or the other");
  } catch (err) {
    if (err instanceof ReplayInputError) throw new UsageError(`--replay: ${err.message}`);
    throw err;
  }
  const config = engineConfig(values);
  progress(describeConfig(config));
  progress(`replaying ${requests.length} request(s) from ${file} on the virtual clock`);
  const report = replayWorkload(config, requests, { requestRate, maxConcurrency, seed });
  if (json) printJson(report);
  else {
    const d = (name: string, x: { mean: number; p50: number; p99: number }) => `  ${name.padEnd(5)} mean ${x.mean} ms, median ${x.p50} ms, p99 ${x.p99} ms`;
    process.stdout.write([
      `${report.completed}/${report.requests} completed (${report.failed} failed) in ${report.durationS} s; ${report.preemptions} preemption(s)`,
      `  ${report.requestThroughput} req/s, ${report.inputTokensPerS} input tok/s, ${report.outputTokensPerS} output tok/s`,
      d("TTFT", report.ttftMs), d("TPOT", report.tpotMs), d("ITL", report.itlMs), d("E2EL", report.e2elMs),
    ].join("\n") + "\n");
  }
  return ExitCode.Ok;
}

/** The engine configuration the flags describe; a bad flag is a UsageError naming it. */
function engineConfig(values: Record<string, string | boolean | undefined>) {
  try {
    return resolveServeConfig(serveSettings(values));
  } catch (err) {
    if (err instanceof EngineConfigError) throw new FlagError(err.flag, err.message);
    throw err;
  }
}

function writeTokenizer(dir: string, values: Record<string, string | boolean | undefined>, json: boolean): number {
  checkFolderToWrite("--write-tokenizer", dir);
  const config = engineConfig(values);
  const files = hfTokenizerFiles(config.maxModelLen);
  try {
    mkdirSync(dir, { recursive: true });
    for (const [name, body] of Object.entries(files)) writeFileSync(path.join(dir, name), `${JSON.stringify(body, null, 2)}\n`);
  } catch (err) {
    throw new UsageError(`--write-tokenizer: cannot write ${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  progress(`wrote gpk-wordpiece-v1 in Hugging Face format to ${dir} (model_max_length ${config.maxModelLen})`);
  if (json) printJson({ dir, files: Object.keys(files), modelMaxLength: config.maxModelLen });
  return ExitCode.Ok;
}
