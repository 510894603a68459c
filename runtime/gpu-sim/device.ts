/**
 * One simulated GPU: workload in, NVML-style readings out, time advanced explicitly by `step`.
 *
 * Per sub-step the controller picks the SM clock as the lowest of: the requested clock (max, or
 * the idle clock with no context), the power-cap clock (the highest clock whose power fits under
 * the limit at the current die temperature), the SW thermal controller's clock (an integral
 * controller that holds the die at the max operating temperature) and HW thermal slowdown
 * (half clock above the slowdown temperature). A reason bit is set when its limit is the one
 * that binds. Power heats the two-stage RC network (thermal.ts); leakage makes power rise with
 * temperature, which is why the measured H100's capped clock sags as it warms.
 */
import { APPLICATION_XIDS, ClockEventReason as R } from "./reasons";
import type { SimProfile } from "./profiles";
import { steadyState, stepThermal, type ThermalState } from "./thermal";

export interface Workload {
  /** Share of time a kernel ran, 0–100 (what NVML reports as utilization.gpu). */
  utilization: number;
  /** Memory-controller busy share, 0–100; defaults to a third of `utilization` (dense GEMM, as measured). */
  memoryUtilization?: number;
  /** Framebuffer used by processes, MiB. */
  fbUsedMiB?: number;
  /** Power per unit utilization relative to the calibration GEMM (1); memory-bound work is lower. */
  intensity?: number;
  /** Whether a CUDA context is open; defaults to true when anything runs or holds memory. */
  context?: boolean;
}

export interface DeviceIdentity {
  index: number;
  uuid: string;
  pciBusId: string;
  numaNode: number;
  serial: string;
}

export type Health = "Healthy" | "Unhealthy";

/** Everything the dynamic model carries between steps; serializable for state files. */
export interface DeviceDynamics {
  timeS: number;
  thermal: ThermalState;
  thermalCapMHz: number;
  hwSlowdownLatched: boolean;
  shutdown: boolean;
  smClockMHz: number;
  reasons: number;
  powerW: number;
  /** Recent (duration, watts) segments covering the last second, for the averaged reading. */
  powerWindow: [number, number][];
  energyMJ: number;
  /** Time (µs) each limit held the clock down; `thermal` is any thermal reason (DCGM_FI_DEV_THERMAL_VIOLATION). */
  violationUs: { powerCap: number; swThermal: number; hwThermal: number; hwSlowdown: number; thermal: number };
  lastXid: number;
  xidCount: number;
  xidUnhealthy: boolean;
}

export interface DeviceSettings {
  powerLimitW: number;
  /** Fraction of nominal airflow, (0, 1]; lower raises heatsink-to-air resistance (cooling failure). */
  airflow: number;
  ambientC: number;
}

const POWER_AVERAGE_WINDOW_S = 1; // NVML's averaged power.draw covers the last second.
const MAX_SUBSTEP_S = 0.1;
// Integral gain of the SW thermal loop; the die answers a clock change within ~0.15 s, so the loop can be fast.
const SW_THERMAL_GAIN_MHZ_PER_C_S = 200;

export class SimGpu {
  readonly profile: SimProfile;
  readonly id: DeviceIdentity;
  readonly settings: DeviceSettings;
  workload: Required<Workload> = { utilization: 0, memoryUtilization: 0, fbUsedMiB: 0, intensity: 1, context: false };
  state: DeviceDynamics;
  /** Called with the new health whenever it changes (the node turns this into events). */
  onHealthChange?: (health: Health, reason: string) => void;

  constructor(profile: SimProfile, id: DeviceIdentity, settings: Partial<DeviceSettings> = {}, dynamics?: DeviceDynamics) {
    this.profile = profile;
    this.id = id;
    this.settings = {
      powerLimitW: settings.powerLimitW ?? profile.powerLimitW,
      airflow: settings.airflow ?? 1,
      ambientC: settings.ambientC ?? profile.thermal.ambientC,
    };
    this.state = dynamics ?? this.settledIdleState();
  }

