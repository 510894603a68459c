/** The simulated GPU package's public surface (the device plugin, telemetry and nvidia-smi import from here). */
export { SimGpu, type GpuReadings, type Health, type Workload, type DeviceIdentity } from "./device";
export { SimNode, simUuid, simPciBusId, deviceIdentities, type HealthEvent, type NodeSnapshot, type SimNodeOptions } from "./node";
export { SIM_PROFILES, simProfile, type SimProfile } from "./profiles";
export { ClockEventReason, APPLICATION_XIDS, formatReasonMask, hasReason } from "./reasons";
export { nodeFromEnv, nodeOptionsFromEnv, readNodeState, writeNodeState, parseProduct, SimConfigError } from "./state";
