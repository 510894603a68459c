/**
 * The server over real sockets: the official `openai` client, raw HTTP for malformed input,
 * a burst against a tiny queue, and /metrics through a Prometheus text parser.
 * The engine runs on a virtual clock (steps back to back), so latencies are simulated and the
 * suite takes seconds.
 */
import OpenAI from "openai";
import parsePrometheus from "parse-prometheus-text-format";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VirtualClock } from "../../runtime/serving/engine/clock";
import { resolveEngineConfig, type EngineArgs } from "../../runtime/serving/engine/config";
import { startServer, type RunningServer } from "../../runtime/serving/http";

const MODEL = "meta-llama/Meta-Llama-3-8B-Instruct";

async function serve(args: EngineArgs = {}): Promise<RunningServer> {
  return startServer({ config: resolveEngineConfig(args), clock: new VirtualClock(), port: 0, host: "127.0.0.1" });
}

async function post(url: string, body: string | object, headers: Record<string, string> = {}) {
  const res = await fetch(url, { method: "POST", body: typeof body === "string" ? body : JSON.stringify(body), headers: { "content-type": "application/json", ...headers } });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: text.startsWith("{") ? JSON.parse(text) : null };
}

type Sample = { name: string; type: string; metrics: { value?: string; labels?: Record<string, string>; buckets?: Record<string, string> }[] };
async function scrape(url: string): Promise<Map<string, Sample> & { text: string }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Object.assign(new Map((parsePrometheus(text) as Sample[]).map((s) => [s.name, s])), { text });
}
const value = (m: Map<string, Sample>, name: string, labels: Record<string, string> = {}) =>
  Number(m.get(name)!.metrics.find((x) => Object.entries(labels).every(([k, v]) => x.labels?.[k] === v))!.value);
// The parser keeps a histogram's buckets (not its labels or _count); the +Inf bucket is the count.
const count = (m: Map<string, Sample>, name: string) => Number(m.get(name)!.metrics[0]!.buckets!["+Inf"]);

describe("OpenAI API with the official client", () => {
  let server: RunningServer;
  let client: OpenAI;
  beforeAll(async () => {
    server = await serve();
    client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "unused", maxRetries: 0 });
  });
  afterAll(() => server.close());

  it("lists the served model", async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual([MODEL]);
  });

  it("returns a completion with usage", async () => {
    const res = await client.completions.create({ model: MODEL, prompt: "The KV cache is", max_tokens: 12 });
    expect(res.object).toBe("text_completion");
    expect(res.choices[0]!.finish_reason).toBe("length");
    expect(res.usage).toEqual({ prompt_tokens: 4, completion_tokens: 12, total_tokens: 16 });
    expect(server.engine.tokenizer.count(res.choices[0]!.text)).toBe(12);
  });

  it("accepts a prompt as token ids, alone or in a one-element batch", async () => {
    const flat = await client.completions.create({ model: MODEL, prompt: [1, 2, 3, 4, 5], max_tokens: 2 });
    const nested = await client.completions.create({ model: MODEL, prompt: [[1, 2, 3, 4, 5]], max_tokens: 2 });
    expect(flat.usage!.prompt_tokens).toBe(5);
    expect(nested.choices[0]!.text).toBe(flat.choices[0]!.text);
  });

  it("returns a chat completion that ends on its own without max_tokens", async () => {
    const res = await client.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "Say something." }] });
    expect(res.choices[0]!.message.role).toBe("assistant");
    expect(res.choices[0]!.finish_reason).toBe("stop");
    expect(res.usage!.completion_tokens).toBeGreaterThanOrEqual(24);
    expect(res.usage!.completion_tokens).toBeLessThan(256);
  });

  it("streams a chat completion with a final usage chunk", async () => {
    const stream = await client.chat.completions.create({
      model: MODEL, messages: [{ role: "user", content: "Stream please." }], max_tokens: 20, stream: true, stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks[0]!.choices[0]!.delta).toEqual({ role: "assistant", content: "" });
    const content = chunks.filter((c) => c.choices[0]?.delta.content).length;
    expect(content).toBe(20);
    const finish = chunks.find((c) => c.choices[0]?.finish_reason);
    expect(finish!.choices[0]!.finish_reason).toBe("length");
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toMatchObject({ completion_tokens: 20 });
  });

  it("frames SSE exactly as vLLM: data lines, blank-line separated, ending in [DONE]", async () => {
    const res = await post(`${server.url}/v1/completions`, { model: MODEL, prompt: "abc", max_tokens: 2, stream: true });
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const events = res.text.split("\n\n");
    expect(events.at(-1)).toBe("");
    expect(events.at(-2)).toBe("data: [DONE]");
    for (const e of events.slice(0, -2)) expect(JSON.parse(e.replace(/^data: /, "")).object).toBe("text_completion");
    expect(events.length).toBe(2 + 1 + 2); // two token chunks, one finish chunk, [DONE], trailing ""
  });

  it("stops at a stop string and reports it", async () => {
    const free = await client.completions.create({ model: MODEL, prompt: "seeded", max_tokens: 30, seed: 5 });
    const word = free.choices[0]!.text.split(" ")[3]!;
    const res = await client.completions.create({ model: MODEL, prompt: "seeded", max_tokens: 30, seed: 5, stop: [` ${word}`] });
    expect(res.choices[0]!.finish_reason).toBe("stop");
    expect(free.choices[0]!.text.startsWith(res.choices[0]!.text)).toBe(true);
    expect(res.choices[0]!.text).not.toContain(` ${word}`);
    expect(server.engine.kv.pool.numUsedBlocks).toBe(0);
  });
});

