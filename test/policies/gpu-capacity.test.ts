import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { GPU_RESOURCE, GPU_TAINT, tolerationFor } from "../../gpu";
import { gpuPoolHasDevicePlugin } from "../../policies/gpu-capacity/device-plugin";
import {
  cpuPodsAvoidGpuNodes, gpuLimitsEqualRequests, gpuPodsTargetGpuNodes, gpuPodsTolerateGpuTaint,
} from "../../policies/gpu-capacity/gpu-pods";
import { gpuNodeGroupScalingHeadroom, requiredMaxSize } from "../../policies/gpu-capacity/node-group-scaling";
import { gpuPoolQuotaHeadroom } from "../../policies/gpu-capacity/quota-headroom";
import { servingGpuMemoryUtilization } from "../../policies/gpu-capacity/serving-memory";
import { byName, happyStack, servingDeployment } from "./fixtures";
import { remediate, runPolicy } from "./helpers";
import { seeded } from "../property-seed";

const tenant = (s: ReturnType<typeof happyStack>, name: string) => byName(s, `tenant-${name}`, "gpk:index:Tenant");
const vllm = (s: ReturnType<typeof happyStack>) => byName(s, "search-llm", "kubernetes:apps/v1:Deployment");
const vllmContainer = (s: ReturnType<typeof happyStack>) => vllm(s).props.spec.template.spec.containers[0];

describe("gpu-pool-quota-headroom", () => {
  it("reports a pool whose tenants' quotas leave less than 20% free, on the pool's URN", async () => {
    const stack = happyStack();
    tenant(stack, "search").props.gpuQuota = 20; // serving pool: 24 GPUs, 80% = 19.2
    const found = await runPolicy(gpuPoolQuotaHeadroom, stack);
    expect(found).toEqual([{
      urn: byName(stack, "gpk-serving").urn,
      message: expect.stringMatching(/^GPU pool "serving" has 24 GPUs at max scale but its tenants' quotas add up to 20 \(search=20\).*to 19 GPUs in total/),
    }]);
  });

  it("counts every tenant allowed on the pool and honours headroomPercent from config", async () => {
    const stack = happyStack();
    tenant(stack, "research").props.allowedPools = ["training", "serving"]; // 8 + 24 on serving
    expect(await runPolicy(gpuPoolQuotaHeadroom, stack)).toHaveLength(1);
    const ok = happyStack();
    tenant(ok, "search").props.gpuQuota = 24; // 100% of the pool
    expect(await runPolicy(gpuPoolQuotaHeadroom, ok, { headroomPercent: 0 })).toEqual([]);
    expect(await runPolicy(gpuPoolQuotaHeadroom, ok, { headroomPercent: 1 })).toHaveLength(1);
  });

  it("accepts quotas exactly at the limit and reports one GPU over it", async () => {
    const stack = happyStack();
    const training = byName(stack, "gpk-training");
    training.props.maxNodes = 5;
    training.props.gpuCapacity = 40; // 8 GPUs × 5 nodes: 20% headroom leaves exactly 32 GPUs to quotas
    tenant(stack, "research").props.gpuQuota = 32;
    expect(await runPolicy(gpuPoolQuotaHeadroom, stack)).toEqual([]);
    tenant(stack, "research").props.gpuQuota = 33;
    expect(await runPolicy(gpuPoolQuotaHeadroom, stack)).toEqual([{
      urn: training.urn,
      message: expect.stringMatching(/^GPU pool "training" has 40 GPUs at max scale but its tenants' quotas add up to 33 \(research=33\).*to 32 GPUs in total/),
    }]);
  });

  it("holds each MIG profile of a mixed pool against the tenants' MIG quotas, and no whole-GPU quota against it", async () => {
    const stack = happyStack();
    const training = byName(stack, "gpk-training");
    const mig = "nvidia.com/mig-1g.10gb";
    Object.assign(training.props, { migStrategy: "mixed", gpuCapacity: 0, nodeResources: { [mig]: 56 }, migCapacity: { [mig]: 224 } });
    // research's 8 whole GPUs cannot be spent on a mixed pool: nothing to report yet.
    expect(await runPolicy(gpuPoolQuotaHeadroom, stack)).toEqual([]);
    tenant(stack, "research").props.migQuota = { [mig]: 179 }; // 224 × 0.8 = 179.2
    expect(await runPolicy(gpuPoolQuotaHeadroom, stack)).toEqual([]);
    tenant(stack, "research").props.migQuota = { [mig]: 180 };
    expect(await runPolicy(gpuPoolQuotaHeadroom, stack)).toEqual([{
      urn: training.urn,
      message: 'GPU pool "training" has 224 nvidia.com/mig-1g.10gb devices at max scale but its tenants\' quotas add up to 180 (research=180), ' +
        "which leaves less than 20% unallocated. Lower the tenants' `migQuota[\"1g.10gb\"]` to 179 devices in total or raise the pool's `maxNodes`.",
    }]);
  });

  it("rounds a fractional limit down: 25 of a 32-GPU pool fits under 25.6, 26 does not", async () => {
    const stack = happyStack();
    tenant(stack, "research").props.gpuQuota = 25; // 32 × 0.8 = 25.6
    expect(await runPolicy(gpuPoolQuotaHeadroom, stack)).toEqual([]);
    tenant(stack, "research").props.gpuQuota = 26;
    expect(await runPolicy(gpuPoolQuotaHeadroom, stack)).toHaveLength(1);
  });
});

describe("gpu-node-group-scaling-headroom", () => {
  it("computes ceil(desired × (1 + h)) without float drift", () => {
    expect(requiredMaxSize(10, 20)).toBe(12);
    expect(requiredMaxSize(4, 20)).toBe(5);
    expect(requiredMaxSize(3, 10)).toBe(4);
    expect(requiredMaxSize(0, 20)).toBe(0);
  });

  it("requiredMaxSize is the least integer at or above desired × (1 + h/100), in exact integer arithmetic", () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 0, max: 100 }), (desired, h) => {
      const m = requiredMaxSize(desired, h);
      return m * 100 >= desired * (100 + h) && (m - 1) * 100 < desired * (100 + h);
    }), seeded());
  });

  it("reports a GPU node group that cannot grow past its desired size", async () => {
    const stack = happyStack();
    byName(stack, "gpk-serving-nodes").props.scalingConfig.maxSize = 4;
    expect(await runPolicy(gpuNodeGroupScalingHeadroom, stack)).toEqual([{
      urn: byName(stack, "gpk-serving-nodes").urn,
      message: 'GPU node group "gpk-serving-nodes" has desiredSize 4 and maxSize 4; raise `scalingConfig.maxSize` to at least 5 to keep 20% scaling headroom.',
    }]);
  });

  it("ignores CPU node groups", async () => {
    const stack = happyStack();
    const ng = byName(stack, "gpk-serving-nodes");
    ng.props = { instanceTypes: ["m7i.2xlarge"], amiType: "AL2023_x86_64_STANDARD", scalingConfig: { desiredSize: 3, maxSize: 3 }, labels: {} };
    expect(await runPolicy(gpuNodeGroupScalingHeadroom, stack)).toEqual([]);
  });
});

