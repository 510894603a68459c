/**
 * Stack-policy helpers: the kit's component resources (whose registered outputs follow
 * components/summaries.ts) and Kubernetes objects, picked out of `args.resources`.
 */
import type { PolicyResource } from "@pulumi/policy";
import type {
  CheckpointStoreSummary, DevicePluginSummary, GpuPoolSummary, GpuTelemetrySummary, PlatformSummary, SchedulerExtenderSummary, ServingSummary, TenantSummary,
} from "../../components/summaries";
import type { Json } from "./k8s";

/** Type tokens of the kit's components (`gpk:index:<Name>`) and the summary each registers. */
export const COMPONENT_TYPES = {
  gpuNodeGroup: "gpk:index:GpuNodeGroup",
  tenant: "gpk:index:Tenant",
  devicePlugin: "gpk:index:NvidiaDevicePlugin",
  telemetry: "gpk:index:GpuTelemetry",
  schedulerExtender: "gpk:index:SchedulerExtender",
  platform: "gpk:index:Platform",
  checkpointStore: "gpk:index:CheckpointStore",
  serving: "gpk:index:VllmServing",
} as const;

interface Summaries {
  gpuNodeGroup: GpuPoolSummary;
  tenant: TenantSummary;
  devicePlugin: DevicePluginSummary;
  telemetry: GpuTelemetrySummary;
  schedulerExtender: SchedulerExtenderSummary;
  platform: PlatformSummary;
  checkpointStore: CheckpointStoreSummary;
  serving: ServingSummary;
}

export interface Found<T> {
  urn: string;
  name: string;
  type: string;
  props: T;
}

/** The component resources of one kind with their registered outputs. */
export function components<K extends keyof Summaries>(resources: PolicyResource[], kind: K): Found<Summaries[K]>[] {
  return resources
    .filter((r) => r.type === COMPONENT_TYPES[kind])
    .map((r) => ({ urn: r.urn, name: r.name, type: r.type, props: r.props as Summaries[K] }));
}

/** Resources of the given Pulumi types, as plain JSON props. */
export function ofTypes(resources: PolicyResource[], ...types: string[]): Found<Json>[] {
  return resources
    .filter((r) => types.includes(r.type))
    .map((r) => ({ urn: r.urn, name: r.name, type: r.type, props: r.props as Json }));
}

/** Tenant namespaces mapped to their tenant. */
export function tenantsByNamespace(resources: PolicyResource[]): Map<string, Found<TenantSummary>> {
  return new Map(components(resources, "tenant").map((t) => [t.props.namespace, t]));
}
