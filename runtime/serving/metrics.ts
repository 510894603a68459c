/**
 * vLLM's Prometheus metrics, with vLLM's names, types, `model_name` label and histogram
 * buckets (vllm/v1/metrics/loggers.py). prom-client exposes names as given (it does not append
 * `_total` to counters), so counters carry the `_total` suffix vLLM's exposition shows.
 * Latencies are engine seconds: simulated time, which equals wall time at speedup 1.
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { SERVING_METRICS, VLLM_METRICS } from "../../gpu/metrics";
import type { EngineObserver, LLMEngine } from "./engine/engine";
import type { FinishReason, Request } from "./engine/request";

const TTFT_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0];
const ITL_BUCKETS = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0];
const E2E_BUCKETS = [0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0];

export class ServingMetrics implements EngineObserver {
  readonly registry = new Registry();
  private readonly labels: { model_name: string };
  private readonly promptTokens: Counter<"model_name">;
  private readonly generationTokens: Counter<"model_name">;
  private readonly preemptions: Counter<"model_name">;
  private readonly success: Counter<"model_name" | "finished_reason">;
  private readonly ttft: Histogram<"model_name">;
  private readonly itl: Histogram<"model_name">;
  private readonly e2e: Histogram<"model_name">;
  private readonly rejected: Counter<"model_name">;
  private seen = { prompt: 0, generation: 0, preemptions: 0 };

  constructor(private readonly engine: LLMEngine, modelName: string) {
    this.labels = { model_name: modelName };
    const registers = [this.registry];
    const labelNames = ["model_name"] as const;
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({
        name, help, labelNames, registers,
        collect() {
          this.set({ model_name: modelName }, read());
        },
      });
    gauge(VLLM_METRICS.running, "Number of requests in model execution batches.", () => engine.scheduler.running.length);
    gauge(VLLM_METRICS.waiting, "Number of requests waiting to be processed.", () => engine.scheduler.waiting.length);
    gauge(VLLM_METRICS.kvCacheUsage, "KV-cache usage. 1 means 100 percent usage.", () => engine.kv.usage());
    // Token and preemption counters follow the engine's own totals at scrape time, so they can never drift from it.
    const sync = () => this.syncCounters();
    this.promptTokens = new Counter({ name: VLLM_METRICS.promptTokens, help: "Number of prefill tokens processed.", labelNames, registers, collect: sync });
    this.generationTokens = new Counter({ name: VLLM_METRICS.generationTokens, help: "Number of generation tokens processed.", labelNames, registers, collect: sync });
    this.preemptions = new Counter({ name: VLLM_METRICS.preemptions, help: "Cumulative number of preemption from the engine.", labelNames, registers, collect: sync });
    this.success = new Counter({
      name: VLLM_METRICS.requestSuccess, help: "Count of successfully processed requests.",
      labelNames: ["model_name", "finished_reason"], registers,
    });
    for (const reason of ["stop", "length"]) this.success.inc({ ...this.labels, finished_reason: reason }, 0);
    this.ttft = new Histogram({ name: VLLM_METRICS.timeToFirstToken, help: "Histogram of time to first token in seconds.", labelNames, registers, buckets: TTFT_BUCKETS });
    this.itl = new Histogram({ name: VLLM_METRICS.interTokenLatency, help: "Histogram of inter-token latency in seconds.", labelNames, registers, buckets: ITL_BUCKETS });
    this.e2e = new Histogram({ name: VLLM_METRICS.e2eLatency, help: "Histogram of e2e request latency in seconds.", labelNames, registers, buckets: E2E_BUCKETS });
    this.rejected = new Counter({ name: SERVING_METRICS.rejected, help: "Requests refused with 429 because the waiting queue was full (--max-waiting).", labelNames, registers });
    this.rejected.inc(this.labels, 0);
    // Series exist from the start (as vLLM pre-creates its labelled children), so dashboards and rate() see zeros, not gaps.
    for (const h of [this.ttft, this.itl, this.e2e]) h.zero(this.labels);
    this.syncCounters();
    engine.addObserver(this);
  }

  onFirstToken(_request: Request, ttft: number): void {
    this.ttft.observe(this.labels, ttft);
  }

  onInterToken(_request: Request, seconds: number): void {
    this.itl.observe(this.labels, seconds);
  }

  /** A request the front end refused with 429 (queue full); it never reached the engine. */
  onRejected(): void {
    this.rejected.inc(this.labels);
  }

  onFinish(_request: Request, reason: FinishReason, e2e: number): void {
    if (reason === "abort") return;
    this.success.inc({ ...this.labels, finished_reason: reason });
    this.e2e.observe(this.labels, e2e);
  }

  async exposition(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private syncCounters(): void {
    const s = this.engine.snapshot();
    this.promptTokens.inc(this.labels, s.promptTokens - this.seen.prompt);
    this.generationTokens.inc(this.labels, s.generationTokens - this.seen.generation);
    this.preemptions.inc(this.labels, s.numPreemptions - this.seen.preemptions);
    this.seen = { prompt: s.promptTokens, generation: s.generationTokens, preemptions: s.numPreemptions };
  }
}
