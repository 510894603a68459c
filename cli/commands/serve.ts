/**
 * `gpk serve`: the vLLM-style OpenAI server (runtime/serving) on a simulated GPU, in this
 * process. Prints the listening address on stderr and serves until interrupted.
 */
import { SERVE_FLAGS, SERVE_USAGE, serveSettings } from "../../runtime/serving/args";
import { EngineConfigError, resolveEngineConfig } from "../../runtime/serving/engine/config";
import { describeConfig } from "../../runtime/serving/describe";
import { startServer } from "../../runtime/serving/http";
import { ExitCode, UsageError, parseFlags, printJson, progress, type Command } from "../contract";

export const command: Command = {
  usage: `Usage: gpk serve [--port 8000] [--gpu h100|a100|l40s|a10g|l4] [--model <preset>] [--max-num-seqs N]
                 [--max-waiting N] [--gpu-memory-utilization 0.9] [more vLLM engine flags]

Serves the OpenAI API (/v1/completions, /v1/chat/completions, /v1/models), /health and
/metrics (vLLM metric names) from a vLLM-style engine — paged KV cache, continuous batching,
chunked prefill, preemption, bounded queue with 429 + Retry-After — on a simulated GPU.
Generated text is deterministic filler; token counts, timings and memory behaviour are modelled.

${SERVE_USAGE}
  --json                           once listening, print {"url","openaiBaseUrl","model","servedModelName",
                                   "gpu","tensorParallelSize","maxNumSeqs","maxWaiting","kvCacheBlocks","blockSize"}
`,
  async run(argv) {
    const { values: flags, positionals } = parseFlags(argv, { ...SERVE_FLAGS, json: { type: "boolean", default: false } }, false);
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    const { json, ...values } = flags;
    let server;
    let config;
    let servedModelName: string | undefined;
    try {
      const settings = serveSettings(values);
      config = resolveEngineConfig(settings.engine);
      servedModelName = settings.servedModelName;
      server = await startServer({ config, clock: settings.clock, port: settings.port, host: settings.host, servedModelName });
      progress(describeConfig(config));
    } catch (err) {
      if (err instanceof EngineConfigError) throw new UsageError(err.message);
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
