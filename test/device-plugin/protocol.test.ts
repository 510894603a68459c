/**
 * Protocol tests: the test plays kubelet over real unix sockets in a temp directory — a
 * Registration server on kubelet.sock, and a DevicePlugin client on the plugin's socket.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { GPU_RESOURCE } from "../../gpu";
import { SIM_CONTAINER_DIR } from "../../runtime/device-plugin/container-spec";
import type {
  AllocateResponse,
  DevicePluginOptions,
  PreferredAllocationResponse,
} from "../../runtime/device-plugin/proto";
import { deviceIdentities } from "../../runtime/gpu-sim";
import { InMemoryGpus } from "../../runtime/device-plugin/resource-manager";
import { DevicePluginServer, type DevicePluginServerOptions } from "../../runtime/device-plugin/server";
import { dialPlugin, startKubelet, tempPluginDir, waitFor, type KubeletPeer } from "./kubelet-peer";

const GPUS = deviceIdentities("node-a", 8, 2); // GPUs 0-3 on NUMA 0, 4-7 on NUMA 1
const uuid = (i: number) => GPUS[i].uuid;

let dir: string;
let kubelet: KubeletPeer;
let plugin: DevicePluginServer | undefined;
let gpus: InMemoryGpus;
const cleanups: (() => unknown)[] = [];

beforeEach(async () => {
  dir = tempPluginDir();
  kubelet = await startKubelet(dir);
  gpus = new InMemoryGpus(GPUS);
});

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await plugin?.stop();
  plugin = undefined;
  await kubelet.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function startPlugin(extra: Partial<DevicePluginServerOptions> = {}) {
  plugin = new DevicePluginServer({ resources: gpus, pluginDir: dir, pollIntervalMs: 50, ...extra });
  await plugin.start();
  const client = dialPlugin(plugin.socketPath);
  cleanups.push(() => client.close());
  return client;
}

describe("registration", () => {
  it("registers nvidia.com/gpu with kubelet as v1beta1 on its own socket", async () => {
    await startPlugin();
    await waitFor(() => kubelet.registrations.length === 1, "Register");
    expect(kubelet.registrations[0]).toEqual({
      version: "v1beta1",
      endpoint: "gpk-nvidia-gpu.sock",
      resource_name: GPU_RESOURCE,
      options: { pre_start_required: false, get_preferred_allocation_available: true },
    });
    expect(fs.statSync(path.join(dir, "gpk-nvidia-gpu.sock")).isSocket()).toBe(true);
  });

  it("registers again when kubelet restarts (kubelet.sock and the plugin socket recreated)", async () => {
    const first = await startPlugin();
    await waitFor(() => kubelet.registrations.length === 1, "first Register");
    // kubelet restart: it goes away, wipes the directory, and comes back with a new socket.
    await kubelet.close();
    fs.rmSync(path.join(dir, "kubelet.sock"), { force: true });
    fs.rmSync(plugin!.socketPath);
    first.close();
    kubelet = await startKubelet(dir);
    await waitFor(() => kubelet.registrations.length === 1, "Register with the new kubelet");
    expect(kubelet.registrations[0].endpoint).toBe("gpk-nvidia-gpu.sock");
    // And the plugin serves again on a fresh socket.
    const client = dialPlugin(plugin!.socketPath);
    cleanups.push(() => client.close());
    const options = await client.unary<object, DevicePluginOptions>("GetDevicePluginOptions")({});
    expect(options.get_preferred_allocation_available).toBe(true);
  });

  it("registers again when only kubelet.sock is recreated", async () => {
    await startPlugin();
    await waitFor(() => kubelet.registrations.length === 1, "first Register");
    const old = kubelet;
    await old.close();
    fs.rmSync(path.join(dir, "kubelet.sock"), { force: true });
    kubelet = await startKubelet(dir);
    await waitFor(() => kubelet.registrations.length === 1, "second Register");
    expect(old.registrations).toHaveLength(1);
  });

  it("waits for kubelet when started first", async () => {
    await kubelet.close();
    fs.rmSync(path.join(dir, "kubelet.sock"), { force: true });
    await startPlugin();
    kubelet = await startKubelet(dir);
    await waitFor(() => kubelet.registrations.length === 1, "Register after kubelet appears");
  });
});

describe("DevicePlugin service", () => {
  it("GetDevicePluginOptions offers GetPreferredAllocation and no PreStartContainer", async () => {
    const client = await startPlugin();
    const options = await client.unary<object, DevicePluginOptions>("GetDevicePluginOptions")({});
    expect(options).toEqual({ pre_start_required: false, get_preferred_allocation_available: true });
  });

  it("ListAndWatch sends the devices with NUMA topology, then the full list on each health change", async () => {
    const client = await startPlugin();
    const watch = client.watch();
    cleanups.push(() => watch.cancel());
    await waitFor(() => watch.responses.length === 1, "initial list");
    expect(watch.responses[0].devices).toEqual(
      GPUS.map((g) => ({ ID: g.uuid, health: "Healthy", topology: { nodes: [{ ID: g.numaNode }] } })),
    );
    expect(watch.responses[0].devices.map((d) => d.topology!.nodes[0].ID)).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);

    gpus.setHealth(uuid(5), false);
    await waitFor(() => watch.responses.length === 2, "Unhealthy update");
    const down = watch.responses[1].devices;
    expect(down).toHaveLength(8);
    expect(down.filter((d) => d.health === "Unhealthy").map((d) => d.ID)).toEqual([uuid(5)]);

    gpus.setHealth(uuid(5), true);
    await waitFor(() => watch.responses.length === 3, "Healthy again");
    expect(watch.responses[2].devices.every((d) => d.health === "Healthy")).toBe(true);
  });

  it("keeps serving the other watchers when one ListAndWatch stream is cancelled", async () => {
    const client = await startPlugin();
    const gone = client.watch();
    const stays = client.watch();
    cleanups.push(() => stays.cancel());
    await waitFor(() => gone.responses.length === 1 && stays.responses.length === 1, "both initial lists");
    gone.cancel();
    gpus.setHealth(uuid(0), false);
    await waitFor(() => stays.responses.length === 2, "update on the remaining stream");
    expect(stays.responses[1].devices[0]).toMatchObject({ ID: uuid(0), health: "Unhealthy" });
    expect(gone.responses).toHaveLength(1);
  });

  it("Allocate sets NVIDIA_VISIBLE_DEVICES to the UUIDs per container", async () => {
    const client = await startPlugin();
    const res = await client.unary<object, AllocateResponse>("Allocate")({
      container_requests: [{ devices_ids: [uuid(2), uuid(0)] }, { devices_ids: [uuid(7)] }],
    });
    expect(res.container_responses.map((c) => c.envs)).toEqual([
      { NVIDIA_VISIBLE_DEVICES: `${uuid(2)},${uuid(0)}` },
      { NVIDIA_VISIBLE_DEVICES: uuid(7) },
    ]);
    expect(res.container_responses[0].mounts).toEqual([]);
  });

  it("Allocate mounts the simulated nvidia-smi when a tools directory is configured", async () => {
    const client = await startPlugin({ containerTools: { toolsHostDir: "/var/lib/gpk/gpu-sim" } });
    const res = await client.unary<object, AllocateResponse>("Allocate")({ container_requests: [{ devices_ids: [uuid(1)] }] });
    const [container] = res.container_responses;
    expect(container.envs).toEqual({ NVIDIA_VISIBLE_DEVICES: uuid(1), GPK_SIM_STATE: "/run/gpk/gpu-sim/state.json" });
    expect(container.mounts).toEqual([
      { container_path: SIM_CONTAINER_DIR, host_path: "/var/lib/gpk/gpu-sim", read_only: true },
      { container_path: "/usr/bin/nvidia-smi", host_path: "/var/lib/gpk/gpu-sim/nvidia-smi", read_only: true },
    ]);
  });

  it("Allocate rejects an unknown device ID with INVALID_ARGUMENT naming it", async () => {
    const client = await startPlugin();
    const err = await client
      .unary<object, AllocateResponse>("Allocate")({ container_requests: [{ devices_ids: [uuid(0), "GPU-nope"] }] })
      .then(() => undefined, (e: grpc.ServiceError) => e);
    expect(err?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err?.details).toBe("devices_ids: unknown device IDs GPU-nope");
  });

  it("GetPreferredAllocation does not take kubelet's first two when they straddle NUMA nodes", async () => {
    const client = await startPlugin();
    // Two free on each node, listed alternating: kubelet's order would pair GPU 5 with GPU 1.
    const res = await client.unary<object, PreferredAllocationResponse>("GetPreferredAllocation")({
      container_requests: [
        { available_deviceIDs: [uuid(5), uuid(1), uuid(6), uuid(2)], must_include_deviceIDs: [], allocation_size: 2 },
      ],
    });
    expect(res.container_responses[0].deviceIDs).toEqual([uuid(1), uuid(2)]);
  });

  it("GetPreferredAllocation keeps a 2-GPU request on one NUMA node", async () => {
    const client = await startPlugin();
    // Free: 0, 2 (NUMA 0) and 4, 6, 7 (NUMA 1) — scattered; a naive first-two pick would be 0 and 2
    // only by luck of order, so list them interleaved across nodes.
    const res = await client.unary<object, PreferredAllocationResponse>("GetPreferredAllocation")({
      container_requests: [
        { available_deviceIDs: [uuid(4), uuid(0), uuid(7), uuid(2), uuid(6)], must_include_deviceIDs: [], allocation_size: 2 },
        { available_deviceIDs: [uuid(1), uuid(4), uuid(5), uuid(6)], must_include_deviceIDs: [uuid(1)], allocation_size: 3 },
      ],
    });
    // Best fit: NUMA 0 has exactly two free, so the pair goes there and NUMA 1 keeps its three.
    expect(res.container_responses[0].deviceIDs).toEqual([uuid(0), uuid(2)]);
    // must_include GPU 1 sits alone on NUMA 0: the other two come from one node (NUMA 1).
    expect(res.container_responses[1].deviceIDs).toEqual([uuid(1), uuid(4), uuid(5)]);
  });

  it("GetPreferredAllocation answers INVALID_ARGUMENT when must_include exceeds the size", async () => {
    const client = await startPlugin();
    const err = await client
      .unary<object, PreferredAllocationResponse>("GetPreferredAllocation")({
        container_requests: [{ available_deviceIDs: [uuid(0), uuid(1)], must_include_deviceIDs: [uuid(0), uuid(1)], allocation_size: 1 }],
      })
      .then(() => undefined, (e: grpc.ServiceError) => e);
    expect(err?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err?.details).toBe("must_include_deviceIDs has 2 devices, more than allocation_size 1");
  });

  it("GetPreferredAllocation honours a hint of GPUs chosen by the scheduler", async () => {
    const client = await startPlugin({ hints: async () => [uuid(6)] });
    const res = await client.unary<object, PreferredAllocationResponse>("GetPreferredAllocation")({
      container_requests: [{ available_deviceIDs: GPUS.map((g) => g.uuid), must_include_deviceIDs: [], allocation_size: 2 }],
    });
    expect(res.container_responses[0].deviceIDs).toEqual([uuid(6), uuid(4)]);
  });

  it("PreStartContainer answers with an empty response", async () => {
    const client = await startPlugin();
    const res = await client.unary<object, object>("PreStartContainer")({ devices_ids: [uuid(0)] });
    expect(res).toEqual({});
  });
});

describe("time-slicing", () => {
  it("advertises <uuid>::<i> replicas and Allocate maps them back to distinct UUIDs", async () => {
    const client = await startPlugin({ replicas: 4 });
    const watch = client.watch();
    cleanups.push(() => watch.cancel());
    await waitFor(() => watch.responses.length === 1, "initial list");
    const ids = watch.responses[0].devices.map((d) => d.ID);
    expect(ids).toHaveLength(32);
    expect(ids.slice(0, 5)).toEqual([`${uuid(0)}::0`, `${uuid(0)}::1`, `${uuid(0)}::2`, `${uuid(0)}::3`, `${uuid(1)}::0`]);
    expect(ids.every((id) => id.length <= 63)).toBe(true);

    const res = await client.unary<object, AllocateResponse>("Allocate")({
      container_requests: [{ devices_ids: [`${uuid(3)}::1`, `${uuid(3)}::2`, `${uuid(0)}::0`] }],
    });
    expect(res.container_responses[0].envs.NVIDIA_VISIBLE_DEVICES).toBe(`${uuid(3)},${uuid(0)}`);

    // A health change marks every replica of that GPU.
    gpus.setHealth(uuid(1), false);
    await waitFor(() => watch.responses.length === 2, "Unhealthy update");
    const unhealthy = watch.responses[1].devices.filter((d) => d.health === "Unhealthy").map((d) => d.ID);
    expect(unhealthy).toEqual([0, 1, 2, 3].map((i) => `${uuid(1)}::${i}`));
  });

  it("GetPreferredAllocation spreads replicas over distinct GPUs of one NUMA node", async () => {
    const client = await startPlugin({ replicas: 2 });
    const available = [`${uuid(0)}::0`, `${uuid(0)}::1`, `${uuid(1)}::1`, `${uuid(5)}::0`, `${uuid(5)}::1`, `${uuid(6)}::0`];
    const res = await client.unary<object, PreferredAllocationResponse>("GetPreferredAllocation")({
      container_requests: [{ available_deviceIDs: available, must_include_deviceIDs: [], allocation_size: 2 }],
    });
    // Both NUMA nodes have 3 free replicas; node 0 by ID. GPU 0 has two free (least loaded) so it
    // goes first, then GPU 1 rather than GPU 0's second replica.
    expect(res.container_responses[0].deviceIDs).toEqual([`${uuid(0)}::0`, `${uuid(1)}::1`]);
  });
});
