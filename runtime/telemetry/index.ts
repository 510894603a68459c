/** The telemetry package's public surface. */
export { parseDcgmMetrics, type GpuTelemetry } from "./parse";
export { startExporter, type ExporterOptions, type RunningExporter } from "./server";
export { SimSource, FollowedSimSource, NvidiaSmiSource } from "./sources";
export { parseNvidiaSmiXml, SmiXmlError } from "./smi-xml";
export { DcgmMetrics, DCGM_LABELS } from "./metrics";
export type { GpuSample, TelemetrySource } from "./sample";
