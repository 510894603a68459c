/** OpenAI-style error bodies: `{"error":{"message","type","param","code"}}`. */

export interface ApiError {
  status: number;
  body: { error: { message: string; type: string; param: string | null; code: string | null } };
  headers?: Record<string, string>;
}

export function apiError(status: number, message: string, opts: { type?: string; param?: string | null; code?: string | null; headers?: Record<string, string> } = {}): ApiError {
  const type = opts.type ?? (status === 429 ? "rate_limit_error" : status >= 500 ? "server_error" : "invalid_request_error");
  return { status, body: { error: { message, type, param: opts.param ?? null, code: opts.code ?? null } }, ...(opts.headers ? { headers: opts.headers } : {}) };
}

export function badRequest(message: string, param: string | null = null, code: string | null = null): ApiError {
  return apiError(400, message, { param, code });
}
