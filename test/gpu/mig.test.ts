import { describe, expect, it } from "vitest";
import { MIG_PROFILES, formatMigLayout, migConfigName, migDevicesPerGpu, migLayoutFits, migProfileOfResource, migResourceName, parseMigLayout, singleStrategyProduct } from "../../gpu/mig";

const h100 = MIG_PROFILES.h100!;

describe("MIG profiles and layouts (NVIDIA MIG user guide, H100/A100 80GB)", () => {
  it("cuts a GPU into as many instances of a uniform profile as the guide's max count", () => {
    const counts = Object.fromEntries(Object.keys(h100).map((p) => [p, (migDevicesPerGpu("h100", `all-${p}`) as { devices: Record<string, number> }).devices[p]]));
    expect(counts).toEqual({ "1g.10gb": 7, "1g.20gb": 4, "2g.20gb": 3, "3g.40gb": 2, "4g.40gb": 1, "7g.80gb": 1 });
    expect(migDevicesPerGpu("a100", "all-1g.10gb")).toEqual({ devices: { "1g.10gb": 7 } });
  });

  it("admits a mix only where the placements leave room: compute ≤ 7 slices and no shared memory slice", () => {
    const fits = (counts: Record<string, number>) => migLayoutFits(h100, counts);
    expect(fits({ "4g.40gb": 1, "3g.40gb": 1 })).toBe(true);
    expect(fits({ "3g.40gb": 1, "2g.20gb": 1, "1g.10gb": 2 })).toBe(true); // NVIDIA's all-balanced for 80GB parts
    expect(fits({ "2g.20gb": 3, "1g.10gb": 1 })).toBe(true);
    expect(fits({ "3g.40gb": 2, "1g.10gb": 1 })).toBe(false); // 7 compute slices, but both 3g take all 8 memory slices
    expect(fits({ "1g.20gb": 4, "1g.10gb": 1 })).toBe(false); // memory full at 4 × 2 slices
    expect(fits({ "4g.40gb": 1, "3g.40gb": 1, "1g.10gb": 1 })).toBe(false); // 8 compute slices
    expect(fits({ "1g.10gb": 8 })).toBe(false); // 1g.10gb never starts at slice 7
    expect(fits({ "4g.40gb": 1, "2g.20gb": 1, "1g.20gb": 1 })).toBe(true);
    expect(fits({ "4g.40gb": 2 })).toBe(false); // one placement only
  });

  it("refuses GPUs without MIG, unknown profiles and bad counts with a precise problem", () => {
    expect(migDevicesPerGpu("l40s", "all-1g.10gb")).toEqual({ problem: "l40s GPUs have no MIG (MIG-capable: h100, a100)" });
    expect(migDevicesPerGpu("a10g", { "1g.10gb": 1 })).toMatchObject({ problem: expect.stringContaining("a10g GPUs have no MIG") });
    expect(migDevicesPerGpu("l4", "all-1g.10gb")).toMatchObject({ problem: expect.stringContaining("l4 GPUs have no MIG") });
    expect(migDevicesPerGpu("h100", "1g.10gb")).toMatchObject({ problem: expect.stringContaining('got "1g.10gb"') });
    expect(migDevicesPerGpu("h100", { "1g.5gb": 2 })).toMatchObject({ problem: expect.stringContaining('got "1g.5gb"') });
    expect(migDevicesPerGpu("h100", { "1g.10gb": 0 })).toMatchObject({ problem: "expected a positive number of 1g.10gb instances, got 0" });
    expect(migDevicesPerGpu("h100", {})).toEqual({ problem: "expected at least one MIG profile" });
  });

  it("names resources, products and configs as NVIDIA's plugin, GFD and MIG manager do", () => {
    expect(migResourceName("1g.10gb")).toBe("nvidia.com/mig-1g.10gb");
    expect(migProfileOfResource("nvidia.com/mig-3g.40gb")).toBe("3g.40gb");
    expect(migProfileOfResource("nvidia.com/gpu")).toBeUndefined();
    expect(migProfileOfResource("nvidia.com/mig-1g.10gb.me")).toBeUndefined();
    expect(singleStrategyProduct("NVIDIA-H100-80GB-HBM3", "1g.10gb")).toBe("NVIDIA-H100-80GB-HBM3-MIG-1g.10gb");
    expect(migConfigName("inference", "all-1g.10gb")).toBe("all-1g.10gb");
    expect(migConfigName("inference", { "3g.40gb": 1, "1g.10gb": 4 })).toBe("gpk-inference");
  });

  it("reads a one-line layout (flags, environment)", () => {
    expect(parseMigLayout("all-1g.10gb")).toBe("all-1g.10gb");
    expect(parseMigLayout("3g.40gb=1, 2g.20gb=1,1g.10gb=2")).toEqual({ "3g.40gb": 1, "2g.20gb": 1, "1g.10gb": 2 });
    expect(parseMigLayout(formatMigLayout({ "3g.40gb": 1, "1g.10gb": 4 }))).toEqual({ "3g.40gb": 1, "1g.10gb": 4 });
    expect(parseMigLayout("1g.10gb=7,oops")).toMatchObject({ problem: expect.stringContaining('got "1g.10gb=7,oops"') });
  });
});
