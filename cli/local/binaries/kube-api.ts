/**
 * A small Kubernetes API client for the binaries runtime's own bootstrap (readiness, KWOK
 * nodes, service-account tokens, reading the scheduler config back): bearer token, the API
 * server's CA, JSON in and out. Users and tests talk to the cluster with kubectl instead.
 */
import * as https from "node:https";

export interface ApiEndpoint {
  server: string;
  token: string;
  /** PEM of the CA that signed the API server's serving certificate. */
  ca: string;
}

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly body: string,
  ) {
    super(message);
  }
}

export function apiRequest(api: ApiEndpoint, method: string, path: string, body?: unknown, contentType = "application/json"): Promise<unknown> {
  const url = new URL(path, api.server);
  const payload = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = https.request(url, {
      method,
      ca: api.ca,
      headers: {
        authorization: `Bearer ${api.token}`,
        accept: "application/json",
        ...(payload !== undefined ? { "content-type": contentType, "content-length": Buffer.byteLength(payload) } : {}),
      },
      timeout: 30_000,
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        const status = res.statusCode ?? 0;
        if (status < 200 || status >= 300) {
          let reason = text.trim();
          try {
            reason = (JSON.parse(text) as { message?: string }).message ?? reason;
          } catch {
            // not JSON (e.g. /readyz's plain text)
          }
          reject(new ApiError(`${method} ${url.pathname}: ${status} ${reason}`, status, text));
          return;
        }
        try {
          resolve(text && /json/.test(res.headers["content-type"] ?? "") ? JSON.parse(text) : text);
        } catch (err) {
          reject(err);
        }
      });
    });
    req.on("timeout", () => req.destroy(new Error(`${method} ${url.pathname}: no answer in 30 s`)));
    req.on("error", reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

/** Server-side apply of one object as the field manager `gpk-local` (create or update, idempotent). */
export function applyObject(api: ApiEndpoint, path: string, object: unknown, subresource = ""): Promise<unknown> {
  return apiRequest(api, "PATCH", `${path}${subresource}?fieldManager=gpk-local&force=true`, object, "application/apply-patch+yaml");
}

/** A token for a service account, from the TokenRequest API (what `kubectl create token` calls). */
export async function serviceAccountToken(api: ApiEndpoint, namespace: string, name: string, seconds = 86_400): Promise<string> {
  const res = (await apiRequest(api, "POST", `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`, {
    apiVersion: "authentication.k8s.io/v1",
    kind: "TokenRequest",
    spec: { expirationSeconds: seconds },
  })) as { status?: { token?: string } };
  if (!res.status?.token) throw new Error(`no token for service account ${namespace}/${name}`);
  return res.status.token;
}

/**
 * Polls `probe` until it resolves truthy, or throws after `timeoutMs` with the last error.
 * `cancelled` is asked before each try; a reason it returns ends the wait at once.
 */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, intervalMs = 250, cancelled?: () => string | undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    const reason = cancelled?.();
    if (reason) throw new Error(`${what}: ${reason}`);
    try {
      const value = await probe();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not ready after ${Math.round(timeoutMs / 1000)} s${last ? ` (${(last as Error).message})` : ""}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
