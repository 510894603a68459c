/**
 * Power, clock and thermal behaviour of each GPU product, keyed by the product ids of
 * gpu/index.ts (which holds the datasheet identity: name, memory, power limit, max clocks).
 *
 * The H100 is calibrated on a measured trace (h100-calibration.ts, written by
 * scripts/fit-thermal.ts). The other products scale the H100's measured behaviour to their
 * datasheet power limits; their numbers are estimates, marked as such in docs/gpu-sim.md.
 */
import { GPU_PRODUCTS, type GpuProduct } from "../../gpu";
import { H100_CALIBRATION } from "./h100-calibration";
import type { ThermalParams } from "./thermal";

export interface PowerModel {
  /** Board power with no CUDA context (clocks parked, "GPU idle" reason), at `refTempC`. */
  idleW: number;
  /** Board power with a context open but no kernels running, at `refTempC`. */
  contextW: number;
  refTempC: number;
  /** Leakage: extra static watts per °C of die temperature above `refTempC`. */
  leakageWPerC: number;
  /** Dynamic power a 100%-utilization dense GEMM would draw at the max SM clock (demand, before capping). */
  fullLoadDynamicW: number;
  /** Dynamic power ∝ utilization · (f/fmax)^exponent (CMOS f·V² with V rising with f). */
  clockExponent: number;
  /** Lowest power limit `nvidia-smi -pl` accepts. */
  minLimitW: number;
}

export interface TemperatureLimits {
  /** "GPU Max Operating Temp": SW thermal slowdown (reason 0x20) holds the die here. */
  maxOperatingC: number;
  /** "GPU Slowdown Temp": HW thermal slowdown (reasons 0x40|0x08), clock cut by at least half. */
  slowdownC: number;
  /** "GPU Shutdown Temp": the GPU powers off and reports unhealthy until it cools to `recoverC`. */
  shutdownC: number;
  recoverC: number;
  /** "Memory Max Operating Temp" (HBM/GDDR). */
  memMaxC: number;
}

export interface SimProfile {
  product: GpuProduct;
  name: string;
  architecture: string;
  memoryMiB: number;
  reservedMiB: number;
  powerLimitW: number;
  maxSmClockMHz: number;
  maxMemClockMHz: number;
  maxVideoClockMHz: number;
  /** SM clock with no context (the capture's idle H100 sat at 345 MHz). */
  idleClockMHz: number;
  /** Supported SM clocks are multiples of this step (15 MHz on every listed product). */
  clockStepMHz: number;
  power: PowerModel;
  thermal: ThermalParams;
  temps: TemperatureLimits;
  /** Memory temperature runs this much above the heatsink stage (uncalibrated: the trace has none). */
  memTempOverSinkC: number;
  pciDeviceId: string;
  pciSubSystemId: string;
  vbiosVersion: string;
}

/**
 * H100 temperature limits from the capture's nvidia-smi-q.xml, which reports them relative to
 * T.Limit: gpu_temp 35 C with gpu_temp_tlimit 53 C puts T.Limit at 88 °C; the shutdown
 * (−8 C), slowdown (−2 C) and max-operating (0 C) offsets are margins below T.Limit that the
 * reading must not fall under, i.e. 96, 90 and 88 °C. NVML maps the "slowdown" threshold to HW
 * slowdown and the max-operating one to SW slowdown below base clock (nvmlTemperatureThresholds_t).
 */
const H100_TLIMIT_C = 35 + 53;

function scaledThermal(powerLimitW: number, plateauC: number): ThermalParams {
  // Same split and time constants as the fitted H100, resistance chosen for the plateau at the cap.
  const h = H100_CALIBRATION.thermal;
  const total = (plateauC - h.ambientC) / powerLimitW;
  const dieShare = h.dieToSinkCPerW / (h.dieToSinkCPerW + h.sinkToAirCPerW);
  return { ...h, dieToSinkCPerW: total * dieShare, sinkToAirCPerW: total * (1 - dieShare) };
}

