/**
 * Reads DCGM exporter metrics text (ours or NVIDIA's dcgm-exporter) into per-GPU telemetry, for
 * consumers such as the scheduler extender's thermal scoring. Accepts the `Hostname` label and
 * the lower-case `hostname` some exporter versions use; the clock-event mask is read from
 * DCGM_FI_DEV_CLOCKS_EVENT_REASONS or its older name DCGM_FI_DEV_CLOCK_THROTTLE_REASONS.
 */
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { ClockEventReason as R } from "../gpu-sim/reasons";

export interface GpuTelemetry {
  uuid: string;
  hostname: string;
  gpu?: string;
  modelName?: string;
  /** DCGM_FI_DEV_GPU_TEMP, °C. */
  temp?: number;
  powerW?: number;
  smClockMHz?: number;
  clockEventReasons?: number;
  /** SW power cap (0x4) is holding the clock down. */
  powerCapped: boolean;
  /** SW or HW thermal slowdown (0x20 / 0x40) is holding the clock down. */
  thermalSlowdown: boolean;
}

const FIELDS: Record<string, keyof Pick<GpuTelemetry, "temp" | "powerW" | "smClockMHz" | "clockEventReasons">> = {
  DCGM_FI_DEV_GPU_TEMP: "temp",
  DCGM_FI_DEV_POWER_USAGE: "powerW",
  DCGM_FI_DEV_SM_CLOCK: "smClockMHz",
  DCGM_FI_DEV_CLOCKS_EVENT_REASONS: "clockEventReasons",
  DCGM_FI_DEV_CLOCK_THROTTLE_REASONS: "clockEventReasons",
};

/** Per-GPU telemetry keyed by UUID (then hostname, for exporters that repeat UUIDs across nodes). */
export function parseDcgmMetrics(text: string): GpuTelemetry[] {
  const byKey = new Map<string, GpuTelemetry>();
  for (const family of parsePrometheusTextFormat(text)) {
    const field = FIELDS[family.name];
    if (!field) continue;
    for (const sample of family.metrics) {
      const labels = sample.labels ?? {};
      const uuid = labels.UUID ?? labels.uuid;
      const value = Number(sample.value);
      if (!uuid || !Number.isFinite(value)) continue;
      const hostname = labels.Hostname ?? labels.hostname ?? "";
      const key = `${hostname}/${uuid}`;
      let t = byKey.get(key);
      if (!t) {
        t = { uuid, hostname, gpu: labels.gpu, modelName: labels.modelName, powerCapped: false, thermalSlowdown: false };
        byKey.set(key, t);
      }
      t[field] = value;
    }
  }
  for (const t of byKey.values()) {
    const mask = t.clockEventReasons ?? 0;
    t.powerCapped = (mask & R.SwPowerCap) !== 0;
    t.thermalSlowdown = (mask & (R.SwThermalSlowdown | R.HwThermalSlowdown)) !== 0;
  }
  return [...byKey.values()];
}
