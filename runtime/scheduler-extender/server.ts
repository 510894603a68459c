/**
 * The extender's HTTP transport: kube-scheduler POSTs `<urlPrefix>/<verb>`.
 *
 *   POST /filter       ExtenderArgs -> ExtenderFilterResult
 *   POST /prioritize   ExtenderArgs -> HostPriorityList
 *   POST /bind         ExtenderBindingArgs -> ExtenderBindingResult
 *   GET  /healthz      200 once the cluster state source has synced (readiness), else 503
 *   GET  /metrics      Prometheus text: requests, latency, binds, refusals, nodes
 *
 * With `tls` the verbs are served over HTTPS to callers with a client certificate signed by
 * the given CA (a caller without one is refused in the handshake) whose subject CN is an
 * allowed identity (else 403); health and metrics then move to a plain-HTTP port of their own,
 * which kubelet probes and Prometheus reach without a client certificate. Without `tls` one
 * plain-HTTP server answers everything (local use).
 *
 * A bad body (malformed JSON, wrong types, missing Pod, unknown node, over 10 MiB) is answered
 * 400 with the reason in `Error`, a bind the guard refuses 403 (bind-guard.ts); the server
 * never crashes on input and keeps its state.
 */
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from "node:http";
import { createSecureServer, type Http2SecureServer, type Http2Session } from "node:http2";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { EXTENDER_METRICS } from "../../gpu/metrics";
import { poolGpuAccounts } from "../scheduling/accounting";
import { BindRefused } from "./bind-guard";
import type { Extender } from "./extender";
import { BadRequest, bindingArgsSchema, extenderArgsSchema, filterResultJson, parseBody, priorityListJson } from "./wire";

/** Largest request body accepted (a 5,000-node NodeList is ~10 MB; NodeNames are far smaller). */
export const MAX_BODY_BYTES = 10 * 1024 * 1024;
/** Beyond this much an oversized body is not even drained; the connection is dropped. */
const DRAIN_LIMIT_BYTES = 64 * 1024 * 1024;

/** Mutual TLS of the verb port: PEM contents. */
export interface ExtenderTls {
  cert: string;
  key: string;
  /** CA that signs the callers' client certificates. */
  clientCa: string;
  /** Subject CNs of the callers allowed to use the verbs. */
  clientNames: string[];
}

export interface ExtenderServerOptions {
  extender: Extender;
  port: number;
  host?: string;
  tls?: ExtenderTls;
  /** Port of the plain-HTTP health and metrics server when `tls` is set (0: any free port). */
  healthPort?: number;
  /** Readiness: true once the state source has synced. Default: always ready. */
  ready?: () => boolean;
  maxBodyBytes?: number;
  log?: (message: string) => void;
}

export interface RunningExtenderServer {
  port: number;
  /** Where /healthz and /metrics are served: `port` unless TLS moved them. */
  healthPort: number;
  server: Server | Http2SecureServer;
  registry: Registry;
  close(): Promise<void>;
}

type Verb = "filter" | "prioritize" | "bind";
const VERBS: readonly string[] = ["filter", "prioritize", "bind"];

function send(res: ServerResponse, status: number, body: unknown, close = false, json = false, startedMs?: number): void {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  // A flat [name, value, ...] list: the cheapest form HTTP/1.1's writeHead takes.
  const headers = [
    "content-type", typeof body === "string" && !json ? "text/plain; charset=utf-8" : "application/json",
    "content-length", String(Buffer.byteLength(text)),
  ];
  // Time from the whole body read to the answer built, for clients that separate it from transport.
  if (startedMs !== undefined) headers.push("server-timing", `app;dur=${(performance.now() - startedMs).toFixed(3)}`);
  if (res.req?.httpVersionMajor === 2) {
    // HTTP/2's compatibility response takes an object, and no connection-specific header.
    const named: Record<string, string> = {};
    for (let i = 0; i < headers.length; i += 2) named[headers[i]!] = headers[i + 1]!;
    res.writeHead(status, named);
  } else {
    if (close) headers.push("connection", "close");
    res.writeHead(status, headers);
  }
  res.end(text);
}

/** Reads the body up to `limit` bytes; an oversized one is drained (bounded) and reported. */
function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooBig = false;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > DRAIN_LIMIT_BYTES) {
        req.destroy();
        return;
      }
      if (size > limit) tooBig = true;
      if (!tooBig) chunks.push(chunk);
      else chunks.length = 0;
    });
    let ended = false;
    req.on("end", () => {
      ended = true;
      if (tooBig) reject(new BadRequest(`body: over the ${limit / (1024 * 1024)} MiB limit (${size} bytes)`));
      else resolve(Buffer.concat(chunks).toString("utf8"));
    });
    // A client that goes away mid-body (or one cut off above the drain limit) settles the read
    // as a bad request. Node reports the hang-up as an "aborted" error before "close", so both
    // must say so: the first settles the promise.
    const cutOff = () => new BadRequest("body: the client closed the connection before the body ended");
    req.on("error", (err) => reject(ended ? err : cutOff()));
    req.on("close", () => {
      if (!ended) reject(cutOff());
    });
  });
}

