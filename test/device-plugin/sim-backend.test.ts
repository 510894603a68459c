/**
 * The plugin on the GPU model it ships with: health changes produced by gpu-sim (a device-fault
 * XID and reset; a thermal shutdown and cool-down) reach a kubelet client on ListAndWatch.
 */
import * as fs from "node:fs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SimNodeGpus } from "../../runtime/device-plugin/sim-backend";
import { DevicePluginServer } from "../../runtime/device-plugin/server";
import { SimNode } from "../../runtime/gpu-sim";
import { dialPlugin, startKubelet, tempPluginDir, waitFor, type KubeletPeer } from "./kubelet-peer";

let dir: string;
let kubelet: KubeletPeer;
let node: SimNode;
let plugin: DevicePluginServer;
let client: ReturnType<typeof dialPlugin>;
let watch: ReturnType<ReturnType<typeof dialPlugin>["watch"]>;

beforeEach(async () => {
  dir = tempPluginDir();
  kubelet = await startKubelet(dir);
  node = new SimNode({ hostname: "kind-worker", count: 8, numaNodes: 2 });
  plugin = new DevicePluginServer({ resources: new SimNodeGpus(node), pluginDir: dir, pollIntervalMs: 50 });
  await plugin.start();
  client = dialPlugin(plugin.socketPath);
  watch = client.watch();
  await waitFor(() => watch.responses.length === 1, "initial list");
});

afterEach(async () => {
  watch.cancel();
  client.close();
  await plugin.stop();
  await kubelet.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const unhealthy = (i: number) => watch.responses[i].devices.filter((d) => d.health === "Unhealthy").map((d) => d.ID);

describe("gpu-sim backend", () => {
  it("advertises the model's UUIDs and NUMA nodes", () => {
    expect(watch.responses[0].devices).toEqual(
      node.devices.map((d) => ({ ID: d.id.uuid, health: "Healthy", topology: { nodes: [{ ID: d.id.numaNode }] } })),
    );
    expect(new Set(node.devices.map((d) => d.id.numaNode))).toEqual(new Set([0, 1]));
  });

  it("sends Unhealthy on a device-fault XID and Healthy after the reset", async () => {
    const gpu = node.device(3);
    gpu.injectXid(79); // fallen off the bus
    await waitFor(() => watch.responses.length === 2, "Unhealthy update");
    expect(unhealthy(1)).toEqual([gpu.id.uuid]);
    gpu.resetXid();
    await waitFor(() => watch.responses.length === 3, "Healthy update");
    expect(unhealthy(2)).toEqual([]);
  });

  it("sends Unhealthy on thermal shutdown and Healthy once the GPU has cooled", async () => {
    const gpu = node.device(6);
    // A cooling failure far beyond what the SW thermal controller can hold.
    gpu.setCooling({ airflow: 0.02, ambientC: 70 });
    gpu.setWorkload({ utilization: 100 });
    for (let t = 0; t < 3600 && gpu.health === "Healthy"; t++) node.step(1);
    expect(gpu.health).toBe("Unhealthy");
    await waitFor(() => watch.responses.length === 2, "Unhealthy update");
    expect(unhealthy(1)).toEqual([gpu.id.uuid]);

    gpu.setWorkload({ utilization: 0 });
    gpu.setCooling({ airflow: 1, ambientC: 25 });
    for (let t = 0; t < 3600 && gpu.health === "Unhealthy"; t++) node.step(1);
    await waitFor(() => watch.responses.length === 3, "Healthy update");
    expect(unhealthy(2)).toEqual([]);
  });
});
