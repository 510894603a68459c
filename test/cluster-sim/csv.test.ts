import { describe, expect, it } from "vitest";
import { parseNodes, parsePods } from "../../runtime/cluster-sim/csv";

const nodesHeader = "sn,cpu_milli,memory_mib,gpu,model";
const podsHeader = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec";

describe("trace CSV readers", () => {
  it("reads nodes and pods, GPU specs split on |, CPU-only tasks without a GPU share", () => {
    const nodes = parseNodes("n.csv", `${nodesHeader}\nn0,64000,262144,2,P100\nn1,32000,131072,0,\n`);
    expect(nodes.map((n) => [n.name, n.cpuMilli, n.memoryMiB, n.gpus.length, n.gpus[0]?.model])).toEqual([
      ["n0", 64000, 262144, 2, "P100"],
      ["n1", 32000, 131072, 0, undefined],
    ]);
    const pods = parsePods("p.csv", `${podsHeader}\np0,6000,12288,1,460,V100M16|V100M32\np1,8000,30517,0,0,\n`);
    expect(pods).toEqual([
      { name: "p0", cpuMilli: 6000, memoryMiB: 12288, numGpu: 1, gpuMilli: 460, gpuModels: ["V100M16", "V100M32"] },
      { name: "p1", cpuMilli: 8000, memoryMiB: 30517, numGpu: 0, gpuMilli: 0, gpuModels: [] },
    ]);
  });

  it("accepts pod lists without gpu_spec (the multigpu lists)", () => {
    expect(parsePods("m.csv", "name,cpu_milli,memory_mib,num_gpu,gpu_milli\np,1000,10,2,1000\n")[0]!.gpuModels).toEqual([]);
  });

  it.each([
    [`${podsHeader}\np0,6000,12288,one,460,`, 'p.csv:2:15: column "num_gpu": expected an integer 0..8, got "one"'],
    [`${podsHeader}\np0,6000,-5,1,460,`, 'p.csv:2:9: column "memory_mib": expected a non-negative integer, got "-5"'],
    [`${podsHeader}\np0,6000,12288,2,500,`, 'p.csv:2:17: column "gpu_milli": a pod with 2 GPUs must ask for whole GPUs (1000), got 500'],
    [`${podsHeader}\np0,6000,12288,1,0,`, 'p.csv:2:17: column "gpu_milli": must be 1..1000 when num_gpu is 1'],
    [`${podsHeader}\np0,6000,12288,1,460`, "p.csv:2:1: expected 6 fields, found 5"],
    [`name,cpu_milli,num_gpu,gpu_milli\np0,1,1,1`, 'p.csv:1:1: missing column "memory_mib" (header: name,cpu_milli,num_gpu,gpu_milli)'],
    [`${podsHeader}\n"p0",6000,12288,1,460,`, "p.csv:2:1: quoted fields are not supported"],
    ["", "p.csv:1:1: empty file: expected a header line"],
  ])("rejects a bad pod row with file:line:column", (text, message) => {
    expect(() => parsePods("p.csv", text)).toThrow(message);
  });

  it("rejects duplicate nodes and GPU nodes without a model", () => {
    expect(() => parseNodes("n.csv", `${nodesHeader}\nn0,1,1,1,T4\nn0,1,1,1,T4`)).toThrow('n.csv:3:1: column "sn": duplicate node "n0"');
    expect(() => parseNodes("n.csv", `${nodesHeader}\nn0,1,1,1,`)).toThrow('n.csv:2:10: column "model": empty value');
  });
});