function estimatedPower(powerLimitW: number, idleW: number, contextW: number, minLimitW: number): PowerModel {
  // Assume a dense GEMM caps at ~75% of max clock, as the H100 does at 69% (1365/1980 MHz).
  const exponent = H100_CALIBRATION.power.clockExponent;
  return {
    idleW, contextW, refTempC: 37, leakageWPerC: (H100_CALIBRATION.power.leakageWPerC * powerLimitW) / GPU_PRODUCTS.h100.powerLimitW,
    fullLoadDynamicW: (powerLimitW - contextW * 1.3) / Math.pow(0.75, exponent), clockExponent: exponent, minLimitW,
  };
}

function identity(product: GpuProduct) {
  const p = GPU_PRODUCTS[product];
  return {
    product, name: p.smiName, memoryMiB: p.memoryMiB, powerLimitW: p.powerLimitW,
    maxSmClockMHz: p.maxSmClockMHz, maxMemClockMHz: p.maxMemClockMHz, clockStepMHz: 15,
  };
}

export const SIM_PROFILES: Record<GpuProduct, SimProfile> = {
  h100: {
    ...identity("h100"), architecture: "Hopper", reservedMiB: 480, maxVideoClockMHz: 1545, idleClockMHz: 345,
    // idleW: the capture read 71 W at 35 °C with no context; referred to 37 °C with the fitted leakage slope.
    power: { idleW: 72.3, minLimitW: 200, ...H100_CALIBRATION.power },
    thermal: { ...H100_CALIBRATION.thermal },
    temps: { maxOperatingC: H100_TLIMIT_C, slowdownC: H100_TLIMIT_C + 2, shutdownC: H100_TLIMIT_C + 8, recoverC: 60, memMaxC: 95 },
    memTempOverSinkC: 5, pciDeviceId: "233010DE", pciSubSystemId: "16C110DE", vbiosVersion: "96.00.DA.00.0C",
  },
  a100: {
    ...identity("a100"), architecture: "Ampere", reservedMiB: 591, maxVideoClockMHz: 1290, idleClockMHz: 210,
    power: estimatedPower(400, 60, 85, 100), thermal: scaledThermal(400, 66),
    temps: { maxOperatingC: 85, slowdownC: 89, shutdownC: 92, recoverC: 60, memMaxC: 95 },
    memTempOverSinkC: 5, pciDeviceId: "20B210DE", pciSubSystemId: "147F10DE", vbiosVersion: "92.00.36.00.02",
  },
  l40s: {
    ...identity("l40s"), architecture: "Ada Lovelace", reservedMiB: 1016, maxVideoClockMHz: 1965, idleClockMHz: 210,
    power: estimatedPower(350, 35, 80, 100), thermal: scaledThermal(350, 72),
    temps: { maxOperatingC: 87, slowdownC: 91, shutdownC: 94, recoverC: 60, memMaxC: 95 },
    memTempOverSinkC: 4, pciDeviceId: "26B910DE", pciSubSystemId: "185110DE", vbiosVersion: "95.02.66.00.02",
  },
  a10g: {
    ...identity("a10g"), architecture: "Ampere", reservedMiB: 544, maxVideoClockMHz: 1575, idleClockMHz: 210,
    power: estimatedPower(300, 25, 60, 100), thermal: scaledThermal(300, 70),
    temps: { maxOperatingC: 88, slowdownC: 95, shutdownC: 98, recoverC: 60, memMaxC: 95 },
    memTempOverSinkC: 4, pciDeviceId: "223710DE", pciSubSystemId: "152F10DE", vbiosVersion: "94.02.75.00.01",
  },
  l4: {
    ...identity("l4"), architecture: "Ada Lovelace", reservedMiB: 416, maxVideoClockMHz: 1770, idleClockMHz: 210,
    power: estimatedPower(72, 12, 26, 40), thermal: scaledThermal(72, 70),
    temps: { maxOperatingC: 87, slowdownC: 92, shutdownC: 95, recoverC: 60, memMaxC: 95 },
    memTempOverSinkC: 4, pciDeviceId: "27B810DE", pciSubSystemId: "16CA10DE", vbiosVersion: "95.04.29.00.06",
  },
};

/** The profile of a product, with optional overrides (the fitting script swaps thermal/power parameters). */
export function simProfile(product: GpuProduct, overrides: Partial<SimProfile> = {}): SimProfile {
  return { ...SIM_PROFILES[product], ...overrides };
}
