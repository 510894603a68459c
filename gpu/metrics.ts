/**
 * Metric names, one home: the exporters (runtime/telemetry, runtime/serving,
 * runtime/scheduler-extender) register them, the alert rules (components/gpu-telemetry.ts),
 * the dashboards (components/dashboards.ts) and the serving autoscaler query them, and the
 * thermal pack checks for them. A renamed metric changes here and everywhere at once.
 */

/** dcgm-exporter's names (etc/default-counters.csv; DCGM 3.3+ `CLOCKS_EVENT_REASONS`). */
export const DCGM_METRICS = {
  smClock: "DCGM_FI_DEV_SM_CLOCK",
  memClock: "DCGM_FI_DEV_MEM_CLOCK",
  memoryTemp: "DCGM_FI_DEV_MEMORY_TEMP",
  gpuTemp: "DCGM_FI_DEV_GPU_TEMP",
  powerUsage: "DCGM_FI_DEV_POWER_USAGE",
  powerLimit: "DCGM_FI_DEV_POWER_MGMT_LIMIT",
  energy: "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION",
  gpuUtil: "DCGM_FI_DEV_GPU_UTIL",
  memCopyUtil: "DCGM_FI_DEV_MEM_COPY_UTIL",
  xidErrors: "DCGM_FI_DEV_XID_ERRORS",
  fbFree: "DCGM_FI_DEV_FB_FREE",
  fbUsed: "DCGM_FI_DEV_FB_USED",
  clockEventReasons: "DCGM_FI_DEV_CLOCKS_EVENT_REASONS",
  /** The pre-3.3 name of `clockEventReasons`, still emitted by older exporters. */
  clockThrottleReasons: "DCGM_FI_DEV_CLOCK_THROTTLE_REASONS",
  powerViolation: "DCGM_FI_DEV_POWER_VIOLATION",
  thermalViolation: "DCGM_FI_DEV_THERMAL_VIOLATION",
} as const;

/** The per-GPU labels dcgm-exporter puts on every series (plus `Hostname`). */
export const DCGM_GPU_LABELS = "Hostname, gpu, UUID, modelName";

/**
 * NVML clock event reason bits (nvml.h `nvmlClocksEventReason*`), as DCGM exports the mask:
 * power cap 0x4, hardware slowdown 0x8, software thermal 0x20, hardware thermal 0x40.
 */
export const CLOCK_EVENT_BITS = { powerCap: 0x4, hwSlowdown: 0x8, swThermal: 0x20, hwThermal: 0x40 } as const;

/** vLLM's names (vllm/v1/metrics/loggers.py), which the kit's serving runtime exports too. */
export const VLLM_METRICS = {
  running: "vllm:num_requests_running",
  waiting: "vllm:num_requests_waiting",
  kvCacheUsage: "vllm:kv_cache_usage_perc",
  promptTokens: "vllm:prompt_tokens_total",
  generationTokens: "vllm:generation_tokens_total",
  preemptions: "vllm:num_preemptions_total",
  requestSuccess: "vllm:request_success_total",
  timeToFirstToken: "vllm:time_to_first_token_seconds",
  interTokenLatency: "vllm:inter_token_latency_seconds",
  e2eLatency: "vllm:e2e_request_latency_seconds",
} as const;

/** The kit's serving runtime's own (vLLM has no load shedding, so no name for it). */
export const SERVING_METRICS = {
  /** Requests refused with 429 because the waiting queue was full. */
  rejected: "gpk_serving_rejected_requests_total",
} as const;

/** `gpk extender`'s. */
export const EXTENDER_METRICS = {
  requests: "gpk_extender_requests_total",
  duration: "gpk_extender_request_duration_seconds",
  binds: "gpk_extender_binds_total",
  refusals: "gpk_extender_refusals_total",
  tlsHandshakeFailures: "gpk_extender_tls_handshake_failures_total",
  tlsConnections: "gpk_extender_tls_connections_total",
  nodes: "gpk_extender_nodes",
  /**
   * GPUs per pool by state (`allocated`, `idle`, `fragmented`, `cpu_stranded`), from its cache;
   * `fragmented` and `cpu_stranded` are parts of `idle`, measured independently, and may overlap.
   */
  poolGpus: "gpk_extender_pool_gpus",
} as const;
