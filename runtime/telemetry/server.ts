/**
 * The exporter's HTTP server.
 *   GET  /metrics       read the source, export DCGM-named metrics (a failed read exports
 *                       gpk_telemetry_source_up 0 and the error; the server keeps serving)
 *   GET  /health        liveness
 *   POST /sim/workload  {gpu, utilization, fbUsedMiB?, memoryUtilization?, intensity?}   (sim source only)
 *   POST /sim/cooling   {gpu, airflow?, ambientC?}   cooling failure knob
 *   POST /sim/xid       {gpu, xid}                   inject an XID error
 *   POST /sim/reset     {gpu}                        GPU reset (clears an XID fault)
 * `gpu` is an index or a UUID. Bad bodies get 400 naming the field; unknown GPUs 404.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import * as z from "zod/mini";
import { DcgmMetrics } from "./metrics";
import type { TelemetrySource } from "./sample";
import { SimSource } from "./sources";

export interface ExporterOptions {
  source: TelemetrySource;
  hostname: string;
  port?: number;
  host?: string;
  log?: (line: string) => void;
}

export interface RunningExporter {
  server: Server;
  port: number;
  close(): Promise<void>;
}

// zod/mini: the same validation as zod with a tree-shakable API, so the bundle stays small.
const num = (min: number, max: number) => z.number().check(z.gte(min), z.lte(max));
const gpuId = z.union([z.int().check(z.gte(0)), z.string().check(z.minLength(1))]);
const BODIES = {
  "/sim/workload": z.strictObject({
    gpu: gpuId, utilization: num(0, 100), fbUsedMiB: z.optional(num(0, 1e7)),
    memoryUtilization: z.optional(num(0, 100)), intensity: z.optional(num(0, 4)),
  }),
  "/sim/cooling": z.strictObject({ gpu: gpuId, airflow: z.optional(z.number().check(z.gt(0), z.lte(1))), ambientC: z.optional(num(-20, 60)) }),
  "/sim/xid": z.strictObject({ gpu: gpuId, xid: z.int().check(z.gte(1), z.lte(999)) }),
  "/sim/reset": z.strictObject({ gpu: gpuId }),
} as const;
type SimPath = keyof typeof BODIES;

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 64 * 1024) throw new HttpError(413, "body larger than 64 KiB");
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch (err) {
    throw new HttpError(400, `body is not JSON: ${(err as Error).message}`);
  }
}

export function startExporter(options: ExporterOptions): Promise<RunningExporter> {
  const { source, hostname } = options;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const metrics = new DcgmMetrics(hostname, source.name);
  let pending: Promise<void> | undefined;
  let lastError: string | undefined;

  // Concurrent scrapes share one read of the source.
  const collect = () => (pending ??= (async () => {
    try {
      metrics.update(await source.read());
      if (lastError !== undefined) log(`telemetry: source ${source.name} recovered`);
      lastError = undefined;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (message !== lastError) log(`telemetry: source ${source.name} unreadable: ${message}`);
      lastError = message;
      metrics.fail(message);
    }
  })().finally(() => { pending = undefined; }));

  async function simControl(path: SimPath, body: unknown): Promise<unknown> {
    if (!(source instanceof SimSource)) {
      throw new HttpError(409, `${path} needs a simulated node this exporter owns (--source sim without --follow-state)`);
    }
    const parsed = BODIES[path].safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new HttpError(400, `${issue.path.join(".") || "body"}: ${issue.message}`);
    }
    const b = parsed.data as { gpu: number | string } & Record<string, number | undefined>;
    let gpu;
    try {
      gpu = source.node.device(b.gpu);
    } catch (err) {
      throw new HttpError(404, (err as Error).message);
    }
    source.advance(); // changes apply from now, not retroactively
    if (path === "/sim/workload") gpu.setWorkload({ utilization: b.utilization!, fbUsedMiB: b.fbUsedMiB, memoryUtilization: b.memoryUtilization, intensity: b.intensity });
    else if (path === "/sim/cooling") gpu.setCooling({ airflow: b.airflow, ambientC: b.ambientC });
    else if (path === "/sim/xid") gpu.injectXid(b.xid!);
    else gpu.resetXid();
    return { gpu: gpu.id.index, uuid: gpu.id.uuid, health: gpu.health };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? "/").split("?")[0]!;
    if (req.method === "GET" && path === "/metrics") {
      await collect();
      res.writeHead(200, { "Content-Type": metrics.registry.contentType });
      res.end(await metrics.registry.metrics());
      return;
    }
    if (req.method === "GET" && (path === "/health" || path === "/healthz")) {
      res.writeHead(200, { "Content-Type": "text/plain" }).end("ok\n");
      return;
    }
    if (path in BODIES) {
      if (req.method !== "POST") throw new HttpError(405, `${path} takes POST`);
      const result = await simControl(path as SimPath, await readJson(req));
      res.writeHead(200, { "Content-Type": "application/json" }).end(`${JSON.stringify(result)}\n`);
      return;
    }
    throw new HttpError(404, `no route ${req.method} ${path}; try GET /metrics`);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const status = err instanceof HttpError ? err.status : 500;
      const message = err instanceof Error ? err.message : String(err);
      if (status === 500) log(`telemetry: ${req.method} ${req.url}: ${message}`);
      if (!res.headersSent) res.writeHead(status, { "Content-Type": "application/json" });
      res.end(`${JSON.stringify({ error: message })}\n`);
    });
  });

  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 9400, options.host ?? "0.0.0.0", () => {
      server.off("error", reject);
      resolve({
        server,
        port: (server.address() as AddressInfo).port,
        close: () => new Promise<void>((done) => server.close(() => done())),
      });
    });
  });
}
