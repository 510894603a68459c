import { describe, expect, it } from "vitest";
import { GPU_PRODUCT_IDS, GPU_PRODUCTS } from "../../gpu";
import { SimNode, type HealthEvent } from "../../runtime/gpu-sim/node";
import { ClockEventReason } from "../../runtime/gpu-sim/reasons";

const FULL = { utilization: 100, fbUsedMiB: 60_000 };

/**
 * NVML's clock-event reason bits as nvml.h defines them (NVML API reference, group
 * "nvmlClocksEventReasons": nvmlClocksEventReasonGpuIdle 0x0000000000000001LL ...
 * nvmlClocksEventReasonDisplayClockSetting 0x0000000000000100LL; the Hw* three keep their
 * nvmlClocksThrottleReason* names there). Written out here, not imported, so the tests below
 * compare the simulator with NVML rather than with its own table; exporters and alert rules
 * (`DCGM_FI_DEV_CLOCKS_EVENT_REASONS & 4`) read these numbers off real GPUs.
 */
const NVML = {
  GpuIdle: 0x1,
  ApplicationsClocksSetting: 0x2,
  SwPowerCap: 0x4,
  HwSlowdown: 0x8,
  SyncBoost: 0x10,
  SwThermalSlowdown: 0x20,
  HwThermalSlowdown: 0x40,
  HwPowerBrakeSlowdown: 0x80,
  DisplayClockSetting: 0x100,
} as const;

describe("clock-event reason bits", () => {
  it("are NVML's documented values", () => {
    expect(ClockEventReason).toEqual({ None: 0x0, ...NVML });
  });
});

describe("power and clocks", () => {
  it("draws more power with more utilization and caps at the limit with the SW power cap reason", () => {
    const node = new SimNode({ count: 1 });
    const gpu = node.device(0);
    const at = (utilization: number) => {
      gpu.setWorkload({ utilization, fbUsedMiB: 1000 });
      node.step(120);
      return gpu.readings();
    };
    const low = at(20);
    const mid = at(40);
    const full = at(100);
    expect(low.powerW).toBeLessThan(mid.powerW);
    expect(mid.powerW).toBeLessThan(full.powerW);
    expect(low.smClockMHz).toBe(1980);
    expect(low.clockEventReasons).toBe(0);
    expect(full.powerW).toBeGreaterThan(690);
    expect(full.powerW).toBeLessThanOrEqual(700.5);
    expect(full.clockEventReasons).toBe(NVML.SwPowerCap);
    expect(full.smClockMHz).toBeLessThan(1500);
  });

  it("parks an idle GPU without a context at its idle clock with the GPU idle reason", () => {
    const r = new SimNode({ count: 1 }).device(0).readings();
    expect(r.smClockMHz).toBe(345);
    expect(r.clockEventReasons).toBe(NVML.GpuIdle);
    expect(r.powerW).toBeCloseTo(71, 0);
    expect(r.gpuTempC).toBeGreaterThanOrEqual(33);
    expect(r.gpuTempC).toBeLessThanOrEqual(36);
  });

  it("a lower power limit lowers the capped clock", () => {
    const node = new SimNode({ count: 2 });
    node.device(1).setPowerLimit(400);
    node.devices.forEach((d) => d.setWorkload(FULL));
    node.step(60);
    const [full, limited] = node.devices.map((d) => d.readings());
    expect(limited!.powerW).toBeLessThanOrEqual(400.5);
    expect(limited!.smClockMHz).toBeLessThan(full!.smClockMHz);
    expect(() => node.device(0).setPowerLimit(900)).toThrow(/between 200 and 700 W/);
  });

  it.each(GPU_PRODUCT_IDS)("%s hits its datasheet power limit under full load", (product) => {
    const node = new SimNode({ count: 1, product });
    const gpu = node.device(0);
    gpu.setWorkload(FULL);
    node.step(300);
    const r = gpu.readings();
    expect(r.name).toBe(GPU_PRODUCTS[product].smiName);
    expect(r.powerW).toBeGreaterThan(GPU_PRODUCTS[product].powerLimitW * 0.97);
    expect(r.clockEventReasons).toBe(NVML.SwPowerCap);
    expect(r.smClockMHz).toBeLessThan(GPU_PRODUCTS[product].maxSmClockMHz);
    expect(r.gpuTempC).toBeLessThan(80);
  });
});