describe("bad input is an OpenAI-style 4xx naming the parameter", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await serve({ maxModelLen: 256 });
  });
  afterAll(() => server.close());

  const cases: [string, string, string | object, number, string | null, RegExp][] = [
    ["malformed JSON", "/v1/completions", '{"model": ', 400, null, /Invalid JSON body/],
    ["a JSON array body", "/v1/completions", "[1]", 400, null, /must be a JSON object/],
    ["max_tokens as a string", "/v1/completions", { model: MODEL, prompt: "x", max_tokens: "ten" }, 400, "max_tokens", /expected number/],
    ["a negative max_tokens", "/v1/completions", { model: MODEL, prompt: "x", max_tokens: -1 }, 400, "max_tokens", /max_tokens/],
    ["temperature out of range", "/v1/chat/completions", { model: MODEL, messages: [{ role: "user", content: "x" }], temperature: 5 }, 400, "temperature", /temperature/],
    ["a missing messages field", "/v1/chat/completions", { model: MODEL }, 400, "messages", /messages/],
    ["a bad message role", "/v1/chat/completions", { model: MODEL, messages: [{ role: "robot", content: "x" }] }, 400, "messages[0].role", /messages\[0\]\.role/],
    ["a number as content", "/v1/chat/completions", { model: MODEL, messages: [{ role: "user", content: 3 }] }, 400, "messages[0].content", /string or an array of text parts/],
    ["a prompt of the wrong type", "/v1/completions", { model: MODEL, prompt: { text: "x" } }, 400, "prompt", /prompt/],
    ["stream_options without stream", "/v1/completions", { model: MODEL, prompt: "x", stream_options: { include_usage: true } }, 400, "stream_options", /stream=True/],
    ["n > 1", "/v1/completions", { model: MODEL, prompt: "x", n: 2 }, 400, "n", /only n=1/],
    ["an unknown model", "/v1/completions", { model: "gpt-4o", prompt: "x" }, 404, "model", /does not exist/],
    ["prompt + max_tokens over max-model-len", "/v1/completions", { model: MODEL, prompt: "x", max_tokens: 300 }, 400, "max_tokens", /maximum context length is 256 tokens/],
  ];
  it.each(cases)("%s", async (_name, path, body, status, param, message) => {
    const res = await post(`${server.url}${path}`, body);
    expect(res.status).toBe(status);
    expect(Object.keys(res.json.error).sort()).toEqual(["code", "message", "param", "type"]);
    expect(res.json.error.param).toBe(param);
    expect(res.json.error.type).toBe("invalid_request_error");
    expect(res.json.error.message).toMatch(message);
  });

  it("answers 413 for an oversized body, 405 for a wrong method and 404 for an unknown route", async () => {
    expect((await post(`${server.url}/v1/completions`, "x".repeat(5 * 1024 * 1024))).status).toBe(413);
    expect((await fetch(`${server.url}/v1/completions`)).status).toBe(405);
    const missing = await fetch(`${server.url}/v2/nothing`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe("not_found");
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
  });
});

