/**
 * The OpenAI-compatible API over the engine, independent of any transport: it takes a route
 * and a raw body and answers through a `ResponseWriter`. The node:http server (../http.ts) and
 * the burst benchmark both call it, so a benchmark refusal is exactly what a client would get.
 *
 * Status codes: 400 malformed/invalid/too long, 404 unknown model or route, 405 wrong method,
 * 429 + Retry-After when the waiting queue is full. Admitted requests are never refused later.
 */
import { randomUUID } from "node:crypto";
import type { LLMEngine } from "../engine/engine";
import type { FinishReason } from "../engine/request";
import { renderChat } from "../engine/tokenizer";
import type { ServingMetrics } from "../metrics";
import { apiError, type ApiError } from "./errors";
import { chatRequest, completionRequest, parseBody, type ChatRequest, type CompletionRequest } from "./schema";

export interface ResponseWriter {
  json(status: number, body: unknown, headers?: Record<string, string>): void;
  text(status: number, body: string, contentType: string): void;
  /** Starts an SSE response; `send` writes one `data: <payload>\n\n` event. */
  startStream(): void;
  send(payload: string): void;
  end(): void;
  /** Registers the client-disconnect handler (fires only if the response did not end first). */
  onClose(handler: () => void): void;
}

export interface FrontendOptions {
  /** Served model name (vLLM's --served-model-name; defaults to the model id). */
  modelName: string;
  /** Called after a request is admitted, so an idle engine loop starts stepping. */
  wake?: () => void;
  /** Unix seconds for `created` fields. */
  wallSeconds?: () => number;
}

interface Prepared {
  kind: "completion" | "chat";
  promptTokenIds: number[];
  maxTokens: number;
  stream: boolean;
  includeUsage: boolean;
  stop: string[];
  ignoreEos: boolean;
  seed: number | undefined;
}

export class OpenAIFrontend {
  private readonly wallSeconds: () => number;

  constructor(
    private readonly engine: LLMEngine,
    private readonly metrics: ServingMetrics | null,
    private readonly options: FrontendOptions,
  ) {
    this.wallSeconds = options.wallSeconds ?? (() => Math.floor(Date.now() / 1000));
  }

  async handle(method: string, path: string, rawBody: string, w: ResponseWriter): Promise<void> {
    const route = ROUTES[path];
    if (!route) return send(w, apiError(404, `Route ${path} not found.`, { code: "not_found" }));
    if (route.method !== method) return send(w, apiError(405, `Method ${method} not allowed on ${path}; use ${route.method}.`, { code: "method_not_allowed" }));
    switch (path) {
      case "/health":
        return w.text(200, "", "text/plain");
      case "/metrics":
        if (!this.metrics) return send(w, apiError(404, "Metrics are disabled.", { code: "not_found" }));
        return w.text(200, await this.metrics.exposition(), this.metrics.contentType);
      case "/v1/models":
        return w.json(200, { object: "list", data: [this.modelCard()] });
      case "/v1/completions":
        return this.generate("completion", rawBody, w);
      case "/v1/chat/completions":
        return this.generate("chat", rawBody, w);
    }
  }

  private modelCard() {
    const id = this.options.modelName;
    return { id, object: "model", created: this.wallSeconds(), owned_by: "vllm", root: this.engine.config.model.id, parent: null, max_model_len: this.engine.config.maxModelLen };
  }

  private prepare(kind: "completion" | "chat", raw: string): Prepared | ApiError {
    const parsed = kind === "completion" ? parseBody(completionRequest, raw) : parseBody(chatRequest, raw);
    if (!parsed.ok) return parsed.error;
    const body = parsed.value as CompletionRequest | ChatRequest;
    const m = this.engine.config.model;
    if (body.model !== this.options.modelName && body.model !== m.id && body.model !== m.alias) {
      return apiError(404, `The model \`${body.model}\` does not exist.`, { param: "model", code: "model_not_found" });
    }
    const tok = this.engine.tokenizer;
    let promptTokenIds: number[];
    let requestedMax: number | null | undefined = body.max_tokens;
    if (kind === "completion") {
      const prompt = (body as CompletionRequest).prompt;
      // string | [string] | token ids | [token ids]
      const one = typeof prompt === "string" || typeof prompt[0] === "number" ? prompt : prompt[0]!;
      promptTokenIds = typeof one === "string" ? tok.encode(one) : (one as number[]).slice();
      const bad = promptTokenIds.find((id) => id >= m.vocabSize);
      if (bad !== undefined) return apiError(400, `Token id ${bad} is out of vocabulary (size ${m.vocabSize}).`, { param: "prompt" });
    } else {
      const chat = body as ChatRequest;
      const messages = chat.messages.map((msg) => ({
        role: msg.role,
        content: typeof msg.content === "string" ? msg.content : (msg.content ?? []).map((p) => p.text).join(""),
      }));
      promptTokenIds = tok.encode(renderChat(messages));
      requestedMax = chat.max_completion_tokens ?? chat.max_tokens;
    }
    if (promptTokenIds.length === 0) return apiError(400, "The prompt is empty.", { param: kind === "chat" ? "messages" : "prompt" });
    // vLLM's defaults: 16 for legacy completions, the rest of the context for chat.
    const maxTokens = requestedMax ?? (kind === "completion" ? 16 : Math.max(1, this.engine.config.maxModelLen - promptTokenIds.length));
    const stop = body.stop == null ? [] : typeof body.stop === "string" ? [body.stop] : body.stop;
    return {
      kind, promptTokenIds, maxTokens, stream: body.stream === true, includeUsage: body.stream_options?.include_usage === true,
      stop: stop.filter((s) => s.length > 0), ignoreEos: body.ignore_eos === true, seed: body.seed ?? undefined,
    };
  }