  /** Starts at the idle steady state (no context), the way a GPU sits after boot. */
  private settledIdleState(): DeviceDynamics {
    let thermal = steadyState(this.thermalParams(), this.profile.power.idleW, this.settings.airflow);
    for (let i = 0; i < 20; i++) {
      thermal = steadyState(this.thermalParams(), this.staticPowerW(false, thermal.dieC), this.settings.airflow);
    }
    const powerW = this.staticPowerW(false, thermal.dieC);
    return {
      timeS: 0, thermal, thermalCapMHz: this.profile.maxSmClockMHz, hwSlowdownLatched: false, shutdown: false,
      smClockMHz: this.profile.idleClockMHz, reasons: R.GpuIdle, powerW, powerWindow: [[POWER_AVERAGE_WINDOW_S, powerW]],
      energyMJ: 0, violationUs: { powerCap: 0, swThermal: 0, hwThermal: 0, hwSlowdown: 0, thermal: 0 },
      lastXid: 0, xidCount: 0, xidUnhealthy: false,
    };
  }

  setWorkload(workload: Workload): void {
    const clamp = (v: number) => Math.min(100, Math.max(0, v));
    const utilization = clamp(workload.utilization);
    const fbUsedMiB = Math.min(Math.max(0, workload.fbUsedMiB ?? 0), this.profile.memoryMiB - this.profile.reservedMiB);
    this.workload = {
      utilization,
      memoryUtilization: clamp(workload.memoryUtilization ?? utilization / 3),
      fbUsedMiB,
      intensity: Math.max(0, workload.intensity ?? 1),
      context: workload.context ?? (utilization > 0 || fbUsedMiB > 0),
    };
  }

  /** Cooling-failure knob: airflow as a fraction of nominal (1 = healthy fans), and inlet temperature. */
  setCooling({ airflow, ambientC }: { airflow?: number; ambientC?: number }): void {
    if (airflow !== undefined) {
      if (!(airflow > 0 && airflow <= 1)) throw new RangeError(`airflow must be in (0, 1], got ${airflow}`);
      this.settings.airflow = airflow;
    }
    if (ambientC !== undefined) this.settings.ambientC = ambientC;
  }

  setPowerLimit(watts: number): void {
    const { minLimitW } = this.profile.power;
    if (!(watts >= minLimitW && watts <= this.profile.powerLimitW)) {
      throw new RangeError(`power limit must be between ${minLimitW} and ${this.profile.powerLimitW} W, got ${watts}`);
    }
    this.settings.powerLimitW = watts;
  }

  /** Records an XID event; device faults (not application XIDs) make the GPU unhealthy until `resetXid`. */
  injectXid(xid: number): void {
    this.state.lastXid = xid;
    this.state.xidCount += 1;
    if (!APPLICATION_XIDS.includes(xid)) {
      const before = this.health;
      this.state.xidUnhealthy = true;
      this.notifyHealth(before, `XID ${xid}`);
    }
  }

  /** A GPU reset: clears the XID fault (the last XID value stays, as DCGM's does). */
  resetXid(): void {
    const before = this.health;
    this.state.xidUnhealthy = false;
    this.notifyHealth(before, "reset");
  }

  get health(): Health {
    return this.state.shutdown || this.state.xidUnhealthy ? "Unhealthy" : "Healthy";
  }

  /** Advances simulated time by `dtS` seconds. */
  step(dtS: number): void {
    if (!(dtS >= 0) || !Number.isFinite(dtS)) throw new RangeError(`step needs a finite dt >= 0, got ${dtS}`);
    let left = dtS;
    while (left > 1e-12) {
      const h = Math.min(MAX_SUBSTEP_S, left);
      this.substep(h);
      left -= h;
    }
  }

  private thermalParams() {
    return { ...this.profile.thermal, ambientC: this.settings.ambientC };
  }

  private staticPowerW(context: boolean, dieC: number): number {
    const p = this.profile.power;
    return (context ? p.contextW : p.idleW) + p.leakageWPerC * (dieC - p.refTempC);
  }

