/**
 * HAMi's profile pieces: the register annotation in HAMi v2.10.0's encoding, checked against
 * fixtures taken from HAMi's own tests and format docs; the extender stanza and the command
 * lines of the two processes.
 */
import { describe, expect, it } from "vitest";
import {
  HAMI_ANNOTATIONS,
  HAMI_HANDSHAKE_KEYS,
  HAMI_RESOURCES,
  HAMI_SCHEDULER_NAME,
  decodeHamiPodDevices,
  decodeHamiRegister,
  encodeHamiRegister,
  hamiDevices,
  hamiExtender,
  hamiHandshake,
  hamiKubeSchedulerConfiguration,
  hamiKubeSchedulerProcess,
  hamiNodeAnnotations,
  hamiRegisteredNodes,
  hamiSchedulerProcess,
} from "../../bench/hami";
import { GPU_PRODUCTS } from "../../gpu";
import { simUuid } from "../../runtime/gpu-sim/node";

// HAMi v2.10.0 pkg/scheduler/scheduler_test.go: the register annotation its filter tests give a
// node (written by hand there: zero values present, index and mode last).
const UPSTREAM_A100 = `[{"id":"GPU-0","count":10,"devmem":8192,"devcore":100,"type":"NVIDIA-A100","numa":0,"health":true,"index":0,"mode":"hami-core"}]`;
// HAMi v2.10.0 pkg/scheduler/register_race_test.go: keys in another order, and a devicevendor the decoder ignores.
const UPSTREAM_RACE = `[{"id":"GPU-0","count":10,"devmem":40960,"devcore":100,"type":"NVIDIA","health":true,"mode":"hami-core","numa":0,"index":0,"devicevendor":"NVIDIA"}]`;

