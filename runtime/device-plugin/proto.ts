/**
 * The loaded v1beta1 device-plugin API: gRPC service definitions and client constructors,
 * plus TypeScript shapes of the messages. Field names keep the proto's spelling
 * (`keepCase`), so `available_deviceIDs` and `ID` read exactly as in api.proto.
 */
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import * as protobuf from "protobufjs";
import { DEVICE_PLUGIN_API_PROTO } from "./api-proto";

/** `version` a plugin sends in RegisterRequest (upstream constants.go: Version). */
export const API_VERSION = "v1beta1";
/** kubelet's registration socket, inside the device-plugins directory. */
export const KUBELET_SOCKET_NAME = "kubelet.sock";
/** Default device-plugins directory on a node (upstream constants.go: DevicePluginPath). */
export const DEFAULT_DEVICE_PLUGIN_DIR = "/var/lib/kubelet/device-plugins";
/** Device health strings (upstream constants.go: Healthy, Unhealthy). */
export const Health = { Healthy: "Healthy", Unhealthy: "Unhealthy" } as const;
export type Health = (typeof Health)[keyof typeof Health];

export interface Empty {}
export interface DevicePluginOptions {
  pre_start_required: boolean;
  get_preferred_allocation_available: boolean;
}
export interface RegisterRequest {
  version: string;
  endpoint: string;
  resource_name: string;
  options: DevicePluginOptions | null;
}
export interface NUMANode {
  ID: number;
}
export interface TopologyInfo {
  nodes: NUMANode[];
}
export interface Device {
  ID: string;
  health: string;
  topology: TopologyInfo | null;
}
export interface ListAndWatchResponse {
  devices: Device[];
}
export interface ContainerPreferredAllocationRequest {
  available_deviceIDs: string[];
  must_include_deviceIDs: string[];
  allocation_size: number;
}
export interface PreferredAllocationRequest {
  container_requests: ContainerPreferredAllocationRequest[];
}
export interface ContainerPreferredAllocationResponse {
  deviceIDs: string[];
}
export interface PreferredAllocationResponse {
  container_responses: ContainerPreferredAllocationResponse[];
}
export interface ContainerAllocateRequest {
  devices_ids: string[];
}
export interface AllocateRequest {
  container_requests: ContainerAllocateRequest[];
}
export interface Mount {
  container_path: string;
  host_path: string;
  read_only: boolean;
}
export interface DeviceSpec {
  container_path: string;
  host_path: string;
  permissions: string;
}
export interface CDIDevice {
  name: string;
}
export interface ContainerAllocateResponse {
  envs: Record<string, string>;
  mounts: Mount[];
  devices: DeviceSpec[];
  annotations: Record<string, string>;
  cdi_devices: CDIDevice[];
}
export interface AllocateResponse {
  container_responses: ContainerAllocateResponse[];
}
export interface PreStartContainerRequest {
  devices_ids: string[];
}
export interface PreStartContainerResponse {}

// Parsed from the embedded text rather than loadSync(file): the bundle has no .proto file.
const root = protobuf.parse(DEVICE_PLUGIN_API_PROTO, { keepCase: true }).root;
const packageDefinition = protoLoader.fromJSON(root.toJSON(), {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: true,
  arrays: true,
  objects: true,
});
const v1beta1 = (grpc.loadPackageDefinition(packageDefinition) as unknown as {
  v1beta1: {
    Registration: grpc.ServiceClientConstructor;
    DevicePlugin: grpc.ServiceClientConstructor;
  };
}).v1beta1;

export const RegistrationService: grpc.ServiceDefinition = v1beta1.Registration.service;
export const DevicePluginService: grpc.ServiceDefinition = v1beta1.DevicePlugin.service;
/** Client constructors; kubelet uses Registration, kubelet (and tests) use DevicePlugin. */
export const RegistrationClient = v1beta1.Registration;
export const DevicePluginClient = v1beta1.DevicePlugin;

/** The protobufjs reflection root, for tests that pin field numbers. */
export const apiRoot = root;

/** grpc-js address of a unix socket path. */
export function unixAddress(socketPath: string): string {
  return `unix:${socketPath}`;
}
