/**
 * `--query-gpu` fields: names and aliases from `nvidia-smi --help-query-gpu`, header units and
 * value formats as the captured H100 prints them (data/h100/nvidia-smi-commands.txt):
 * the header repeats the field's canonical name plus ` [unit]` (the capture shows canonical
 * names such as `clocks.current.sm [MHz]`; that an alias like `clocks.sm` is headed by its
 * canonical name is this simulator's rule, not in a committed capture); values carry the unit
 * unless `nounits`.
 */
import { ClockEventReason as R, formatReasonMask } from "../reasons";
import type { SmiContext, SmiGpu } from "./view";
import { queryTimestamp } from "./view";

export interface QueryContext extends SmiContext {
  count: number;
}

type Value = string | number | null; // null: not available, printed as [N/A]

export interface QueryField {
  unit?: "MiB" | "%" | "W" | "MHz";
  value(g: SmiGpu, ctx: QueryContext): Value;
}

const w = (v: number) => v.toFixed(2);
const active = (bit: number) => (g: SmiGpu) => ((g.clockEventReasons & bit) !== 0 ? "Active" : "Not Active");
const field = (unit: QueryField["unit"], value: QueryField["value"]): QueryField => ({ unit, value });
const plain = (value: QueryField["value"]): QueryField => ({ value });
const migMode = (g: SmiGpu) => (g.migDevices.length > 0 ? "Enabled" : "Disabled");
const bus = (g: SmiGpu) => g.pciBusId.split(":");
const COMPUTE_CAP = { h100: "9.0", a100: "8.0", l40s: "8.9", a10g: "8.6", l4: "8.9" } as const;

const REASONS: Record<string, number> = {
  gpu_idle: R.GpuIdle,
  applications_clocks_setting: R.ApplicationsClocksSetting,
  sw_power_cap: R.SwPowerCap,
  hw_slowdown: R.HwSlowdown,
  hw_thermal_slowdown: R.HwThermalSlowdown,
  hw_power_brake_slowdown: R.HwPowerBrakeSlowdown,
  sw_thermal_slowdown: R.SwThermalSlowdown,
  sync_boost: R.SyncBoost,
};