describe("HAMi's register annotation", () => {
  it("reads HAMi's own fixtures as HAMi does", () => {
    expect(decodeHamiRegister(UPSTREAM_A100)).toEqual([{ id: "GPU-0", index: 0, count: 10, devmem: 8192, devcore: 100, type: "NVIDIA-A100", numa: 0, mode: "hami-core", health: true }]);
    expect(decodeHamiRegister(UPSTREAM_RACE)[0]).toMatchObject({ devmem: 40960, type: "NVIDIA", health: true });
  });

  it("writes what Go's encoder writes: struct order, zero values left out", () => {
    const [device] = decodeHamiRegister(UPSTREAM_A100);
    expect(encodeHamiRegister([device!])).toBe(`[{"id":"GPU-0","count":10,"devmem":8192,"devcore":100,"type":"NVIDIA-A100","mode":"hami-core","health":true}]`);
    expect(encodeHamiRegister([{ ...device!, index: 3, numa: 1, health: false }])).toBe(`[{"id":"GPU-0","index":3,"count":10,"devmem":8192,"devcore":100,"type":"NVIDIA-A100","numa":1,"mode":"hami-core"}]`);
  });

  it("gives 8 H100s of a node the plugin's values: NVML name, MiB, 100 cores, split 10, NUMA halves", () => {
    const annotations = hamiNodeAnnotations("bench-gpu-00001", 8);
    expect(Object.keys(annotations)).toEqual([HAMI_ANNOTATIONS.register]);
    const devices = decodeHamiRegister(annotations[HAMI_ANNOTATIONS.register]!);
    expect(devices).toHaveLength(8);
    expect(devices.map((d) => d.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(devices.map((d) => d.numa)).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
    expect(devices.map((d) => d.id)).toEqual(devices.map((_, i) => simUuid("bench-gpu-00001", i)));
    for (const d of devices) {
      expect(d).toMatchObject({ count: 10, devmem: GPU_PRODUCTS.h100.memoryMiB, devcore: 100, type: "NVIDIA H100 80GB HBM3", mode: "hami-core", health: true });
      expect(d.id).toMatch(/^GPU-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    }
    // Another node has other GPUs.
    expect(decodeHamiRegister(hamiNodeAnnotations("bench-gpu-00002", 8)[HAMI_ANNOTATIONS.register]!)[0]!.id).not.toBe(devices[0]!.id);
  });

  it("round-trips: what it writes decodes to the devices it was given", () => {
    const devices = hamiDevices("n", 4, "a100", { splitCount: 1, memoryScaling: 1.5, coreScaling: 2 });
    expect(decodeHamiRegister(encodeHamiRegister(devices))).toEqual(devices);
    expect(devices[0]).toMatchObject({ count: 1, devmem: Math.trunc(GPU_PRODUCTS.a100.memoryMiB * 1.5), devcore: 200, type: "NVIDIA A100-SXM4-80GB" });
  });

  it("prefixes NVIDIA- to a name that lacks it, as register.go does", () => {
    const named = hamiDevices("n", 1).map((d) => d.type);
    expect(named).toEqual(["NVIDIA H100 80GB HBM3"]);
  });

  it("refuses what HAMi refuses, naming the field", () => {
    expect(() => decodeHamiRegister("GPU-0,10,8192,100,NVIDIA-A100,0,true:")).toThrow(/^hami.io\/node-nvidia-register: not JSON/);
    expect(() => decodeHamiRegister("[]")).toThrow("hami.io/node-nvidia-register: no gpu found on node");
    expect(() => decodeHamiRegister("{}")).toThrow("expected a JSON array of devices");
    expect(() => decodeHamiRegister(`[{"id":"GPU-0","count":"10"}]`)).toThrow('hami.io/node-nvidia-register[0].count: expected a whole number in [-2147483648, 2147483647], got "10"');
    expect(() => decodeHamiRegister(`[{"id":"GPU-0","devmem":2147483648}]`)).toThrow(/\[0\]\.devmem/);
    expect(() => decodeHamiRegister(`[{"id":"GPU-0","index":-1}]`)).toThrow(/\[0\]\.index/);
    expect(() => decodeHamiRegister(`[{"id":"GPU-0","health":"true"}]`)).toThrow(/\[0\]\.health: expected true or false/);
    expect(() => hamiDevices("n", 0)).toThrow("gpus: expected a whole number of at least 1, got 0");
    expect(() => hamiDevices("n", 1, "h100", { splitCount: 0 })).toThrow(/^splitCount/);
  });

  it("matches keys case-insensitively, as Go's decoder does", () => {
    expect(decodeHamiRegister(`[{"ID":"GPU-9","Count":2,"Health":true}]`)[0]).toMatchObject({ id: "GPU-9", count: 2, health: true, devmem: 0 });
  });
});

describe("HAMi's handshakes and registration", () => {
  it("writes a handshake per vendor key as HAMi's scheduler does: Requesting_ and Go's DateTime in local time", () => {
    const at = new Date(2026, 0, 2, 3, 4, 5);
    expect(hamiHandshake(at)).toBe("Requesting_2026-01-02 03:04:05");
    const annotations = hamiNodeAnnotations("n", 8, "h100", { handshakeAt: at });
    expect(Object.keys(annotations).sort()).toEqual([HAMI_ANNOTATIONS.register, ...HAMI_HANDSHAKE_KEYS].sort());
    for (const key of HAMI_HANDSHAKE_KEYS) expect(annotations[key]).toBe("Requesting_2026-01-02 03:04:05");
    expect(HAMI_HANDSHAKE_KEYS).toContain(HAMI_ANNOTATIONS.handshake);
  });

  it("counts the nodes of HAMi's last registration pass from its metrics, one series per GPU", () => {
    const metrics = [
      "# HELP hami_gpu_memory_limit_bytes Device memory limit for a certain GPU",
      "# TYPE hami_gpu_memory_limit_bytes gauge",
      'hami_gpu_memory_limit_bytes{device_index="0",device_type="NVIDIA H100 80GB HBM3",device_uuid="GPU-a",node="bench-gpu-00000"} 8.5520809984e+10',
      'hami_gpu_memory_limit_bytes{device_index="1",device_type="NVIDIA H100 80GB HBM3",device_uuid="GPU-b",node="bench-gpu-00000"} 8.5520809984e+10',
      'hami_gpu_memory_limit_bytes{device_index="0",device_type="NVIDIA H100 80GB HBM3",device_uuid="GPU-c",node="bench-gpu-00001"} 8.5520809984e+10',
      'hami_gpu_core_limit_ratio{device_index="0",device_type="NVIDIA H100 80GB HBM3",device_uuid="GPU-d",node="bench-gpu-00002"} 100',
    ].join("\n");
    expect([...hamiRegisteredNodes(metrics)]).toEqual(["bench-gpu-00000", "bench-gpu-00001"]);
    expect(hamiRegisteredNodes("").size).toBe(0);
  });
});

describe("HAMi's pod decision annotation", () => {
  it("reads the two-container example of docs/develop/protocol.md", () => {
    const text = "GPU-0fc3eda5-e98b-a25b-5b0d-cf5c855d1448,NVIDIA,3000,0:;GPU-0fc3eda5-e98b-a25b-5b0d-cf5c855d1448,NVIDIA,5000,0:;";
    expect(decodeHamiPodDevices(text)).toEqual([
      [{ uuid: "GPU-0fc3eda5-e98b-a25b-5b0d-cf5c855d1448", type: "NVIDIA", usedmem: 3000, usedcores: 0 }],
      [{ uuid: "GPU-0fc3eda5-e98b-a25b-5b0d-cf5c855d1448", type: "NVIDIA", usedmem: 5000, usedcores: 0 }],
    ]);
  });

  it("keeps a container without devices in its place, and names a bad field", () => {
    expect(decodeHamiPodDevices(";GPU-a,NVIDIA,81559,100:GPU-b,NVIDIA,81559,100:;")).toEqual([[], [
      { uuid: "GPU-a", type: "NVIDIA", usedmem: 81559, usedcores: 100 },
      { uuid: "GPU-b", type: "NVIDIA", usedmem: 81559, usedcores: 100 },
    ]]);
    expect(() => decodeHamiPodDevices("GPU-a,NVIDIA,3000:;")).toThrow("hami.io/vgpu-devices-allocated: container 0: \"GPU-a,NVIDIA,3000\" has fewer than 4 fields");
    expect(() => decodeHamiPodDevices("GPU-a,NVIDIA,lots,0:;")).toThrow(/memory "lots" is not a whole number/);
  });
});

describe("HAMi's profile", () => {
  it("calls HAMi over loopback for filter and bind only, node names only, its resources its own", () => {
    const stanza = hamiExtender(18080);
    expect(stanza).toMatchObject({ urlPrefix: "http://127.0.0.1:18080", enableHTTPS: false, filterVerb: "filter", bindVerb: "bind", nodeCacheCapable: true, ignorable: false });
    expect(stanza).not.toHaveProperty("prioritizeVerb");
    expect(stanza.managedResources).toEqual(Object.values(HAMI_RESOURCES).map((name) => ({ name, ignoredByScheduler: true })));
    expect(stanza.managedResources.map((r) => r.name)).toContain("nvidia.com/gpu");
  });

  it("renders one profile named hami-scheduler with the client limits given", () => {
    const config = hamiKubeSchedulerConfiguration({ extenderPort: 1, kubeconfig: "/k", qps: 50, burst: 100 });
    expect(config.profiles).toEqual([{ schedulerName: HAMI_SCHEDULER_NAME }]);
    expect(config.clientConnection).toEqual({ kubeconfig: "/k", qps: 50, burst: 100 });
    expect(config.leaderElection).toEqual({ leaderElect: false });
    expect(config).not.toHaveProperty("percentageOfNodesToScore");
    expect(hamiKubeSchedulerConfiguration({ extenderPort: 1, kubeconfig: "/k", qps: 1, burst: 1, percentageOfNodesToScore: 100 })).toHaveProperty("percentageOfNodesToScore", 100);
  });

  it("starts HAMi on loopback only, with its kubeconfig in the environment", () => {
    const p = hamiSchedulerProcess({ bin: "/b/hami-scheduler", kubeconfig: "/k.yaml", deviceConfigFile: "/d.yaml", port: 18080, metricsPort: 19395, qps: 50, burst: 100 });
    expect(p.env).toEqual({ KUBECONFIG: "/k.yaml" });
    expect(p.args).toContain("--http_bind=127.0.0.1:18080");
    expect(p.args).toContain("--metrics-bind-address=127.0.0.1:19395");
    expect(p.args).toContain("--scheduler-name=hami-scheduler");
    expect(p.args).toEqual(expect.arrayContaining(["--kube-qps=50", "--kube-burst=100", "--device-config-file=/d.yaml", "--node-scheduler-policy=binpack", "--gpu-scheduler-policy=spread"]));
    expect(p.ready).toEqual({ kind: "http", path: "/healthz" });
    for (const arg of p.args) expect(arg).not.toMatch(/0\.0\.0\.0|=:\d/);
    const k = hamiKubeSchedulerProcess({ bin: "/b/kube-scheduler", configFile: "/c.yaml", kubeconfig: "/k.yaml", port: 10300, certDir: "/certs" });
    expect(k.args).toEqual(["--config=/c.yaml", "--authentication-kubeconfig=/k.yaml", "--authorization-kubeconfig=/k.yaml", "--bind-address=127.0.0.1", "--secure-port=10300", "--cert-dir=/certs"]);
  });
});
