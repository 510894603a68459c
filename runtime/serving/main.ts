/**
 * In-cluster entry of the serving runtime (`node /opt/gpk/serving.js [flags]`): a vLLM-style
 * OpenAI server on a simulated GPU, configured with vLLM's engine-arg names (args.ts) or
 * GPK_SERVING_* variables. Bad arguments exit 2 with one line naming the flag; SIGTERM drains
 * nothing and exits 0 (Kubernetes sends it when the pod stops).
 */
import { parseArgs } from "node:util";
import { SERVE_FLAGS, SERVE_USAGE, serveSettings } from "./args";
import { EngineConfigError, resolveEngineConfig } from "./engine/config";
import { describeConfig } from "./describe";
import { startServer } from "./http";

async function main(): Promise<number> {
  let values;
  try {
    values = parseArgs({ args: process.argv.slice(2), options: SERVE_FLAGS, strict: true, allowPositionals: false }).values;
  } catch (err) {
    process.stderr.write(`serving: ${(err as Error).message}\n${SERVE_USAGE}\n`);
    return 2;
  }
  try {
    const settings = serveSettings(values);
    const config = resolveEngineConfig(settings.engine);
    const server = await startServer({ config, clock: settings.clock, port: settings.port, host: settings.host, servedModelName: settings.servedModelName });
    process.stderr.write(`${describeConfig(config)}\nserving on ${server.url} (OpenAI API: ${server.url}/v1)\n`);
    const stop = () => void server.close().then(() => process.exit(0));
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
    return -1;
  } catch (err) {
    if (err instanceof EngineConfigError) {
      process.stderr.write(`serving: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}

main().then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`serving: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