export async function startExtenderServer(options: ExtenderServerOptions): Promise<RunningExtenderServer> {
  const { extender } = options;
  const limit = options.maxBodyBytes ?? MAX_BODY_BYTES;
  const ready = options.ready ?? (() => true);
  const log = options.log ?? (() => {});
  const registry = new Registry();
  const requests = new Counter({ name: EXTENDER_METRICS.requests, help: "Extender requests by verb and HTTP status.", labelNames: ["verb", "code"], registers: [registry] });
  const latency = new Histogram({
    name: EXTENDER_METRICS.duration, help: "Time to answer an extender request (body read to response written).",
    labelNames: ["verb"], buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5], registers: [registry],
  });
  const binds = new Counter({ name: EXTENDER_METRICS.binds, help: "Bind results.", labelNames: ["result"], registers: [registry] });
  const refusals = new Counter({
    name: EXTENDER_METRICS.refusals, help: "Requests refused: binds the guard would not perform, callers whose certificate names no allowed identity.",
    labelNames: ["verb", "reason"], registers: [registry],
  });
  const handshakeFailures = new Counter({ name: EXTENDER_METRICS.tlsHandshakeFailures, help: "TLS handshakes that failed (no or untrusted client certificate).", registers: [registry] });
  const tlsConnections = new Counter({ name: EXTENDER_METRICS.tlsConnections, help: "TLS connections accepted on the verb port, by the protocol the caller chose (h2 or http/1.1).", labelNames: ["protocol"], registers: [registry] });
  new Gauge({
    name: EXTENDER_METRICS.nodes, help: "Nodes in the extender's cache.", registers: [registry],
    collect() {
      this.set(extender.cache.nodeCount);
    },
  });

  // Where each pool's GPUs stand, computed from the cache at scrape time.
  new Gauge({
    name: EXTENDER_METRICS.poolGpus, help: "GPUs per pool: allocated, idle, and of the idle those fragmented for the target workload (FGD) or stranded by CPU.",
    labelNames: ["pool", "state"], registers: [registry],
    collect() {
      this.reset();
      for (const [pool, gpus] of poolGpuAccounts(extender.cache.nodesWithPool(), extender.policy.workload())) {
        const byState = { allocated: gpus.allocated, idle: gpus.idle, fragmented: gpus.fragmented, cpu_stranded: gpus.cpuStranded };
        for (const [state, value] of Object.entries(byState)) this.set({ pool, state }, value);
      }
    },
  });

  // Label children bound once: prom-client hashes a label object on every call otherwise.
  const timed = { filter: latency.labels("filter"), prioritize: latency.labels("prioritize"), bind: latency.labels("bind") };
  const counters = new Map<string, ReturnType<typeof requests.labels>>();
  const counted = (verb: Verb, status: number) => {
    const key = `${verb} ${status}`;
    let c = counters.get(key);
    if (!c) counters.set(key, (c = requests.labels(verb, String(status))));
    return c;
  };

  async function handleVerb(verb: Verb, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    let status = 200;
    try {
      const raw = await readBody(req, limit);
      const work = performance.now();
      if (verb === "bind") {
        const result = await extender.bind(parseBody(bindingArgsSchema, raw));
        binds.inc({ result: result.Error ? "error" : "bound" });
        send(res, 200, result);
      } else {
        const args = parseBody(extenderArgsSchema, raw);
        const json = verb === "filter" ? filterResultJson(extender.filter(args)) : priorityListJson(extender.prioritize(args));
        send(res, 200, json, false, true, work);
      }
    } catch (err) {
      status = err instanceof BadRequest ? err.status : 500;
      if (err instanceof BindRefused) {
        refusals.inc({ verb, reason: err.reason });
        log(`bind refused (${err.reason}): ${err.message}`);
      }
      const message = err instanceof Error ? err.message : String(err);
      if (status === 500) log(`${verb}: internal error: ${err instanceof Error ? err.stack : message}`);
      const body = verb === "filter"
        ? { Nodes: null, NodeNames: null, FailedNodes: {}, FailedAndUnresolvableNodes: {}, Error: message }
        : { Error: message };
      if (!res.headersSent && !res.destroyed) send(res, status, body, status === 400 && message.startsWith("body: over"));
    } finally {
      counted(verb, status).inc();
      timed[verb].observe((performance.now() - started) / 1000);
    }
  }

  const tls = options.tls;
  const peerNames = new WeakMap<object, string>();
  const pathOf = (req: IncomingMessage) => (req.url ?? "/").split("?")[0]!.replace(/\/+$/, "") || "/";
  const notFound = (res: ServerResponse, path: string) =>
    send(res, 404, { Error: `${path}: not found; verbs are POST /filter, /prioritize, /bind${tls ? " on the TLS port" : ""}` });
  const health: RequestListener = (req, res) => {
    const path = pathOf(req);
    if (path === "/healthz" || path === "/readyz") {
      return ready() ? send(res, 200, "ok") : send(res, 503, "cluster state not synced yet");
    }
    if (path === "/metrics" && req.method === "GET") {
      registry.metrics().then((text) => {
        res.writeHead(200, { "content-type": registry.contentType });
        res.end(text);
      }, (err: Error) => send(res, 500, err.message));
      return;
    }
    notFound(res, path);
  };
  const verbs: RequestListener = (req, res) => {
    const path = pathOf(req);
    const verb = path.slice(1);
    // With TLS the verb port serves nothing else; without, one server answers everything.
    if (!VERBS.includes(verb)) return tls ? notFound(res, path) : health(req, res);
    if (req.method !== "POST") return send(res, 405, { Error: `${path}: use POST` });
    if (tls) {
      // The handshake proved the certificate chains to the client CA; the identity is its CN,
      // read once per connection (getPeerCertificate builds the whole certificate object).
      // Over HTTP/2 every request of a connection shares its session; over HTTP/1.1, its socket.
      const connection: object = (req as unknown as { stream?: { session?: Http2Session } }).stream?.session ?? req.socket;
      let name = peerNames.get(connection);
      if (name === undefined) {
        const cn = (req.socket as TLSSocket).getPeerCertificate().subject?.CN;
        peerNames.set(connection, (name = typeof cn === "string" ? cn : ""));
      }
      if (!tls.clientNames.includes(name)) {
        refusals.inc({ verb, reason: "client-identity" });
        counted(verb as Verb, 403).inc();
        return send(res, 403, { Error: `client certificate CN ${JSON.stringify(name)} is not an allowed caller (${tls.clientNames.join(", ")})` });
      }
    }
    void handleVerb(verb as Verb, req, res);
  };
  // Over TLS the verbs speak HTTP/2 as well as HTTP/1.1. kube-scheduler's extender client offers
  // h2 (k8s.io/apimachinery util/net SetTransportDefaults) and then multiplexes every filter and
  // every concurrent bind over one connection; on HTTP/1.1 it keeps at most 2 idle connections
  // (Go's default), so the binds that overlap a filter each paid a new mutual-TLS handshake.
  const secure = tls
    ? createSecureServer({ cert: tls.cert, key: tls.key, ca: tls.clientCa, requestCert: true, rejectUnauthorized: true, minVersion: "TLSv1.2", allowHTTP1: true }, verbs as never)
    : undefined;
  const plain = secure ? undefined : createServer(verbs);
  const server: Server | Http2SecureServer = secure ?? plain!;
  const healthServer = tls ? createServer(health) : undefined;
  // Keep-alive connections from kube-scheduler are reused across cycles.
  if (plain) plain.keepAliveTimeout = 65_000;
  const connections = new Set<{ destroy(): void }>();
  server.on("clientError", (_err: Error, socket: { writable: boolean; end(text: string): void }) => {
    if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n");
  });
  if (secure) {
    secure.on("tlsClientError", () => handshakeFailures.inc());
    secure.on("secureConnection", (socket: TLSSocket) => {
      tlsConnections.inc({ protocol: socket.alpnProtocol || "http/1.1" });
      connections.add(socket);
      socket.on("close", () => connections.delete(socket));
    });
    secure.on("session", (session: Http2Session) => {
      connections.add(session);
      session.on("close", () => connections.delete(session));
    });
  }

  const listen = (s: Server | Http2SecureServer, port: number) => new Promise<number>((resolve, reject) => {
    s.once("error", reject);
    s.listen(port, options.host ?? "0.0.0.0", () => {
      s.off("error", reject);
      resolve((s.address() as AddressInfo).port);
    });
  });
  const closeServer = (s: Server | Http2SecureServer) => new Promise<void>((done) => {
    if ("closeAllConnections" in s) s.closeAllConnections();
    else for (const c of connections) c.destroy();
    s.close(() => done());
  });
  const port = await listen(server, options.port);
  let healthPort = port;
  if (healthServer) {
    try {
      healthPort = await listen(healthServer, options.healthPort ?? 0);
    } catch (err) {
      await closeServer(server);
      throw err;
    }
  }
  return {
    port, healthPort, server, registry,
    close: async () => {
      await Promise.all([closeServer(server), ...(healthServer ? [closeServer(healthServer)] : [])]);
    },
  };
}
