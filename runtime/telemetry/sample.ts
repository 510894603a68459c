/**
 * One GPU's telemetry as a source reports it, before it becomes DCGM-named metrics.
 * Optional fields are ones a source may not know (nvidia-smi's XML has no last XID or energy).
 */
export interface GpuSample {
  /** Index on the node (the DCGM `gpu` label). */
  gpu: number;
  uuid: string;
  pciBusId: string;
  /** `nvidia<minor>` (the DCGM `device` label). */
  device: string;
  modelName: string;
  gpuTempC: number;
  memTempC?: number;
  powerW: number;
  powerLimitW?: number;
  utilGpu: number;
  utilMem?: number;
  fbUsedMiB: number;
  fbFreeMiB: number;
  smClockMHz: number;
  memClockMHz: number;
  clockEventReasons: number;
  powerViolationUs: number;
  thermalViolationUs: number;
  lastXid?: number;
  energyMJ?: number;
}

/** Where samples come from: `read` resolves with every GPU on the node or rejects with a reason. */
export interface TelemetrySource {
  readonly name: "sim" | "nvidia-smi";
  read(): Promise<GpuSample[]>;
}
