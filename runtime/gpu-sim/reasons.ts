/**
 * NVML clock-event reason bits (nvmlClocksEventReason*, formerly nvmlClocksThrottleReason*;
 * NVML API reference "NvmlClocksEventReasons"; DCGM_CLOCKS_EVENT_REASON_* are a 1:1 map).
 */
export const ClockEventReason = {
  None: 0x0,
  GpuIdle: 0x1,
  ApplicationsClocksSetting: 0x2,
  SwPowerCap: 0x4,
  HwSlowdown: 0x8,
  SyncBoost: 0x10,
  SwThermalSlowdown: 0x20,
  HwThermalSlowdown: 0x40,
  HwPowerBrakeSlowdown: 0x80,
  DisplayClockSetting: 0x100,
} as const;
export type ClockEventReason = (typeof ClockEventReason)[keyof typeof ClockEventReason];

/** `0x0000000000000004`: the 16-hex-digit form nvidia-smi prints for clocks_event_reasons.active. */
export function formatReasonMask(mask: number): string {
  return `0x${mask.toString(16).padStart(16, "0")}`;
}

export function hasReason(mask: number, reason: ClockEventReason): boolean {
  return (mask & reason) !== 0;
}

/**
 * XIDs that NVIDIA's k8s-device-plugin ignores by default because they are application errors,
 * not device faults (13 graphics engine exception, 31 MMU fault, 43 channel stopped, 45 preemptive
 * cleanup, 68 video processor exception, 109 context switch timeout). Any other XID marks the GPU
 * unhealthy.
 */
export const APPLICATION_XIDS: readonly number[] = [13, 31, 43, 45, 68, 109];
