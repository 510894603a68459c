/**
 * A small Kubernetes API client over node:https: list (paged) + watch (with bookmarks and
 * relist on 410 Gone) for nodes and pods, the pods/binding subresource, and GET pod.
 *
 * Why not @kubernetes/client-node here: bundled, its KubeConfig + Watch alone is ~935 KiB
 * minified (measured with esbuild), which leaves no room in the 1 MiB ConfigMap the runtime
 * bundle ships in. In the cluster the extender only needs the service-account token and CA,
 * so this client does those few calls itself. Outside the cluster (`gpk extender --kubeconfig`)
 * client-node still does what it does well — reading kubeconfigs, exec/OIDC credentials, client
 * certificates — and hands this client the resulting connection (kubeconfig.ts).
 */
import { readFileSync } from "node:fs";
import * as http from "node:http";
import * as https from "node:https";

/** Where and how to reach the API server. */
export interface KubeConnection {
  /** e.g. https://10.96.0.1:443 */
  server: string;
  /** TLS material and agent options (ca, cert, key, rejectUnauthorized). */
  tls?: https.AgentOptions;
  /** Request headers (Authorization); called per request so rotated tokens are picked up. */
  headers(): Promise<Record<string, string>> | Record<string, string>;
  /** Client-side rate limit of every request: `qps` tokens a second, at most `burst` saved up (client-go's flowcontrol token bucket). Absent: none. */
  rateLimit?: { qps: number; burst: number };
}

/** A token bucket: `take` resolves when a token is free, in call order. */
export class TokenBucket {
  private tokens: number;
  private last = performance.now();
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly qps: number, private readonly burst: number) {
    this.tokens = burst;
  }

  take(): Promise<void> {
    const turn = this.queue.then(async () => {
      const now = performance.now();
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.qps);
      this.last = now;
      if (this.tokens < 1) {
        await new Promise((r) => setTimeout(r, ((1 - this.tokens) / this.qps) * 1000));
        this.tokens = 1;
        this.last = performance.now();
      }
      this.tokens -= 1;
    });
    this.queue = turn;
    return turn;
  }
}

const SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/** The pod's service account (token re-read per request: bound tokens rotate hourly). */
export function inClusterConnection(env: NodeJS.ProcessEnv = process.env, dir = SA_DIR): KubeConnection {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT ?? "443";
  if (!host) throw new Error("--in-cluster: KUBERNETES_SERVICE_HOST is not set (not running in a pod?)");
  const ca = readFileSync(`${dir}/ca.crt`);
  return {
    server: `https://${host.includes(":") ? `[${host}]` : host}:${port}`,
    tls: { ca },
    headers: () => ({ authorization: `Bearer ${readFileSync(`${dir}/token`, "utf8").trim()}` }),
  };
}

export class KubeApiError extends Error {
  override readonly name = "KubeApiError";
  constructor(message: string, readonly status: number) {
    super(message);
  }
}

interface ListResult<T> {
  items: T[];
  resourceVersion: string;
}

export interface WatchEvent<T> {
  type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  object: T;
}

export class KubeClient {
  private readonly agent: http.Agent;
  private readonly base: URL;
  private readonly limiter?: TokenBucket;

  constructor(private readonly conn: KubeConnection) {
    this.base = new URL(conn.server);
    if (conn.rateLimit) this.limiter = new TokenBucket(conn.rateLimit.qps, conn.rateLimit.burst);
    this.agent = this.base.protocol === "https:"
      ? new https.Agent({ keepAlive: true, ...conn.tls })
      : new http.Agent({ keepAlive: true });
  }

  private async open(method: string, path: string, body?: unknown): Promise<http.IncomingMessage> {
    await this.limiter?.take();
    const headers: Record<string, string> = { accept: "application/json", ...(await this.conn.headers()) };
    const payload = body === undefined ? undefined : JSON.stringify(body);
    // PATCH here is always a JSON merge patch (RFC 7386), which the API server takes for every kind.
    if (payload !== undefined) headers["content-type"] = method === "PATCH" ? "application/merge-patch+json" : "application/json";
    const mod = this.base.protocol === "https:" ? https : http;
    return new Promise((resolve, reject) => {
      const req = mod.request(new URL(path, this.base), { method, headers, agent: this.agent }, resolve);
      req.on("error", reject);
      req.end(payload);
    });
  }