  private generate(kind: "completion" | "chat", raw: string, w: ResponseWriter): void {
    const prep = this.prepare(kind, raw);
    if ("status" in prep) return send(w, prep);
    const id = `${kind === "chat" ? "chatcmpl" : "cmpl"}-${randomUUID().replaceAll("-", "")}`;
    const created = this.wallSeconds();
    const model = this.options.modelName;
    const object = kind === "chat" ? "chat.completion.chunk" : "text_completion";
    const engine = this.engine;
    let text = "";
    let completionTokens = 0;
    let stopReason: string | null = null;
    let done = false;

    const choice = (delta: string, finish: FinishReason | null) =>
      kind === "chat"
        ? { index: 0, delta: finish === null ? { content: delta } : {}, logprobs: null, finish_reason: finish, ...(finish ? { stop_reason: stopReason } : {}) }
        : { index: 0, text: delta, logprobs: null, finish_reason: finish, stop_reason: finish ? stopReason : null };
    const usage = () => ({ prompt_tokens: prep.promptTokenIds.length, total_tokens: prep.promptTokenIds.length + completionTokens, completion_tokens: completionTokens });
    const chunk = (choices: unknown[], extra: object = {}) => JSON.stringify({ id, object, created, model, choices, ...extra });

    const result = engine.submit({
      id,
      promptTokenIds: prep.promptTokenIds,
      maxTokens: prep.maxTokens,
      ignoreEos: prep.ignoreEos,
      ...(prep.seed !== undefined ? { seed: prep.seed } : {}),
      sink: {
        onToken: (token) => {
          completionTokens++;
          let delta = engine.model.decode([token]);
          const before = text.length;
          text += delta;
          const hit = firstStop(text, prep.stop, Math.max(0, before - longest(prep.stop)));
          if (hit) {
            stopReason = hit.stop;
            text = text.slice(0, hit.at);
            delta = text.slice(before);
          }
          if (prep.stream && delta.length > 0) w.send(chunk([choice(delta, null)]));
          if (hit) engine.finishRequest(id, "stop");
        },
        onFinish: (reason) => {
          done = true;
          if (reason === "abort") return; // the client is gone; nothing to write
          if (!prep.stream) {
            const body =
              kind === "chat"
                ? { id, object: "chat.completion", created, model, choices: [{ index: 0, message: { role: "assistant", content: text, tool_calls: [] }, logprobs: null, finish_reason: reason, stop_reason: stopReason }], usage: usage() }
                : { id, object: "text_completion", created, model, choices: [{ index: 0, text, logprobs: null, finish_reason: reason, stop_reason: stopReason }], usage: usage() };
            return w.json(200, body);
          }
          w.send(chunk([choice("", reason)]));
          if (prep.includeUsage) w.send(chunk([], { usage: usage() }));
          w.send("[DONE]");
          w.end();
        },
      },
    });
    if (!result.ok) {
      if (result.kind === "queue_full") {
        this.metrics?.onRejected();
        const retry = String(result.retryAfterSeconds);
        return send(w, apiError(429, result.message, { code: "rate_limit_exceeded", headers: { "retry-after": retry } }));
      }
      return send(w, apiError(400, result.message, { param: result.param, code: "context_length_exceeded" }));
    }
    w.onClose(() => {
      if (!done) engine.finishRequest(id, "abort");
    });
    if (prep.stream) {
      w.startStream();
      if (kind === "chat") w.send(chunk([{ index: 0, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null }]));
    }
    this.options.wake?.();
  }
}

const ROUTES: Record<string, { method: string }> = {
  "/health": { method: "GET" },
  "/metrics": { method: "GET" },
  "/v1/models": { method: "GET" },
  "/v1/completions": { method: "POST" },
  "/v1/chat/completions": { method: "POST" },
};

export function send(w: ResponseWriter, err: ApiError): void {
  w.json(err.status, err.body, err.headers);
}

function longest(stops: readonly string[]): number {
  return stops.reduce((n, s) => Math.max(n, s.length), 0);
}

/** Earliest stop string in `text` at or after `from` (only the new tail needs searching). */
function firstStop(text: string, stops: readonly string[], from: number): { at: number; stop: string } | null {
  let best: { at: number; stop: string } | null = null;
  for (const s of stops) {
    const at = text.indexOf(s, from);
    if (at >= 0 && (best === null || at < best.at)) best = { at, stop: s };
  }
  return best;
}
