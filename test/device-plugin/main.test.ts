/**
 * The shipped artifact: runtime/device-plugin/main.ts bundled exactly as the kit ships it
 * (components/runtime-bundle.ts), run as `node device-plugin.js` against a kubelet played by
 * the test, then stopped with SIGTERM.
 */
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { CONFIGMAP_LIMIT_BYTES, bundleRuntime } from "../../components/runtime-bundle";
import { ConfigError, parseDevicePluginEnv } from "../../runtime/device-plugin/config";
import type { ListAndWatchResponse } from "../../runtime/device-plugin/proto";
import { readNodeState } from "../../runtime/gpu-sim";
import { dialPlugin, startKubelet, tempPluginDir, waitFor, type KubeletPeer } from "./kubelet-peer";

function bundle(): string {
  return bundleRuntime("device-plugin").code;
}

describe("environment", () => {
  it("defaults to 8 H100s without sharing, NUMA split left to gpu-sim", () => {
    expect(parseDevicePluginEnv({ GPK_NODE_NAME: "n1" })).toEqual({
      nodeName: "n1",
      product: "h100",
      count: 8,
      numaNodes: undefined,
      replicas: 1,
      pluginDir: "/var/lib/kubelet/device-plugins",
      socketName: "gpk-nvidia-gpu.sock",
      toolsDir: "",
      pollIntervalMs: 1000,
      tickMs: 1000,
      honourAssignments: false,
    });
  });

  it.each([
    [{ GPK_GPU_PRODUCT: "v100" }, 'GPK_GPU_PRODUCT: expected one of h100, a100, l40s, a10g, l4, got "v100"'],
    [{ GPK_GPU_COUNT: "0" }, 'GPK_GPU_COUNT: expected an integer between 1 and 64, got "0"'],
    [{ GPK_GPU_COUNT: "2", GPK_GPU_NUMA_NODES: "3" }, 'GPK_GPU_NUMA_NODES: expected an integer between 1 and 2, got "3"'],
    [{ GPK_TIME_SLICING_REPLICAS: "1.5" }, 'GPK_TIME_SLICING_REPLICAS: expected an integer between 1 and 64, got "1.5"'],
    [{ GPK_DEVICE_PLUGIN_SOCKET: "a/b.sock" }, 'GPK_DEVICE_PLUGIN_SOCKET: expected a file name, got "a/b.sock"'],
    [{ GPK_DEVICE_PLUGIN_ASSIGNMENTS: "yes" }, 'GPK_DEVICE_PLUGIN_ASSIGNMENTS: expected an integer between 0 and 1, got "yes"'],
    [{ GPK_GPU_PRODUCT: "l40s", GPK_GPU_MIG: "all-1g.10gb" }, "GPK_GPU_MIG: l40s GPUs have no MIG (MIG-capable: h100, a100)"],
    [{ GPK_GPU_MIG: "1g.10gb=8" }, "GPK_GPU_MIG: 8 × 1g.10gb does not fit on one h100 GPU (7 compute slices, 8 memory slices, placements per the MIG user guide)"],
    [{ GPK_GPU_MIG: "all-1g.10gb", GPK_GPU_MIG_STRATEGY: "none" }, 'GPK_GPU_MIG_STRATEGY: expected "mixed" or "single", got "none"'],
    [{ GPK_GPU_MIG: "3g.40gb=1,1g.10gb=4", GPK_GPU_MIG_STRATEGY: "single" }, 'GPK_GPU_MIG_STRATEGY: "single" needs one MIG profile on every GPU, got 1g.10gb + 3g.40gb'],
  ])("rejects %o naming the variable", (env, message) => {
    expect(() => parseDevicePluginEnv(env)).toThrow(new ConfigError(message));
  });
});

