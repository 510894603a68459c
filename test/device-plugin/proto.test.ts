/**
 * The embedded api.proto must speak kubelet's wire format: every message, field name, field
 * number and type below is copied from upstream
 * kubernetes/kubernetes staging/src/k8s.io/kubelet/pkg/apis/deviceplugin/v1beta1/api.proto.
 */
import * as protobuf from "protobufjs";
import { describe, expect, it } from "vitest";
import { apiRoot, DevicePluginService, RegistrationService } from "../../runtime/device-plugin/proto";

const UPSTREAM: Record<string, Record<string, [number, string, "repeated" | "map" | "single"]>> = {
  DevicePluginOptions: { pre_start_required: [1, "bool", "single"], get_preferred_allocation_available: [2, "bool", "single"] },
  RegisterRequest: {
    version: [1, "string", "single"],
    endpoint: [2, "string", "single"],
    resource_name: [3, "string", "single"],
    options: [4, "DevicePluginOptions", "single"],
  },
  Empty: {},
  ListAndWatchResponse: { devices: [1, "Device", "repeated"] },
  TopologyInfo: { nodes: [1, "NUMANode", "repeated"] },
  NUMANode: { ID: [1, "int64", "single"] },
  Device: { ID: [1, "string", "single"], health: [2, "string", "single"], topology: [3, "TopologyInfo", "single"] },
  PreStartContainerRequest: { devices_ids: [1, "string", "repeated"] },
  PreStartContainerResponse: {},
  PreferredAllocationRequest: { container_requests: [1, "ContainerPreferredAllocationRequest", "repeated"] },
  ContainerPreferredAllocationRequest: {
    available_deviceIDs: [1, "string", "repeated"],
    must_include_deviceIDs: [2, "string", "repeated"],
    allocation_size: [3, "int32", "single"],
  },
  PreferredAllocationResponse: { container_responses: [1, "ContainerPreferredAllocationResponse", "repeated"] },
  ContainerPreferredAllocationResponse: { deviceIDs: [1, "string", "repeated"] },
  AllocateRequest: { container_requests: [1, "ContainerAllocateRequest", "repeated"] },
  ContainerAllocateRequest: { devices_ids: [1, "string", "repeated"] },
  CDIDevice: { name: [1, "string", "single"] },
  AllocateResponse: { container_responses: [1, "ContainerAllocateResponse", "repeated"] },
  ContainerAllocateResponse: {
    envs: [1, "string", "map"],
    mounts: [2, "Mount", "repeated"],
    devices: [3, "DeviceSpec", "repeated"],
    annotations: [4, "string", "map"],
    cdi_devices: [5, "CDIDevice", "repeated"],
  },
  Mount: { container_path: [1, "string", "single"], host_path: [2, "string", "single"], read_only: [3, "bool", "single"] },
  DeviceSpec: { container_path: [1, "string", "single"], host_path: [2, "string", "single"], permissions: [3, "string", "single"] },
};

describe("embedded api.proto", () => {
  const pkg = apiRoot.lookup("v1beta1") as protobuf.Namespace;

  it("declares exactly the upstream messages, with the upstream field names, numbers and types", () => {
    const messages = pkg.nestedArray.filter((n): n is protobuf.Type => n instanceof protobuf.Type);
    expect(messages.map((m) => m.name).sort()).toEqual(Object.keys(UPSTREAM).sort());
    for (const message of messages) {
      const fields = Object.fromEntries(
        message.fieldsArray.map((f) => [f.name, [f.id, f.type, f.map ? "map" : f.repeated ? "repeated" : "single"]]),
      );
      expect({ [message.name]: fields }).toEqual({ [message.name]: UPSTREAM[message.name] });
    }
  });

  it("declares the Registration and DevicePlugin services with the upstream RPCs", () => {
    const rpc = (def: Record<string, { path: string; requestStream: boolean; responseStream: boolean }>) =>
      Object.fromEntries(Object.entries(def).map(([k, v]) => [k, [v.path, v.requestStream, v.responseStream]]));
    expect(rpc(RegistrationService as never)).toEqual({ Register: ["/v1beta1.Registration/Register", false, false] });
    expect(rpc(DevicePluginService as never)).toEqual({
      GetDevicePluginOptions: ["/v1beta1.DevicePlugin/GetDevicePluginOptions", false, false],
      ListAndWatch: ["/v1beta1.DevicePlugin/ListAndWatch", false, true],
      GetPreferredAllocation: ["/v1beta1.DevicePlugin/GetPreferredAllocation", false, false],
      Allocate: ["/v1beta1.DevicePlugin/Allocate", false, false],
      PreStartContainer: ["/v1beta1.DevicePlugin/PreStartContainer", false, false],
    });
  });

  it("encodes a Device the way kubelet decodes it (field 1 ID, 2 health, 3 topology.nodes[].ID)", () => {
    const Device = apiRoot.lookupType("v1beta1.Device");
    const bytes = Device.encode(Device.fromObject({ ID: "GPU-1", health: "Healthy", topology: { nodes: [{ ID: 1 }] } })).finish();
    // tag(1,LEN) "GPU-1" · tag(2,LEN) "Healthy" · tag(3,LEN) { tag(1,LEN) { tag(1,VARINT) 1 } }
    expect(Buffer.from(bytes).toString("hex")).toBe(
      "0a" + "05" + Buffer.from("GPU-1").toString("hex") + "12" + "07" + Buffer.from("Healthy").toString("hex") + "1a040a020801",
    );
  });
});
