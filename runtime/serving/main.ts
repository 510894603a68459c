/**
 * In-cluster entry of the serving runtime (`node /opt/gpk/serving.js [flags]`): a vLLM-style
 * OpenAI server on a simulated GPU, configured with vLLM's engine-arg names (args.ts) or
 * GPK_SERVING_* variables. Bad arguments exit 2 with one line naming the flag; SIGTERM drains
 * nothing and exits 0 (Kubernetes sends it when the pod stops).
 */
import { FlagError, parseFlagArgs } from "../flags";
import { SERVE_FLAGS, SERVE_USAGE, resolveServeConfig, serveSettings } from "./args";
import { EngineConfigError } from "./engine/config";
import { describeConfig } from "./describe";
import { startServer } from "./http";

async function main(): Promise<number> {
  let values;
  try {
    values = parseFlagArgs(process.argv.slice(2), SERVE_FLAGS, { allowPositionals: false }).values;
  } catch (err) {
    if (!(err instanceof FlagError)) throw err;
    process.stderr.write(`serving: ${err.message}\n${SERVE_USAGE}\n`);
    return 2;
  }
  try {
    const settings = serveSettings(values);
    const config = resolveServeConfig(settings);
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