  private async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.open(method, path, body);
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    if ((res.statusCode ?? 0) >= 300) {
      let message = text.slice(0, 300);
      try {
        message = (JSON.parse(text) as { message?: string }).message ?? message;
      } catch {
        // not a Status object
      }
      throw new KubeApiError(`${method} ${path}: ${res.statusCode} ${message}`, res.statusCode ?? 0);
    }
    return JSON.parse(text) as T;
  }

  /** Lists every object (paged by 500). */
  async list<T>(path: string): Promise<ListResult<T>> {
    const items: T[] = [];
    let cont = "";
    for (;;) {
      const page = await this.json<{ items: T[]; metadata: { resourceVersion: string; continue?: string } }>(
        "GET", `${withQuery(path)}limit=500${cont ? `&continue=${encodeURIComponent(cont)}` : ""}`);
      items.push(...page.items);
      if (!page.metadata.continue) return { items, resourceVersion: page.metadata.resourceVersion };
      cont = page.metadata.continue;
    }
  }

  /** Streams watch events from `resourceVersion` until the server ends the watch. */
  async *watch<T>(path: string, resourceVersion: string, signal: AbortSignal): AsyncGenerator<WatchEvent<T>> {
    const res = await this.open("GET", `${withQuery(path)}watch=1&allowWatchBookmarks=true&timeoutSeconds=300&resourceVersion=${encodeURIComponent(resourceVersion)}`);
    if ((res.statusCode ?? 0) >= 300) {
      res.resume();
      throw new KubeApiError(`watch ${path}: ${res.statusCode}`, res.statusCode ?? 0);
    }
    const stop = () => res.destroy();
    signal.addEventListener("abort", stop);
    try {
      let buffered = "";
      for await (const chunk of res) {
        buffered += (chunk as Buffer).toString("utf8");
        let nl: number;
        while ((nl = buffered.indexOf("\n")) >= 0) {
          const line = buffered.slice(0, nl).trim();
          buffered = buffered.slice(nl + 1);
          if (line) yield JSON.parse(line) as WatchEvent<T>;
        }
      }
    } catch (err) {
      if (!signal.aborted) throw err;
    } finally {
      signal.removeEventListener("abort", stop);
    }
  }

  /** One object, or undefined when the server answers 404. */
  async get<T>(path: string): Promise<T | undefined> {
    try {
      return await this.json<T>("GET", path);
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) return undefined;
      throw err;
    }
  }

  /** JSON merge patch of one object (a null value removes the key). */
  async mergePatch<T>(path: string, patch: unknown): Promise<T> {
    return this.json<T>("PATCH", path, patch);
  }

  /**
   * POST pods/eviction (policy/v1): the API server deletes the pod unless a
   * PodDisruptionBudget forbids it, which it answers with 429 (KubeApiError.status).
   */
  async evict(namespace: string, name: string): Promise<void> {
    await this.json("POST", `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}/eviction`, {
      apiVersion: "policy/v1",
      kind: "Eviction",
      metadata: { name, namespace },
    });
  }

  /** POST pods/binding; the API server copies the Binding's annotations onto the pod. */
  async bind(t: { namespace: string; name: string; uid: string; node: string; annotations: Record<string, string> }): Promise<void> {
    await this.json("POST", `/api/v1/namespaces/${encodeURIComponent(t.namespace)}/pods/${encodeURIComponent(t.name)}/binding`, {
      apiVersion: "v1",
      kind: "Binding",
      metadata: { name: t.name, namespace: t.namespace, uid: t.uid, annotations: t.annotations },
      target: { apiVersion: "v1", kind: "Node", name: t.node },
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** `path` ready for more query parameters (it may carry its own, e.g. a fieldSelector). */
function withQuery(path: string): string {
  return path.includes("?") ? `${path}&` : `${path}?`;
}

export interface ReflectorHandlers<T> {
  /** The full set after a (re)list: the cache drops what is not in it. */
  replace(items: T[]): void;
  upsert(item: T): void;
  remove(item: T): void;
}

/**
 * List, then watch from the list's resourceVersion; on 410 Gone, a broken stream or an error,
 * relist after a capped backoff. `synced` resolves after the first successful list.
 */
export class Reflector<T> {
  private readonly abort = new AbortController();
  readonly synced: Promise<void>;
  private markSynced!: () => void;
  hasSynced = false;

  constructor(
    private readonly client: KubeClient,
    private readonly path: string,
    private readonly handlers: ReflectorHandlers<T>,
    private readonly log: (message: string) => void = () => {},
    private readonly backoffMs: (attempt: number) => number = (n) => Math.min(30_000, 500 * 2 ** n),
  ) {
    this.synced = new Promise((resolve) => (this.markSynced = resolve));
  }

  start(): void {
    void this.run();
  }

  stop(): void {
    this.abort.abort();
  }

  private async run(): Promise<void> {
    let attempt = 0;
    while (!this.abort.signal.aborted) {
      try {
        const listed = await this.client.list<T>(this.path);
        this.handlers.replace(listed.items);
        if (!this.hasSynced) {
          this.hasSynced = true;
          this.markSynced();
        }
        attempt = 0;
        let rv = listed.resourceVersion;
        // Re-watch from the last seen version until the server says it is too old.
        for (;;) {
          let gone = false;
          for await (const event of this.client.watch<T & { metadata?: { resourceVersion?: string } }>(this.path, rv, this.abort.signal)) {
            if (event.type === "ERROR") {
              gone = (event.object as { code?: number }).code === 410;
              if (!gone) throw new Error(`watch error ${JSON.stringify(event.object).slice(0, 300)}`);
              break;
            }
            rv = event.object.metadata?.resourceVersion ?? rv;
            if (event.type === "BOOKMARK") continue;
            if (event.type === "DELETED") this.handlers.remove(event.object);
            else this.handlers.upsert(event.object);
          }
          if (gone || this.abort.signal.aborted) break;
        }
      } catch (err) {
        if (this.abort.signal.aborted) return;
        this.log(`${this.path}: ${(err as Error).message}; relisting`);
        await new Promise((r) => setTimeout(r, this.backoffMs(attempt++)));
      }
    }
  }
}