describe("serving-gpu-memory-utilization", () => {
  for (const [shape, args] of [
    ["equals form", ["--gpu-memory-utilization=0.95"]],
    ["separate form", ["--gpu-memory-utilization", "0.95"]],
  ] as const) {
    it(`reports 0.95 in the ${shape}`, async () => {
      const stack = happyStack();
      vllmContainer(stack).args = ["--model", "m", ...args];
      const found = await runPolicy(servingGpuMemoryUtilization, stack);
      expect(found.map((f) => f.message)).toEqual([
        'Container "vllm" (spec.template.spec.containers[0]) passes --gpu-memory-utilization 0.95; set it to 0.9 or less so 10% of GPU memory stays free for activations and fragmentation.',
      ]);
    });
  }

  it("remediation clamps the value to the max and changes nothing else", async () => {
    for (const [before, after] of [
      [["--gpu-memory-utilization=0.97", "--max-waiting", "8"], ["--gpu-memory-utilization=0.9", "--max-waiting", "8"]],
      [["--gpu-memory-utilization", "0.97"], ["--gpu-memory-utilization", "0.9"]],
    ]) {
      const dep = servingDeployment();
      dep.props.spec.template.spec.containers[0].args = before;
      const fixed = await remediate(servingGpuMemoryUtilization, dep);
      const expected = servingDeployment();
      expected.props.spec.template.spec.containers[0].args = after;
      expect(fixed).toEqual(expected.props);
    }
  });

  it("remediation rewrites a shell-string command and honours a configured max", async () => {
    const dep = servingDeployment();
    const c = dep.props.spec.template.spec.containers[0];
    delete c.args;
    c.command = ["sh", "-c", "exec vllm serve m --gpu-memory-utilization 0.99 --max-waiting 64"];
    const fixed = await remediate(servingGpuMemoryUtilization, dep, { maxGpuMemoryUtilization: 0.85 });
    expect((fixed as any).spec.template.spec.containers[0].command).toEqual(["sh", "-c", "exec vllm serve m --gpu-memory-utilization 0.85 --max-waiting 64"]);
  });

  it("remediation leaves a compliant resource alone", async () => {
    expect(await remediate(servingGpuMemoryUtilization, servingDeployment())).toBeUndefined();
  });
});

