/**
 * DCGM-exporter-compatible metrics in a prom-client registry. Names, types and help texts follow
 * dcgm-exporter's etc/default-counters.csv; labels are dcgm-exporter's per-GPU labels plus
 * Hostname. Clock-event reasons use the DCGM 3.3+ field name DCGM_FI_DEV_CLOCKS_EVENT_REASONS
 * (formerly DCGM_FI_DEV_CLOCK_THROTTLE_REASONS), value = the NVML bitmask.
 */
import { Counter, Gauge, Registry } from "prom-client";
import { DCGM_METRICS } from "../../gpu/metrics";
import type { GpuSample } from "./sample";

export const DCGM_LABELS = ["gpu", "UUID", "pci_bus_id", "device", "modelName", "Hostname"] as const;
type Labels = Record<(typeof DCGM_LABELS)[number], string>;

interface Def {
  name: string;
  help: string;
  counter?: boolean;
  value: (s: GpuSample) => number | undefined;
}

const DEFS: Def[] = [
  { name: DCGM_METRICS.smClock, help: "SM clock frequency (in MHz).", value: (s) => s.smClockMHz },
  { name: DCGM_METRICS.memClock, help: "Memory clock frequency (in MHz).", value: (s) => s.memClockMHz },
  { name: DCGM_METRICS.memoryTemp, help: "Memory temperature (in C).", value: (s) => s.memTempC },
  { name: DCGM_METRICS.gpuTemp, help: "GPU temperature (in C).", value: (s) => s.gpuTempC },
  { name: DCGM_METRICS.powerUsage, help: "Power draw (in W).", value: (s) => s.powerW },
  { name: DCGM_METRICS.powerLimit, help: "Power management limit (in W).", value: (s) => s.powerLimitW },
  { name: DCGM_METRICS.energy, help: "Total energy consumption since boot (in mJ).", counter: true, value: (s) => s.energyMJ },
  { name: DCGM_METRICS.gpuUtil, help: "GPU utilization (in %).", value: (s) => s.utilGpu },
  { name: DCGM_METRICS.memCopyUtil, help: "Memory utilization (in %).", value: (s) => s.utilMem },
  { name: DCGM_METRICS.xidErrors, help: "Value of the last XID error encountered.", value: (s) => s.lastXid },
  { name: DCGM_METRICS.fbFree, help: "Framebuffer memory free (in MiB).", value: (s) => s.fbFreeMiB },
  { name: DCGM_METRICS.fbUsed, help: "Framebuffer memory used (in MiB).", value: (s) => s.fbUsedMiB },
  { name: DCGM_METRICS.clockEventReasons, help: "Current clock event reasons (bitmask of NVML clocks event reasons).", value: (s) => s.clockEventReasons },
  { name: DCGM_METRICS.powerViolation, help: "Throttling duration due to power constraints (in us).", counter: true, value: (s) => s.powerViolationUs },
  { name: DCGM_METRICS.thermalViolation, help: "Throttling duration due to thermal constraints (in us).", counter: true, value: (s) => s.thermalViolationUs },
];

/** The registry one exporter serves; `update` replaces every per-GPU series with the latest samples. */
export class DcgmMetrics {
  readonly registry = new Registry();
  private readonly series: { def: Def; metric: Gauge<string> | Counter<string> }[];
  private readonly sourceUp: Gauge<string>;
  private readonly scrapeErrors: Counter<string>;
  private readonly lastError: Gauge<string>;

  constructor(private readonly hostname: string, private readonly sourceName: string) {
    const registers = [this.registry];
    this.series = DEFS.map((def) => ({
      def,
      metric: def.counter
        ? new Counter({ name: def.name, help: def.help, labelNames: DCGM_LABELS, registers })
        : new Gauge({ name: def.name, help: def.help, labelNames: DCGM_LABELS, registers }),
    }));
    this.sourceUp = new Gauge({ name: "gpk_telemetry_source_up", help: "1 when the last read of the telemetry source succeeded.", labelNames: ["source"], registers });
    this.scrapeErrors = new Counter({ name: "gpk_telemetry_source_errors_total", help: "Failed reads of the telemetry source.", labelNames: ["source"], registers });
    this.lastError = new Gauge({ name: "gpk_telemetry_source_last_error", help: "Set to 1 with the last source error as a label while the source is down.", labelNames: ["source", "error"], registers });
    this.sourceUp.set({ source: sourceName }, 0);
    this.scrapeErrors.inc({ source: sourceName }, 0);
  }

  update(samples: GpuSample[]): void {
    for (const { def, metric } of this.series) {
      metric.reset();
      for (const s of samples) {
        const v = def.value(s);
        if (v === undefined || !Number.isFinite(v)) continue;
        const labels = this.labels(s);
        if (metric instanceof Counter) metric.inc(labels, Math.max(0, v));
        else metric.set(labels, v);
      }
    }
    this.sourceUp.set({ source: this.sourceName }, 1);
    this.lastError.reset();
  }

  /** A failed read: no stale GPU values stay exported, and the reason is visible in the scrape. */
  fail(message: string): void {
    for (const { metric } of this.series) metric.reset();
    this.sourceUp.set({ source: this.sourceName }, 0);
    this.scrapeErrors.inc({ source: this.sourceName });
    this.lastError.reset();
    this.lastError.set({ source: this.sourceName, error: message.slice(0, 300) }, 1);
  }

  private labels(s: GpuSample): Labels {
    return { gpu: String(s.gpu), UUID: s.uuid, pci_bus_id: s.pciBusId, device: s.device, modelName: s.modelName, Hostname: this.hostname };
  }
}