  private dynamicPowerW(clockMHz: number): number {
    const p = this.profile.power;
    const { utilization, intensity } = this.workload;
    return (utilization / 100) * intensity * p.fullLoadDynamicW * Math.pow(clockMHz / this.profile.maxSmClockMHz, p.clockExponent);
  }

  private clampClock(clockMHz: number): number {
    return Math.min(this.profile.maxSmClockMHz, Math.max(this.profile.idleClockMHz, clockMHz));
  }

  /**
   * The supported clock nearest the controller's. The controller itself runs continuous: a real
   * one alternates between neighbouring 15 MHz clocks to average right at the power limit, which
   * the measured trace shows (clock jitter of ±45 MHz around a 697–700 W draw).
   */
  private reportedClock(clockMHz: number): number {
    const step = this.profile.clockStepMHz;
    return clockMHz <= 0 ? 0 : this.clampClock(Math.round(clockMHz / step) * step);
  }

  private substep(h: number): void {
    const s = this.state;
    const prof = this.profile;
    const dieC = s.thermal.dieC;
    const wasHealthy = this.health;

    if (s.shutdown && dieC <= prof.temps.recoverC) s.shutdown = false;
    if (!s.shutdown && dieC >= prof.temps.shutdownC) s.shutdown = true;

    let clock = 0;
    let reasons: number = R.None;
    let powerW = 0;
    if (!s.shutdown) {
      const context = this.workload.context;
      const requested = context ? prof.maxSmClockMHz : prof.idleClockMHz;
      const staticW = this.staticPowerW(context, dieC);
      // Power cap: the highest clock whose power fits under the limit.
      let powerCapClock = requested;
      if (staticW + this.dynamicPowerW(requested) > this.settings.powerLimitW) {
        const headroom = Math.max(0, this.settings.powerLimitW - staticW);
        const full = this.dynamicPowerW(prof.maxSmClockMHz);
        powerCapClock = this.clampClock(prof.maxSmClockMHz * Math.pow(headroom / full, 1 / prof.power.clockExponent));
      }
      // SW thermal slowdown: integral controller on the die temperature.
      s.thermalCapMHz += -SW_THERMAL_GAIN_MHZ_PER_C_S * (dieC - prof.temps.maxOperatingC) * h;
      s.thermalCapMHz = Math.min(prof.maxSmClockMHz, Math.max(prof.idleClockMHz, s.thermalCapMHz));
      const swThermalClock = s.thermalCapMHz;
      // HW thermal slowdown: clock cut by half, latched with 2 °C hysteresis.
      if (dieC >= prof.temps.slowdownC) s.hwSlowdownLatched = true;
      else if (dieC < prof.temps.slowdownC - 2) s.hwSlowdownLatched = false;

      clock = Math.min(requested, powerCapClock, swThermalClock);
      if (s.hwSlowdownLatched) clock = this.clampClock(clock / 2);
      if (!context) reasons |= R.GpuIdle;
      if (powerCapClock < requested && powerCapClock <= clock) reasons |= R.SwPowerCap;
      if (swThermalClock < requested && swThermalClock <= Math.min(powerCapClock, requested)) reasons |= R.SwThermalSlowdown;
      if (s.hwSlowdownLatched) reasons |= R.HwSlowdown | R.HwThermalSlowdown;
      powerW = staticW + (context ? this.dynamicPowerW(clock) : 0);
    }

    s.thermal = stepThermal(this.thermalParams(), s.thermal, powerW, h, this.settings.airflow);
    s.timeS += h;
    s.smClockMHz = this.reportedClock(clock);
    s.reasons = reasons;
    s.powerW = powerW;
    s.energyMJ += powerW * h * 1000;
    const us = h * 1e6;
    if (reasons & R.SwPowerCap) s.violationUs.powerCap += us;
    if (reasons & R.SwThermalSlowdown) s.violationUs.swThermal += us;
    if (reasons & R.HwThermalSlowdown) s.violationUs.hwThermal += us;
    if (reasons & R.HwSlowdown) s.violationUs.hwSlowdown += us;
    if (reasons & (R.SwThermalSlowdown | R.HwThermalSlowdown)) s.violationUs.thermal += us;
    this.pushPower(h, powerW);
    this.notifyHealth(wasHealthy, s.shutdown ? "thermal shutdown" : "cooled down");
  }

