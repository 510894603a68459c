/**
 * Telemetry sources: the simulated node advanced in real time, or the real `nvidia-smi -q -x`.
 */
import type { SimNode } from "../gpu-sim/node";
import { readNodeState, writeNodeState } from "../gpu-sim/state";
import type { GpuSample, TelemetrySource } from "./sample";
import { parseNvidiaSmiXml } from "./smi-xml";

export interface SimSourceOptions {
  /** Monotonic seconds; the node advances by the time elapsed between reads. Default: process uptime. */
  nowS?: () => number;
  /** Writes the node's state here after each read, so `gpk sim nvidia-smi` in containers sees the same GPUs. */
  stateFile?: string;
  /** Longest step taken in one read, so a stalled process does not jump hours at once. Default 300 s. */
  maxStepS?: number;
}

export class SimSource implements TelemetrySource {
  readonly name = "sim" as const;
  private last: number;
  private readonly nowS: () => number;

  constructor(readonly node: SimNode, private readonly options: SimSourceOptions = {}) {
    this.nowS = options.nowS ?? (() => performance.now() / 1000);
    this.last = this.nowS();
  }

  /** Brings the model up to the current time (also called by the control endpoints before a change). */
  advance(): void {
    const now = this.nowS();
    const dt = Math.min(Math.max(0, now - this.last), this.options.maxStepS ?? 300);
    this.last = now;
    if (dt > 0) this.node.step(dt);
  }

  async read(): Promise<GpuSample[]> {
    this.advance();
    if (this.options.stateFile) writeNodeState(this.options.stateFile, this.node);
    return samplesOf(this.node);
  }
}

/**
 * A simulated node owned by another process (on kind: the device plugin, which steps it and
 * writes its state file); every read loads the latest state, so the exporter, the plugin's
 * health and containers' nvidia-smi all show the same GPUs.
 */
export class FollowedSimSource implements TelemetrySource {
  readonly name = "sim" as const;
  constructor(readonly stateFile: string) {}

  async read(): Promise<GpuSample[]> {
    return samplesOf(readNodeState(this.stateFile));
  }
}

function samplesOf(node: SimNode): GpuSample[] {
  return node.devices.map((d) => {
    const r = d.readings();
    return {
      gpu: r.index, uuid: r.uuid, pciBusId: r.pciBusId, device: `nvidia${r.index}`, modelName: r.name,
      gpuTempC: r.gpuTempC, memTempC: r.memTempC, powerW: r.powerW, powerLimitW: r.powerLimitW,
      utilGpu: r.utilizationGpu, utilMem: r.utilizationMemory, fbUsedMiB: r.fbUsedMiB, fbFreeMiB: r.fbFreeMiB,
      smClockMHz: r.smClockMHz, memClockMHz: r.memClockMHz, clockEventReasons: r.clockEventReasons,
      powerViolationUs: r.violationUs.powerCap, thermalViolationUs: r.violationUs.thermal,
      lastXid: r.lastXid, energyMJ: r.energyMJ,
    };
  });
}

export interface NvidiaSmiSourceOptions {
  /** Executable to run. Default "nvidia-smi" from PATH. */
  binary?: string;
  /** Kill the tool after this long. Default 10 s. */
  timeoutMs?: number;
}

export class NvidiaSmiSource implements TelemetrySource {
  readonly name = "nvidia-smi" as const;
  constructor(private readonly options: NvidiaSmiSourceOptions = {}) {}

  async read(): Promise<GpuSample[]> {
    const { execa } = await import("execa");
    const binary = this.options.binary ?? "nvidia-smi";
    const result = await execa(binary, ["-q", "-x"], { timeout: this.options.timeoutMs ?? 10_000, reject: false });
    if (result.failed) {
      const why = result.timedOut ? `timed out after ${this.options.timeoutMs ?? 10_000} ms`
        : result.exitCode !== undefined ? `exit code ${result.exitCode}` : (result.originalMessage ?? result.shortMessage);
      const detail = String(result.stdout || result.stderr || "").trim().split("\n")[0] ?? "";
      throw new Error(`${binary} -q -x failed: ${why}${detail ? `: ${detail}` : ""}`);
    }
    return parseNvidiaSmiXml(String(result.stdout));
  }
}
