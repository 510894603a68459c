/**
 * The measured H100 trace (data/h100/thermal_trace.csv) and its replay through the
 * model: each sample's utilization and framebuffer use become the workload until the next
 * sample, and the model's readings are taken at the sample times. Shared by the fitting
 * script and the calibration test so both judge the model the same way.
 */
import { SimGpu } from "./device";
import type { SimProfile } from "./profiles";

export interface TraceSample {
  tS: number;
  phase: string;
  gpuTempC: number;
  powerW: number;
  smClockMHz: number;
  utilGpu: number;
  utilMem: number;
  fbUsedMiB: number;
  reasons: number;
}

const COLUMNS = ["t_s", "phase", "gpu_temp_c", "power_w", "sm_clock_mhz", "util_gpu_pct", "util_mem_pct", "fb_used_mib", "clock_event_reasons"] as const;

/** Parses the trace CSV; a malformed row names its line and column. */
export function parseThermalTrace(text: string): TraceSample[] {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
  const header = lines[0]?.split(",") ?? [];
  const col = Object.fromEntries(COLUMNS.map((name) => {
    const i = header.indexOf(name);
    if (i < 0) throw new Error(`thermal trace: missing column ${name}`);
    return [name, i];
  })) as Record<(typeof COLUMNS)[number], number>;
  return lines.slice(1).map((line, n) => {
    const cells = line.split(",");
    const num = (name: (typeof COLUMNS)[number]) => {
      const raw = cells[col[name]] ?? "";
      const v = Number(raw);
      if (raw.trim() === "" || !Number.isFinite(v)) throw new Error(`thermal trace line ${n + 2}: ${name} is not a number: ${JSON.stringify(raw)}`);
      return v;
    };
    return {
      tS: num("t_s"), phase: cells[col.phase] ?? "", gpuTempC: num("gpu_temp_c"), powerW: num("power_w"),
      smClockMHz: num("sm_clock_mhz"), utilGpu: num("util_gpu_pct"), utilMem: num("util_mem_pct"),
      fbUsedMiB: num("fb_used_mib"), reasons: num("clock_event_reasons"),
    };
  });
}

export interface ReplayPoint {
  tS: number;
  dieC: number;
  gpuTempC: number;
  powerW: number;
  smClockMHz: number;
  reasons: number;
}

/**
 * Replays the trace's workload schedule. The device starts in the thermal steady state of the
 * first sample's workload (the capture began after the GPU had idled with its context open).
 */
export function replayTrace(profile: SimProfile, trace: TraceSample[]): ReplayPoint[] {
  const gpu = new SimGpu(profile, { index: 0, uuid: "GPU-replay", pciBusId: "00000000:00:06.0", numaNode: 0, serial: "0" });
  const first = trace[0]!;
  gpu.setWorkload({ utilization: first.utilGpu, memoryUtilization: first.utilMem, fbUsedMiB: first.fbUsedMiB });
  gpu.step(600); // settle
  const out: ReplayPoint[] = [];
  let t = first.tS;
  for (const sample of trace) {
    // NVML's utilization is the busy share of the period before the sample, so it drives that period.
    gpu.setWorkload({ utilization: sample.utilGpu, memoryUtilization: sample.utilMem, fbUsedMiB: sample.fbUsedMiB });
    gpu.step(Math.max(0, sample.tS - t));
    t = sample.tS;
    const r = gpu.readings();
    out.push({ tS: t, dieC: r.dieTempC, gpuTempC: r.gpuTempC, powerW: r.powerW, smClockMHz: r.smClockMHz, reasons: r.clockEventReasons });
  }
  return out;
}

export function rmse(a: number[], b: number[]): number {
  const n = Math.min(a.length, b.length);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += (a[i]! - b[i]!) ** 2;
  return Math.sqrt(sum / n);
}

export function median(values: number[]): number {
  const s = [...values].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