describe("bundled device plugin process", () => {
  let kubelet: KubeletPeer | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await kubelet?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Writes the bundle into a fresh plugin folder beside a kubelet peer and runs it with `env`, polling and ticking fast. */
  async function startBundle(env: Record<string, string>) {
    dir = tempPluginDir();
    const file = path.join(dir, "device-plugin.js");
    fs.writeFileSync(file, bundle());
    kubelet = await startKubelet(dir);
    const child = spawn(process.execPath, [file], {
      env: {
        PATH: process.env.PATH,
        GPK_DEVICE_PLUGIN_DIR: dir,
        GPK_DEVICE_PLUGIN_POLL_MS: "50",
        GPK_GPU_SIM_TOOLS_DIR: path.join(dir, "tools"),
        GPK_GPU_SIM_TICK_MS: "50",
        ...env,
      },
      stdio: ["ignore", "ignore", "pipe"],
    });
    // Returned as well as kept for afterEach, so a test reads them narrowed.
    return { child, dir, kubelet };
  }

  it("bundles into one file that fits a ConfigMap, registers, serves, and exits 0 on SIGTERM", async () => {
    expect(Buffer.byteLength(bundle())).toBeLessThan(CONFIGMAP_LIMIT_BYTES);
    const { child, dir, kubelet } = await startBundle({ GPK_NODE_NAME: "kind-worker", GPK_GPU_COUNT: "4", GPK_TIME_SLICING_REPLICAS: "2" });
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    try {
      await waitFor(() => kubelet!.registrations.length === 1, "Register from the bundled plugin", 10_000);
      expect(kubelet.registrations[0].resource_name).toBe("nvidia.com/gpu");

      const client = dialPlugin(path.join(dir, kubelet.registrations[0].endpoint));
      const responses: ListAndWatchResponse[] = [];
      const call = client.client.ListAndWatch({});
      call.on("data", (r: ListAndWatchResponse) => responses.push(r));
      call.on("error", () => {});
      await waitFor(() => responses.length === 1, "device list");
      const ids = responses[0].devices.map((d) => d.ID);
      expect(ids).toHaveLength(8);
      expect(ids[0]).toMatch(/^GPU-[0-9a-f-]{36}::0$/);
      expect(responses[0].devices.map((d) => d.topology!.nodes[0].ID)).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
      // The state file the simulated nvidia-smi reads describes the same GPUs, and time runs.
      const statePath = path.join(dir, "tools", "state.json");
      await waitFor(() => fs.existsSync(statePath) && readNodeState(statePath).timeS > 0, "state file with time advanced");
      const state = readNodeState(statePath);
      expect(state.hostname).toBe("kind-worker");
      expect(state.devices.map((d) => `${d.id.uuid}::0`)).toEqual(ids.filter((id) => id.endsWith("::0")));

      // The installed nvidia-smi, run the way a container runs it after Allocate.
      const uuids = state.devices.map((d) => d.id.uuid);
      const smi = (...args: string[]) =>
        execFileSync(path.join(dir!, "tools", "nvidia-smi"), args, {
          encoding: "utf8",
          env: {
            PATH: `${path.dirname(process.execPath)}:${process.env.PATH}`,
            GPK_SIM_STATE: statePath,
            NVIDIA_VISIBLE_DEVICES: `${uuids[2]},${uuids[0]}`,
          },
        });
      expect(smi("-L")).toBe(
        `GPU 0: NVIDIA H100 80GB HBM3 (UUID: ${uuids[2]})\nGPU 1: NVIDIA H100 80GB HBM3 (UUID: ${uuids[0]})\n`,
      );
      expect(smi("--query-gpu=uuid,name", "--format=csv,noheader")).toBe(
        `${uuids[2]}, NVIDIA H100 80GB HBM3\n${uuids[0]}, NVIDIA H100 80GB HBM3\n`,
      );
      client.close();
    } finally {
      child.kill("SIGTERM");
    }
    expect(await exited).toBe(0);
    expect(stderr).toContain("SIGTERM, shutting down");
    expect(fs.existsSync(path.join(dir, "gpk-nvidia-gpu.sock"))).toBe(false);
  });

  it("on a MIG node registers one resource per profile, lists the MIG devices, and a container sees its MIG device", async () => {
    const { child, dir, kubelet } = await startBundle({ GPK_NODE_NAME: "kind-mig", GPK_GPU_COUNT: "2", GPK_GPU_MIG: "3g.40gb=1,1g.10gb=4" });
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    try {
      await waitFor(() => kubelet!.registrations.length === 2, "one Register per MIG profile", 10_000);
      const byResource = new Map(kubelet.registrations.map((r) => [r.resource_name, r.endpoint]));
      expect([...byResource.keys()].sort()).toEqual(["nvidia.com/mig-1g.10gb", "nvidia.com/mig-3g.40gb"]);
      expect(byResource.get("nvidia.com/mig-1g.10gb")).toBe("gpk-nvidia-gpu-mig-1g.10gb.sock");
      const list = async (resource: string) => {
        const client = dialPlugin(path.join(dir!, byResource.get(resource)!));
        const watch = client.watch();
        await waitFor(() => watch.responses.length === 1, `${resource} device list`);
        watch.cancel();
        return { client, ids: watch.responses[0]!.devices.map((d) => d.ID) };
      };
      const small = await list("nvidia.com/mig-1g.10gb");
      const large = await list("nvidia.com/mig-3g.40gb");
      expect(small.ids).toHaveLength(8); // 2 GPUs × 4
      expect(large.ids).toHaveLength(2);
      for (const id of [...small.ids, ...large.ids]) expect(id).toMatch(/^MIG-[0-9a-f-]{36}$/);
      const res = await small.client.unary<object, { container_responses: { envs: Record<string, string> }[] }>("Allocate")({ container_requests: [{ devices_ids: [small.ids[5]] }] });
      const env = res.container_responses[0]!.envs;
      expect(env.NVIDIA_VISIBLE_DEVICES).toBe(small.ids[5]);
      const statePath = path.join(dir, "tools", "state.json");
      await waitFor(() => fs.existsSync(statePath), "state file");
      const listing = execFileSync(path.join(dir, "tools", "nvidia-smi"), ["-L"], {
        encoding: "utf8",
        env: { PATH: `${path.dirname(process.execPath)}:${process.env.PATH}`, GPK_SIM_STATE: statePath, NVIDIA_VISIBLE_DEVICES: env.NVIDIA_VISIBLE_DEVICES },
      }).split("\n");
      // The sixth 1g.10gb device is GPU 1's second (its 3g.40gb is device 0, then four 1g.10gb).
      expect(listing[0]).toMatch(/^GPU 0: NVIDIA H100 80GB HBM3 \(UUID: GPU-/);
      expect(listing[1]).toBe(`  MIG 1g.10gb     Device  2: (UUID: ${small.ids[5]})`);
      small.client.close();
      large.client.close();
    } finally {
      child.kill("SIGTERM");
    }
    expect(await exited).toBe(0);
  });

  it("exits 2 with the variable named on bad configuration", async () => {
    dir = tempPluginDir();
    const file = path.join(dir, "device-plugin.js");
    fs.writeFileSync(file, bundle());
    const child = spawn(process.execPath, [file], { env: { GPK_GPU_COUNT: "lots" }, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
    expect(code).toBe(2);
    expect(stderr).toBe('device-plugin: GPK_GPU_COUNT: expected an integer between 1 and 64, got "lots"\n');
  });
});
