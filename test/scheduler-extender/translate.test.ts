import { describe, expect, it } from "vitest";
import { GFD_LABELS, GPU_RESOURCE, KIT_ANNOTATIONS } from "../../gpu";
import { cpuMilli, memoryMiB, parseQuantity } from "../../gpu/quantity";
import { acceptedGpuModels, decodeAssignment, nodeToState, podToRequest } from "../../runtime/scheduler-extender/translate";
import { H100, L40S, k8sNode, k8sPod } from "./fixtures";

describe("quantities", () => {
  it("parses decimal, binary-SI and exponent forms", () => {
    expect(parseQuantity("500m")).toBe(0.5);
    expect(parseQuantity("2")).toBe(2);
    expect(parseQuantity("1e3")).toBe(1000);
    expect(parseQuantity("16Gi")).toBe(16 * 2 ** 30);
    expect(parseQuantity("1.5k")).toBe(1500);
    expect(cpuMilli("0.1")).toBe(100);
    expect(cpuMilli("250m")).toBe(250);
    expect(memoryMiB("1G", "up")).toBe(954);
    expect(memoryMiB("1G", "down")).toBe(953);
    expect(() => parseQuantity("12x")).toThrow('expected a quantity such as "500m", "4" or "16Gi", got "12x"');
  });
});

describe("pod requests", () => {
  it("sums containers, applies the init-container maximum, sidecars and overhead", () => {
    const pod: any = k8sPod("p", { gpus: 2, cpu: "2", memory: "1Gi" });
    pod.spec.containers.push({ name: "b", resources: { requests: { cpu: "1", memory: "1Gi" } } });
    pod.spec.initContainers = [
      { name: "sidecar", restartPolicy: "Always", resources: { requests: { cpu: "500m", memory: "256Mi" } } },
      { name: "warmup", resources: { requests: { cpu: "8", memory: "512Mi" } } },
    ];
    pod.spec.overhead = { cpu: "100m", memory: "64Mi" };
    // cpu: max(2 + 1 + 0.5, 8 + 0.5) + 0.1 = 8.6; memory: max(2Gi + 256Mi, 512Mi + 256Mi) + 64Mi
    expect(podToRequest(pod)).toEqual({ name: "team-a/p", cpuMilli: 8600, memoryMiB: 2048 + 256 + 64, numGpu: 2, gpuMilli: 1000, gpuModels: [] });
  });

  it("takes a limit as the request when only the limit is set", () => {
    const pod: any = k8sPod("p");
    pod.spec.containers[0].resources = { limits: { cpu: "3", memory: "2Gi", [GPU_RESOURCE]: "1" } };
    expect(podToRequest(pod)).toMatchObject({ cpuMilli: 3000, memoryMiB: 2048, numGpu: 1, gpuMilli: 1000 });
  });

  it("reads a GPU share from the gpu-milli annotation", () => {
    expect(podToRequest(k8sPod("p", { milli: 250 }) as any)).toMatchObject({ numGpu: 1, gpuMilli: 250 });
    expect(() => podToRequest(k8sPod("p", { milli: 1200 }) as any)).toThrow(`Pod.metadata.annotations["${KIT_ANNOTATIONS.gpuMilli}"]: expected an integer milli-GPU between 1 and 1000, got "1200"`);
    expect(() => podToRequest(k8sPod("p", { milli: 500, gpus: 2 }) as any)).toThrow("a shared GPU share applies to one GPU");
  });

  it("names the field of a bad quantity", () => {
    const pod: any = k8sPod("p", { gpus: 1 });
    pod.spec.containers[0].resources.limits[GPU_RESOURCE] = "1.5";
    expect(() => podToRequest(pod)).toThrow(`Pod.spec.containers[0].resources.limits["${GPU_RESOURCE}"]: expected a whole number of GPUs, got "1.5"`);
    const bad: any = k8sPod("p", { cpu: "lots" });
    expect(() => podToRequest(bad)).toThrow("Pod.spec.containers[0].resources.requests.cpu: expected a quantity");
  });

  it("accepts GPU models from nodeSelector and required node affinity", () => {
    expect(acceptedGpuModels(k8sPod("p", { product: H100 }) as any)).toEqual([H100]);
    const affinity = (values: string[]) => ({
      spec: { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: GFD_LABELS.product, operator: "In", values }] }] } } } },
    });
    expect(acceptedGpuModels(affinity([L40S, H100]) as any)).toEqual([H100, L40S].sort());
    const both: any = affinity([L40S]);
    both.spec.nodeSelector = { [GFD_LABELS.product]: H100 };
    expect(acceptedGpuModels(both)).toEqual(["<none>"]);
    expect(acceptedGpuModels(k8sPod("p") as any)).toEqual([]);
  });
});

describe("nodes", () => {
  it("derives GPUs from allocatable nvidia.com/gpu and the GFD labels", () => {
    const state = nodeToState(k8sNode("n1", { gpus: 8, numa: "0,0,0,0,1,1,1,1" }) as any);
    expect(state).toMatchObject({ name: "n1", cpuMilli: 96000, memoryMiB: 1000 * 1024 });
    expect(state.gpus).toHaveLength(8);
    expect(state.gpus[5]).toEqual({ model: H100, usedMilli: 0, memoryMiB: 81559, numaNode: 1 });
  });

  it("divides time-sliced replicas back into physical GPUs and ignores a partial NUMA annotation", () => {
    const node: any = k8sNode("n1", { gpus: 16, numa: "0,1" });
    node.metadata.labels[GFD_LABELS.replicas] = "4";
    const state = nodeToState(node);
    expect(state.gpus).toHaveLength(4);
    expect(state.gpus[0]!.numaNode).toBeUndefined();
  });

  it("refuses a node that claims more physical GPUs than a node can hold", () => {
    expect(nodeToState(k8sNode("n1", { gpus: 64 }) as any).gpus).toHaveLength(64);
    expect(() => nodeToState(k8sNode("n1", { gpus: 100_000 }) as any)).toThrow(
      `Nodes.items[n1].status.allocatable["${GPU_RESOURCE}"]: 100000 GPUs (1 per physical GPU) is more than the 64 physical GPUs a node can hold`,
    );
    const sliced: any = k8sNode("n1", { gpus: 512 });
    sliced.metadata.labels[GFD_LABELS.replicas] = "8";
    expect(nodeToState(sliced).gpus).toHaveLength(64);
  });

  it("reads back only a well-formed assignment for the same node", () => {
    const pod: any = k8sPod("p", { annotations: { [KIT_ANNOTATIONS.gpuAssignment]: JSON.stringify({ node: "n1", gpus: [2, 3], milliPerGpu: 1000 }) } });
    expect(decodeAssignment(pod, "n1")?.gpus).toEqual([2, 3]);
    expect(decodeAssignment(pod, "n2")).toBeUndefined();
    pod.metadata.annotations[KIT_ANNOTATIONS.gpuAssignment] = "{nope";
    expect(decodeAssignment(pod, "n1")).toBeUndefined();
  });
});