describe("cooling failure", () => {
  it("reduced airflow drives the die to the max operating temperature and SW thermal slowdown holds it there", () => {
    const node = new SimNode({ count: 2 });
    node.devices.forEach((d) => d.setWorkload(FULL));
    node.device(1).setCooling({ airflow: 0.3 });
    node.step(900);
    const healthy = node.device(0).readings();
    const starved = node.device(1).readings();
    expect(healthy.clockEventReasons).toBe(NVML.SwPowerCap);
    expect(starved.clockEventReasons & NVML.SwThermalSlowdown).toBe(NVML.SwThermalSlowdown);
    expect(starved.clockEventReasons & NVML.SwPowerCap).toBe(0); // heat, not power, binds now
    expect(starved.smClockMHz).toBeLessThan(healthy.smClockMHz - 100);
    expect(starved.powerW).toBeLessThan(650);
    expect(Math.abs(starved.dieTempC - 88)).toBeLessThanOrEqual(1.5);
    expect(starved.violationUs.swThermal).toBeGreaterThan(0);
    expect(healthy.violationUs.swThermal).toBe(0);
    expect(healthy.violationUs.powerCap).toBeGreaterThan(800e6);
  });

  it("near-zero airflow in a hot inlet ends in HW slowdown, thermal shutdown (unhealthy) and recovery", async () => {
    const node = new SimNode({ count: 1 });
    const gpu = node.device(0);
    const seen: HealthEvent[] = [];
    node.onHealthChange((e) => seen.push(e));
    const abort = new AbortController();
    const iterated: HealthEvent[] = [];
    const consumer = (async () => {
      for await (const e of node.healthEvents(abort.signal)) iterated.push(e);
    })();
    gpu.setWorkload(FULL);
    gpu.setCooling({ airflow: 0.05, ambientC: 45 });
    let sawHwSlowdown = false;
    for (let t = 0; t < 1800 && gpu.health === "Healthy"; t += 1) {
      node.step(1);
      const r = gpu.readings().clockEventReasons;
      if (r & NVML.HwThermalSlowdown && r & NVML.HwSlowdown) sawHwSlowdown = true;
    }
    expect(sawHwSlowdown).toBe(true);
    expect(gpu.health).toBe("Unhealthy");
    expect(gpu.readings()).toMatchObject({ shutdown: true, utilizationGpu: 0, smClockMHz: 0, instantPowerW: 0 });
    gpu.setCooling({ airflow: 1, ambientC: 30 });
    node.step(300);
    expect(gpu.health).toBe("Healthy");
    await new Promise((r) => setImmediate(r));
    abort.abort();
    await consumer;
    expect(seen.map((e) => [e.uuid, e.health, e.reason])).toEqual([
      [gpu.id.uuid, "Unhealthy", "thermal shutdown"],
      [gpu.id.uuid, "Healthy", "cooled down"],
    ]);
    expect(iterated).toEqual(seen);
  });
});

describe("XID errors", () => {
  it("device-fault XIDs make the GPU unhealthy until reset; application XIDs do not", () => {
    const node = new SimNode({ count: 2 });
    const seen: HealthEvent[] = [];
    node.onHealthChange((e) => seen.push(e));
    node.device(1).injectXid(13);
    expect(node.device(1).health).toBe("Healthy");
    node.device(1).injectXid(48);
    expect(node.device(1).health).toBe("Unhealthy");
    expect(node.device(1).readings().lastXid).toBe(48);
    node.device(1).resetXid();
    expect(seen.map((e) => [e.index, e.health, e.reason])).toEqual([[1, "Unhealthy", "XID 48"], [1, "Healthy", "reset"]]);
    expect(node.device(0).health).toBe("Healthy");
  });
});

describe("node identities", () => {
  it("derives UUIDs, PCI bus ids and NUMA nodes deterministically from the node name", () => {
    const a = new SimNode({ hostname: "gpu-a" });
    const again = new SimNode({ hostname: "gpu-a" });
    const b = new SimNode({ hostname: "gpu-b" });
    const uuids = a.devices.map((d) => d.id.uuid);
    expect(uuids).toHaveLength(8);
    for (const u of uuids) expect(u).toMatch(/^GPU-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(new Set(uuids).size).toBe(8);
    expect(again.devices.map((d) => d.id.uuid)).toEqual(uuids);
    expect(b.devices.map((d) => d.id.uuid).some((u) => uuids.includes(u))).toBe(false);
    expect(a.devices.map((d) => d.id.numaNode)).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
    expect(a.devices.map((d) => d.id.pciBusId)).toEqual([
      "00000000:18:00.0", "00000000:2A:00.0", "00000000:3A:00.0", "00000000:5D:00.0",
      "00000000:9A:00.0", "00000000:AB:00.0", "00000000:BA:00.0", "00000000:DB:00.0",
    ]);
    expect(new SimNode({ count: 2 }).devices.map((d) => d.id.numaNode)).toEqual([0, 0]);
    expect(() => new SimNode({ product: "v100" as never })).toThrow(/unknown GPU product "v100"/);
  });

  it("round-trips through a snapshot with identical readings and continues identically", () => {
    const node = new SimNode({ hostname: "n1", count: 2 });
    node.setWorkload(1, FULL);
    node.step(42.5);
    const copy = SimNode.fromSnapshot(JSON.parse(JSON.stringify(node.snapshot())));
    expect(copy.devices.map((d) => d.readings())).toEqual(node.devices.map((d) => d.readings()));
    node.step(10);
    copy.step(10);
    expect(copy.device(1).readings()).toEqual(node.device(1).readings());
  });
});