  private pushPower(h: number, watts: number): void {
    const w = this.state.powerWindow;
    w.push([h, watts]);
    let covered = w.reduce((sum, [d]) => sum + d, 0);
    while (w.length > 1 && covered - w[0]![0] >= POWER_AVERAGE_WINDOW_S - 1e-9) covered -= w.shift()![0];
    if (covered > POWER_AVERAGE_WINDOW_S) w[0]![0] -= covered - POWER_AVERAGE_WINDOW_S;
  }

  private notifyHealth(before: Health, reason: string): void {
    const after = this.health;
    if (after !== before) this.onHealthChange?.(after, reason);
  }

  /** Power averaged over the last second, as nvidia-smi's power.draw / DCGM_FI_DEV_POWER_USAGE report it. */
  get averagePowerW(): number {
    const w = this.state.powerWindow;
    const total = w.reduce((sum, [d]) => sum + d, 0);
    return total > 0 ? w.reduce((sum, [d, p]) => sum + d * p, 0) / total : this.state.powerW;
  }

  /** The readings tools see; temperatures are whole degrees, as NVML reports them. */
  readings(): GpuReadings {
    const s = this.state;
    const prof = this.profile;
    const off = s.shutdown;
    const fbUsed = Math.round(this.workload.fbUsedMiB);
    return {
      ...this.id,
      name: prof.name,
      product: prof.product,
      gpuTempC: Math.round(s.thermal.dieC),
      memTempC: Math.round(s.thermal.sinkC + prof.memTempOverSinkC),
      dieTempC: s.thermal.dieC,
      powerW: this.averagePowerW,
      instantPowerW: s.powerW,
      powerLimitW: this.settings.powerLimitW,
      utilizationGpu: off ? 0 : Math.round(this.workload.utilization),
      utilizationMemory: off ? 0 : Math.round(this.workload.memoryUtilization),
      fbTotalMiB: prof.memoryMiB,
      fbReservedMiB: prof.reservedMiB,
      fbUsedMiB: fbUsed,
      fbFreeMiB: prof.memoryMiB - prof.reservedMiB - fbUsed,
      smClockMHz: s.smClockMHz,
      memClockMHz: off ? 0 : prof.maxMemClockMHz,
      // Video clock tracks the SM clock at the max-clock ratio (H100: 1545/1980); idle parks it at 765 MHz as captured.
      videoClockMHz: off ? 0 : s.reasons & R.GpuIdle ? 765 : Math.round((s.smClockMHz * prof.maxVideoClockMHz) / prof.maxSmClockMHz / 15) * 15,
      clockEventReasons: s.reasons,
      violationUs: { ...s.violationUs },
      energyMJ: s.energyMJ,
      lastXid: s.lastXid,
      health: this.health,
      shutdown: off,
      airflow: this.settings.airflow,
    };
  }
}

export interface GpuReadings extends DeviceIdentity {
  name: string;
  product: SimProfile["product"];
  gpuTempC: number;
  memTempC: number;
  /** Unrounded die temperature, for fitting and tests. */
  dieTempC: number;
  powerW: number;
  instantPowerW: number;
  powerLimitW: number;
  utilizationGpu: number;
  utilizationMemory: number;
  fbTotalMiB: number;
  fbReservedMiB: number;
  fbUsedMiB: number;
  fbFreeMiB: number;
  smClockMHz: number;
  memClockMHz: number;
  videoClockMHz: number;
  clockEventReasons: number;
  violationUs: DeviceDynamics["violationUs"];
  energyMJ: number;
  lastXid: number;
  health: Health;
  shutdown: boolean;
  airflow: number;
}