describe("load shedding", () => {
  it("a burst that overfills the queue gets 429 + Retry-After, never a 5xx, and the admitted all complete", async () => {
    const server = await serve({ maxNumSeqs: 2, maxWaiting: 4 });
    try {
      const body = { model: MODEL, prompt: "burst", max_tokens: 200, ignore_eos: true };
      const results = await Promise.all(Array.from({ length: 40 }, () => post(`${server.url}/v1/completions`, body)));
      const by = (s: number) => results.filter((r) => r.status === s);
      expect(results.filter((r) => r.status >= 500)).toEqual([]);
      expect(by(200).length + by(429).length).toBe(40);
      expect(by(429).length).toBeGreaterThan(0);
      expect(by(200).length).toBeGreaterThanOrEqual(6); // 2 running + 4 waiting at least
      for (const r of by(429)) {
        expect(Number(r.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
        expect(r.json.error).toMatchObject({ type: "rate_limit_error", code: "rate_limit_exceeded" });
      }
      for (const r of by(200)) expect(r.json.usage.completion_tokens).toBe(200);
      // Each 429 is counted, so a dashboard can chart the shed rate.
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      expect(metrics).toContain(`gpk_serving_rejected_requests_total{model_name="${MODEL}"} ${by(429).length}\n`);
    } finally {
      await server.close();
    }
  });
});

describe("client disconnects", () => {
  it("1,000 streams aborted mid-way leave zero KV blocks in use", async () => {
    const server = await serve({ maxNumSeqs: 256, maxWaiting: 1000 });
    try {
      const one = async (i: number) => {
        const ac = new AbortController();
        const res = await fetch(`${server.url}/v1/completions`, {
          method: "POST", signal: ac.signal, headers: { "content-type": "application/json" },
          body: JSON.stringify({ model: MODEL, prompt: `stream number ${i} with a prompt long enough to fill blocks`, max_tokens: 4000, ignore_eos: true, stream: true }),
        });
        expect(res.status).toBe(200);
        const reader = res.body!.getReader();
        let seen = "";
        while (!seen.includes('"text":" ') && !seen.includes('"text":"')) {
          const { value, done } = await reader.read();
          if (done) break;
          seen += new TextDecoder().decode(value);
        }
        ac.abort();
        await reader.cancel().catch(() => {});
        return seen;
      };
      const seen = await Promise.all(Array.from({ length: 1000 }, (_, i) => one(i)));
      expect(seen.every((s) => s.includes('"text":') && !s.includes("[DONE]"))).toBe(true);
      // The server notices each close on its next event-loop turn.
      for (let i = 0; i < 200 && server.engine.numActiveRequests > 0; i++) await new Promise((r) => setTimeout(r, 10));
      expect(server.engine.numActiveRequests).toBe(0);
      expect(server.engine.kv.pool.numUsedBlocks).toBe(0);
      server.engine.kv.pool.checkInvariants();
      const m = await scrape(server.url);
      expect(value(m, "vllm:kv_cache_usage_perc")).toBe(0);
      expect(value(m, "vllm:num_requests_running")).toBe(0);
      expect(count(m, "vllm:e2e_request_latency_seconds")).toBe(0); // aborts are not successes
    } finally {
      await server.close();
    }
  }, 60_000);
});

describe("/metrics", () => {
  it("exposes vLLM's names and the counters move with a request", async () => {
    const server = await serve();
    try {
      const before = await scrape(server.url);
      for (const name of [
        "vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:kv_cache_usage_perc",
        "vllm:num_preemptions_total", "vllm:prompt_tokens_total", "vllm:generation_tokens_total", "vllm:request_success_total",
        "vllm:time_to_first_token_seconds", "vllm:inter_token_latency_seconds", "vllm:e2e_request_latency_seconds",
      ]) {
        expect(before.has(name), name).toBe(true);
        if (before.get(name)!.type === "HISTOGRAM") expect(before.text).toContain(`${name}_count{model_name="${MODEL}"} 0`);
        else expect(before.get(name)!.metrics[0]!.labels?.model_name).toBe(MODEL);
      }
      expect(before.get("vllm:time_to_first_token_seconds")!.type).toBe("HISTOGRAM");
      expect(before.get("vllm:prompt_tokens_total")!.type).toBe("COUNTER");
      const res = await post(`${server.url}/v1/completions`, { model: MODEL, prompt: "count these tokens please", max_tokens: 7 });
      const after = await scrape(server.url);
      const delta = (n: string, l = {}) => value(after, n, l) - value(before, n, l);
      expect(delta("vllm:prompt_tokens_total")).toBe(res.json.usage.prompt_tokens);
      expect(delta("vllm:generation_tokens_total")).toBe(7);
      expect(delta("vllm:request_success_total", { finished_reason: "length" })).toBe(1);
      expect(count(after, "vllm:time_to_first_token_seconds") - count(before, "vllm:time_to_first_token_seconds")).toBe(1);
      expect(count(after, "vllm:inter_token_latency_seconds") - count(before, "vllm:inter_token_latency_seconds")).toBe(6);
      expect(count(after, "vllm:e2e_request_latency_seconds")).toBe(1);
    } finally {
      await server.close();
    }
  });
});
