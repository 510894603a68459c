import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { SimNode } from "../../runtime/gpu-sim/node";
import { runNvidiaSmi } from "../../runtime/gpu-sim/smi/run";
import { parseNvidiaSmiXml, SmiXmlError } from "../../runtime/telemetry/smi-xml";
import { H100_DIR } from "../../data/paths";

const repoRoot = path.resolve(__dirname, "../..");
const captured = readFileSync(path.join(H100_DIR, "nvidia-smi-q.xml"), "utf8");

describe("nvidia-smi -q -x parser", () => {
  it("reads the captured H100 log", () => {
    expect(parseNvidiaSmiXml(captured)).toEqual([{
      gpu: 0, uuid: "GPU-bb019862-2968-4c40-021b-ff4c3647b59e", pciBusId: "00000000:00:06.0", device: "nvidia0",
      modelName: "NVIDIA H100 80GB HBM3", gpuTempC: 35, memTempC: 38, powerW: 71.42, powerLimitW: 700, utilGpu: 0, utilMem: 0,
      fbUsedMiB: 0, fbFreeMiB: 81079, smClockMHz: 345, memClockMHz: 2619, clockEventReasons: 0x1,
      powerViolationUs: 0, thermalViolationUs: 0,
    }]);
  });

  it("reads the simulated nvidia-smi's XML back to the model's values (8 GPUs, one power capped)", () => {
    const node = new SimNode();
    node.setWorkload(6, { utilization: 100, fbUsedMiB: 50_000 });
    node.step(30);
    const samples = parseNvidiaSmiXml(runNvidiaSmi(["-q", "-x"], { node, now: new Date(0) }).stdout);
    expect(samples).toHaveLength(8);
    const r = node.devices[6]!.readings();
    expect(samples[6]).toMatchObject({
      uuid: r.uuid, pciBusId: r.pciBusId, device: "nvidia6", gpuTempC: r.gpuTempC, smClockMHz: r.smClockMHz,
      fbUsedMiB: 50_000, clockEventReasons: 0x4, utilGpu: 100,
    });
    expect(samples[6]!.powerW).toBeCloseTo(r.powerW, 2);
    expect(samples[6]!.powerViolationUs).toBeGreaterThan(28e6);
  });

  it("names what is wrong with a broken or incomplete document", () => {
    expect(() => parseNvidiaSmiXml("<nvidia_smi_log><gpu>")).toThrow(SmiXmlError);
    expect(() => parseNvidiaSmiXml("<other/>")).toThrow(/no <nvidia_smi_log>/);
    const noTemp = captured.replace(/<gpu_temp>35 C<\/gpu_temp>/, "<gpu_temp>N/A</gpu_temp>");
    expect(() => parseNvidiaSmiXml(noTemp)).toThrow('nvidia-smi XML: GPU 0: <temperature/gpu_temp> is missing or not a number ("N/A")');
  });
});