/** Canonical field name → definition. */
export const QUERY_FIELDS: Record<string, QueryField> = {
  timestamp: plain((_, c) => queryTimestamp(c.now)),
  driver_version: plain((_, c) => c.driverVersion),
  count: plain((_, c) => c.count),
  name: plain((g) => g.name),
  serial: plain((g) => g.serial),
  uuid: plain((g) => g.uuid),
  "pci.bus_id": plain((g) => g.pciBusId),
  "pci.domain": plain((g) => `0x${bus(g)[0]!.slice(-4)}`),
  "pci.bus": plain((g) => `0x${bus(g)[1]}`),
  "pci.device": plain(() => "0x00"),
  "pci.device_id": plain((g) => `0x${g.profile.pciDeviceId}`),
  "pci.sub_device_id": plain((g) => `0x${g.profile.pciSubSystemId}`),
  "pcie.link.gen.current": plain(() => 5),
  "pcie.link.gen.max": plain(() => 5),
  "pcie.link.width.current": plain(() => 16),
  "pcie.link.width.max": plain(() => 16),
  index: plain((g) => g.index),
  display_mode: plain(() => "Requested functionality has been deprecated"),
  display_active: plain(() => "Disabled"),
  persistence_mode: plain(() => "Enabled"),
  vbios_version: plain((g) => g.profile.vbiosVersion),
  compute_cap: plain((g) => COMPUTE_CAP[g.product]),
  "fan.speed": field("%", () => null),
  pstate: plain((g) => (g.shutdown ? "P8" : "P0")),
  "memory.total": field("MiB", (g) => g.fbTotalMiB),
  "memory.reserved": field("MiB", (g) => g.fbReservedMiB),
  "memory.used": field("MiB", (g) => g.fbUsedMiB),
  "memory.free": field("MiB", (g) => g.fbFreeMiB),
  compute_mode: plain(() => "Default"),
  "utilization.gpu": field("%", (g) => g.utilizationGpu),
  "utilization.memory": field("%", (g) => g.utilizationMemory),
  "temperature.gpu": plain((g) => g.gpuTempC),
  "temperature.gpu.tlimit": plain((g) => g.profile.temps.maxOperatingC - g.gpuTempC),
  "temperature.memory": plain((g) => g.memTempC),
  "power.management": plain(() => "Enabled"),
  "power.draw": field("W", (g) => w(g.powerW)),
  "power.draw.average": field("W", (g) => w(g.powerW)),
  "power.draw.instant": field("W", (g) => w(g.instantPowerW)),
  "power.limit": field("W", (g) => w(g.powerLimitW)),
  "enforced.power.limit": field("W", (g) => w(g.powerLimitW)),
  "power.default_limit": field("W", (g) => w(g.profile.powerLimitW)),
  "power.min_limit": field("W", (g) => w(g.profile.power.minLimitW)),
  "power.max_limit": field("W", (g) => w(g.profile.powerLimitW)),
  "clocks.current.graphics": field("MHz", (g) => g.smClockMHz),
  "clocks.current.sm": field("MHz", (g) => g.smClockMHz),
  "clocks.current.memory": field("MHz", (g) => g.memClockMHz),
  "clocks.current.video": field("MHz", (g) => g.videoClockMHz),
  "clocks.applications.graphics": field("MHz", (g) => g.profile.maxSmClockMHz),
  "clocks.applications.memory": field("MHz", (g) => g.profile.maxMemClockMHz),
  "clocks.default_applications.graphics": field("MHz", (g) => g.profile.maxSmClockMHz),
  "clocks.default_applications.memory": field("MHz", (g) => g.profile.maxMemClockMHz),
  "clocks.max.graphics": field("MHz", (g) => g.profile.maxSmClockMHz),
  "clocks.max.sm": field("MHz", (g) => g.profile.maxSmClockMHz),
  "clocks.max.memory": field("MHz", (g) => g.profile.maxMemClockMHz),
  "clocks_event_reasons.supported": plain(() => formatReasonMask(0x1ff)),
  "clocks_event_reasons.active": plain((g) => formatReasonMask(g.clockEventReasons)),
  ...Object.fromEntries(Object.entries(REASONS).map(([name, bit]) => [`clocks_event_reasons.${name}`, plain(active(bit))])),
  "mig.mode.current": plain((g) => migMode(g)),
  "mig.mode.pending": plain((g) => migMode(g)),
  "ecc.mode.current": plain(() => "Enabled"),
  "ecc.mode.pending": plain(() => "Enabled"),
  "ecc.errors.corrected.volatile.total": plain(() => 0),
  "ecc.errors.uncorrected.volatile.total": plain((g) => (g.lastXid === 48 ? 1 : 0)),
  "ecc.errors.corrected.aggregate.total": plain(() => 0),
  "ecc.errors.uncorrected.aggregate.total": plain((g) => (g.lastXid === 48 ? 1 : 0)),
};

/** Alias → canonical name (`nvidia-smi --help-query-gpu` lists these as `"a" or "b"`). */
export const QUERY_ALIASES: Record<string, string> = {
  gpu_name: "name",
  gpu_serial: "serial",
  gpu_uuid: "uuid",
  gpu_bus_id: "pci.bus_id",
  "clocks.gr": "clocks.current.graphics",
  "clocks.sm": "clocks.current.sm",
  "clocks.mem": "clocks.current.memory",
  "clocks.video": "clocks.current.video",
  "clocks.applications.gr": "clocks.applications.graphics",
  "clocks.applications.mem": "clocks.applications.memory",
  "clocks.default_applications.gr": "clocks.default_applications.graphics",
  "clocks.default_applications.mem": "clocks.default_applications.memory",
  "clocks.max.gr": "clocks.max.graphics",
  "clocks.max.mem": "clocks.max.memory",
  "clocks_throttle_reasons.supported": "clocks_event_reasons.supported",
  "clocks_throttle_reasons.active": "clocks_event_reasons.active",
  ...Object.fromEntries(Object.keys(REASONS).map((name) => [`clocks_throttle_reasons.${name}`, `clocks_event_reasons.${name}`])),
};

export function lookupField(name: string): QueryField | undefined {
  return QUERY_FIELDS[name] ?? QUERY_FIELDS[QUERY_ALIASES[name] ?? ""];
}

/** The name nvidia-smi prints for a field the user may have typed as an alias. */
export function canonicalFieldName(name: string): string {
  return QUERY_FIELDS[name] ? name : QUERY_ALIASES[name] ?? name;
}

/** `power.draw [W]`: the field's canonical name, plus the unit. */
export function fieldHeader(name: string, f: QueryField): string {
  const canonical = canonicalFieldName(name);
  return f.unit ? `${canonical} [${f.unit}]` : canonical;
}

export function fieldValue(f: QueryField, g: SmiGpu, ctx: QueryContext, units: boolean): string {
  const v = f.value(g, ctx);
  if (v === null) return "[N/A]";
  return units && f.unit ? `${v} ${f.unit}` : String(v);
}
