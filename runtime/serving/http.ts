/**
 * node:http transport for the OpenAI frontend: reads bodies (bounded), adapts node's response
 * to `ResponseWriter`, frames SSE, and turns a closed connection into an abort. No engine
 * logic lives here.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { apiError } from "./api/errors";
import { OpenAIFrontend, send, type ResponseWriter } from "./api/frontend";
import type { Clock } from "./engine/clock";
import type { EngineConfig } from "./engine/config";
import { LLMEngine } from "./engine/engine";
import { EngineLoop } from "./engine/loop";
import { ServingMetrics } from "./metrics";

/** Largest request body accepted (413 beyond); prompts of a full 32k context fit well inside. */
export const MAX_BODY_BYTES = 4 * 1024 * 1024;

export interface ServeOptions {
  config: EngineConfig;
  clock: Clock;
  port?: number;
  host?: string;
  servedModelName?: string;
}

export interface RunningServer {
  url: string;
  port: number;
  engine: LLMEngine;
  metrics: ServingMetrics;
  loop: EngineLoop;
  server: Server;
  close(): Promise<void>;
}

class NodeResponseWriter implements ResponseWriter {
  constructor(private readonly res: ServerResponse) {}
  json(status: number, body: unknown, headers: Record<string, string> = {}): void {
    if (this.res.headersSent) return;
    const data = JSON.stringify(body);
    this.res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(data), ...headers });
    this.res.end(data);
  }
  text(status: number, body: string, contentType: string): void {
    this.res.writeHead(status, { "content-type": contentType, "content-length": Buffer.byteLength(body) });
    this.res.end(body);
  }
  startStream(): void {
    this.res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", connection: "keep-alive" });
    this.res.flushHeaders();
  }
  send(payload: string): void {
    if (!this.res.destroyed) this.res.write(`data: ${payload}\n\n`);
  }
  end(): void {
    this.res.end();
  }
  onClose(handler: () => void): void {
    this.res.on("close", () => {
      if (!this.res.writableFinished) handler();
    });
  }
}

function readBody(req: IncomingMessage, limit: number): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        resolve(null);
        req.removeAllListeners("data");
        req.resume();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

export async function startServer(opts: ServeOptions): Promise<RunningServer> {
  const { config, clock } = opts;
  const engine = new LLMEngine(config, () => clock.now());
  const modelName = opts.servedModelName ?? config.model.id;
  const metrics = new ServingMetrics(engine, modelName);
  const loop = new EngineLoop(engine, clock);
  const frontend = new OpenAIFrontend(engine, metrics, { modelName, wake: () => loop.wake() });
  loop.start();

  const server = createServer((req, res) => {
    const w = new NodeResponseWriter(res);
    const path = (req.url ?? "/").split("?")[0]!;
    void (async () => {
      const body = req.method === "POST" ? await readBody(req, MAX_BODY_BYTES) : "";
      if (body === null) return send(w, apiError(413, `The request body exceeds ${MAX_BODY_BYTES} bytes.`, { code: "request_too_large" }));
      await frontend.handle(req.method ?? "GET", path, body, w);
    })().catch((err: unknown) => {
      // A bug, never load: answer 500 once and keep serving.
      process.stderr.write(`serving: internal error on ${req.method} ${path}: ${err instanceof Error ? err.stack : String(err)}\n`);
      if (!res.headersSent) send(w, apiError(500, "Internal server error.", { code: "internal_error" }));
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 8000, opts.host ?? "0.0.0.0", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = opts.host && opts.host !== "0.0.0.0" && opts.host !== "::" ? opts.host : "127.0.0.1";
  return {
    url: `http://${host}:${port}`,
    port,
    engine,
    metrics,
    loop,
    server,
    async close() {
      await loop.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