describe("gpu-limits-equal-requests", () => {
  it("reports a GPU request without a limit, a mismatch and a fraction", async () => {
    const stack = happyStack();
    const res = vllmContainer(stack).resources;
    delete res.limits;
    expect((await runPolicy(gpuLimitsEqualRequests, stack)).map((f) => f.message)).toEqual([
      `Container "vllm" (spec.template.spec.containers[0]) requests 1 ${GPU_RESOURCE} without a limit; set \`resources.limits["${GPU_RESOURCE}"]\` to 1.`,
    ]);
    res.limits = { [GPU_RESOURCE]: "2" };
    expect((await runPolicy(gpuLimitsEqualRequests, stack))[0].message).toMatch(/requests 1 but is limited to 2/);
    res.limits = { [GPU_RESOURCE]: "0.5" };
    expect((await runPolicy(gpuLimitsEqualRequests, stack))[0].message).toMatch(/fractional/);
  });

  it("accepts a limit alone (Kubernetes defaults the request to it)", async () => {
    const stack = happyStack();
    delete vllmContainer(stack).resources.requests[GPU_RESOURCE];
    expect(await runPolicy(gpuLimitsEqualRequests, stack)).toEqual([]);
  });
});

describe("gpu-pods-tolerate-gpu-taint", () => {
  it("reports a GPU pod without the toleration, per pod template (Ray workers too)", async () => {
    const stack = happyStack();
    vllm(stack).props.spec.template.spec.tolerations = [];
    byName(stack, "research-ray").props.spec.workerGroupSpecs[0].template.spec.tolerations.shift();
    const found = await runPolicy(gpuPodsTolerateGpuTaint, stack);
    expect(found.map((f) => f.message.split(" uses GPUs")[0])).toEqual([
      "The pod template (spec.template.spec)",
      'The workerGroupSpecs[0] "h100" (spec.workerGroupSpecs[0].template.spec)',
    ]);
  });

  it("accepts an Exists toleration on the GPU key", async () => {
    const stack = happyStack();
    vllm(stack).props.spec.template.spec.tolerations = [{ key: GPU_TAINT.key, operator: "Exists" }];
    expect(await runPolicy(gpuPodsTolerateGpuTaint, stack)).toEqual([]);
  });

  it("remediation adds exactly the GPU toleration", async () => {
    const dep = servingDeployment();
    dep.props.spec.template.spec.tolerations = [{ key: "x", operator: "Exists", effect: "NoExecute" }];
    const fixed = await remediate(gpuPodsTolerateGpuTaint, dep);
    const expected = servingDeployment();
    expected.props.spec.template.spec.tolerations = [{ key: "x", operator: "Exists", effect: "NoExecute" }, tolerationFor(GPU_TAINT)];
    expect(fixed).toEqual(expected.props);
    expect(await remediate(gpuPodsTolerateGpuTaint, servingDeployment())).toBeUndefined();
  });
});

describe("gpu-pods-target-gpu-nodes", () => {
  it("reports a GPU pod with no GPU node selector", async () => {
    const stack = happyStack();
    vllm(stack).props.spec.template.spec.nodeSelector = { "kubernetes.io/os": "linux" };
    expect((await runPolicy(gpuPodsTargetGpuNodes, stack)).map((f) => f.urn)).toEqual([vllm(stack).urn]);
  });

  it("accepts a required node affinity on the GPU product label", async () => {
    const stack = happyStack();
    const spec = vllm(stack).props.spec.template.spec;
    delete spec.nodeSelector;
    spec.affinity = { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [
      { matchExpressions: [{ key: "nvidia.com/gpu.product", operator: "In", values: ["NVIDIA-H100-80GB-HBM3"] }] },
    ] } } };
    expect(await runPolicy(gpuPodsTargetGpuNodes, stack)).toEqual([]);
  });
});

describe("cpu-pods-avoid-gpu-nodes", () => {
  it("reports a CPU Deployment that tolerates the GPU taint, or everything", async () => {
    for (const toleration of [tolerationFor(GPU_TAINT), { operator: "Exists" }]) {
      const stack = happyStack();
      byName(stack, "search-frontend").props.spec.template.spec.tolerations = [toleration];
      const found = await runPolicy(cpuPodsAvoidGpuNodes, stack);
      expect(found.map((f) => f.urn)).toEqual([byName(stack, "search-frontend").urn]);
    }
  });

  it("lets node-agent DaemonSets tolerate it", async () => {
    const stack = happyStack();
    expect(byName(stack, "telemetry-exporter").props.spec.template.spec.tolerations).toHaveLength(1);
    expect(await runPolicy(cpuPodsAvoidGpuNodes, stack)).toEqual([]);
  });
});

describe("gpu-pool-has-device-plugin", () => {
  it("reports the pool no device plugin covers", async () => {
    const stack = happyStack();
    byName(stack, "device-plugin").props.pools = ["serving"];
    expect(await runPolicy(gpuPoolHasDevicePlugin, stack)).toEqual([{
      urn: byName(stack, "gpk-training").urn,
      message: 'GPU pool "training" has no device plugin, so its nodes advertise no GPUs; add the pool to an NvidiaDevicePlugin\'s `pools`.',
    }]);
  });
});
