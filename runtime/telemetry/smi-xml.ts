/**
 * Parses `nvidia-smi -q -x` (nvsmi_device_v13 layout, as in data/h100/nvidia-smi-q.xml)
 * into samples. Values carry units ("35 C", "71.42 W", "0 MiB") or "N/A"; a required value that
 * is missing is an error naming the GPU and the element, never a silent zero.
 */
import { XMLParser } from "fast-xml-parser";
import { ClockEventReason as R } from "../gpu-sim/reasons";
import type { GpuSample } from "./sample";

const parser = new XMLParser({ ignoreAttributes: false, isArray: (name) => name === "gpu", parseTagValue: false });

type Node = Record<string, unknown>;

/** Reason flags in <clocks_event_reasons> (and the pre-R535 <clocks_throttle_reasons>) → NVML bits. */
const REASON_ELEMENTS: [string, number][] = [
  ["gpu_idle", R.GpuIdle],
  ["applications_clocks_setting", R.ApplicationsClocksSetting],
  ["sw_power_cap", R.SwPowerCap],
  ["hw_slowdown", R.HwSlowdown],
  ["hw_thermal_slowdown", R.HwThermalSlowdown],
  ["hw_power_brake_slowdown", R.HwPowerBrakeSlowdown],
  ["sync_boost", R.SyncBoost],
  ["sw_thermal_slowdown", R.SwThermalSlowdown],
  ["display_clocks_setting", R.DisplayClockSetting],
];

function at(node: unknown, path: string): unknown {
  return path.split("/").reduce<unknown>((n, key) => (n && typeof n === "object" ? (n as Node)[key] : undefined), node);
}

/** The number in "71.42 W"; undefined for N/A or a missing element. */
function numberAt(node: unknown, path: string): number | undefined {
  const raw = at(node, path);
  if (raw === undefined || raw === null) return undefined;
  const m = /^\s*(-?\d+(?:\.\d+)?)/.exec(String(raw));
  return m ? Number(m[1]) : undefined;
}

export class SmiXmlError extends Error {
  override readonly name = "SmiXmlError";
}

export function parseNvidiaSmiXml(xml: string): GpuSample[] {
  let doc: unknown;
  try {
    doc = parser.parse(xml, true);
  } catch (err) {
    throw new SmiXmlError(`nvidia-smi XML does not parse: ${(err as Error).message}`);
  }
  const log = at(doc, "nvidia_smi_log");
  if (!log || typeof log !== "object") throw new SmiXmlError("nvidia-smi XML has no <nvidia_smi_log> element");
  const gpus = ((log as Node).gpu as Node[] | undefined) ?? [];
  return gpus.map((g, i) => {
    const need = (path: string): number => {
      const v = numberAt(g, path);
      if (v === undefined) throw new SmiXmlError(`nvidia-smi XML: GPU ${i}: <${path}> is missing or not a number (${JSON.stringify(at(g, path) ?? null)})`);
      return v;
    };
    const reasonsNode = at(g, "clocks_event_reasons") ?? at(g, "clocks_throttle_reasons");
    let reasons = 0;
    for (const [name, bit] of REASON_ELEMENTS) {
      const v = at(reasonsNode, `clocks_event_reason_${name}`) ?? at(reasonsNode, `clocks_throttle_reason_${name}`);
      if (v === "Active") reasons |= bit;
    }
    const counters = "clocks_event_reasons_counters";
    const minor = numberAt(g, "minor_number");
    const powerW = numberAt(g, "gpu_power_readings/average_power_draw") ?? numberAt(g, "gpu_power_readings/power_draw")
      ?? numberAt(g, "power_readings/power_draw");
    if (powerW === undefined) throw new SmiXmlError(`nvidia-smi XML: GPU ${i}: no power draw reading`);
    const swThermal = numberAt(g, `${counters}/clocks_event_reasons_counters_sw_therm_slowdown`) ?? 0;
    const hwThermal = numberAt(g, `${counters}/clocks_event_reasons_counters_hw_therm_slowdown`) ?? 0;
    return {
      gpu: i,
      uuid: String(at(g, "uuid") ?? ""),
      pciBusId: String(at(g, "pci/pci_bus_id") ?? at(g, "@_id") ?? ""),
      device: minor === undefined ? `nvidia${i}` : `nvidia${minor}`,
      modelName: String(at(g, "product_name") ?? ""),
      gpuTempC: need("temperature/gpu_temp"),
      memTempC: numberAt(g, "temperature/memory_temp"),
      powerW,
      powerLimitW: numberAt(g, "gpu_power_readings/current_power_limit"),
      utilGpu: need("utilization/gpu_util"),
      utilMem: numberAt(g, "utilization/memory_util"),
      fbUsedMiB: need("fb_memory_usage/used"),
      fbFreeMiB: need("fb_memory_usage/free"),
      smClockMHz: need("clocks/sm_clock"),
      memClockMHz: need("clocks/mem_clock"),
      clockEventReasons: reasons,
      powerViolationUs: numberAt(g, `${counters}/clocks_event_reasons_counters_sw_power_cap`) ?? 0,
      thermalViolationUs: swThermal + hwThermal,
    };
  });
}
