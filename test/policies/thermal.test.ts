import { describe, expect, it } from "vitest";
import { GPU_RESOURCE } from "../../gpu";
import { gpuAlertRules, tempThreshold } from "../../policies/thermal/alerts";
import { rayClusterKubeRayValid, rayGpusConsistent, rayJobBounded, rayWorkerReplicasBounded } from "../../policies/thermal/ray";
import { thermalAwareScheduling } from "../../policies/thermal/scheduling";
import { servingAutoscalerBounded, servingAutoscalerMetricsSource, servingBoundedQueue } from "../../policies/thermal/serving";
import { gpuPoolHasTelemetry } from "../../policies/thermal/telemetry";
import { byName, happyStack, type FixtureResource } from "./fixtures";
import { runPolicy } from "./helpers";

const rules = (s: FixtureResource[]) => byName(s, "gpu-alerts").props.spec.groups[0].rules as { alert: string; expr: string; for?: string }[];
const vllm = (s: FixtureResource[]) => byName(s, "search-llm", "kubernetes:apps/v1:Deployment");
const hpa = (s: FixtureResource[]) => byName(s, "search-llm", "kubernetes:autoscaling/v2:HorizontalPodAutoscaler");
const worker = (s: FixtureResource[]) => byName(s, "research-ray").props.spec.workerGroupSpecs[0];

describe("gpu-pool-has-telemetry", () => {
  it("reports the pool no exporter covers", async () => {
    const stack = happyStack();
    byName(stack, "telemetry").props.pools = ["training"];
    expect((await runPolicy(gpuPoolHasTelemetry, stack)).map((f) => [f.urn, f.message.slice(0, 40)])).toEqual([
      [byName(stack, "gpk-serving").urn, 'GPU pool "serving" has no telemetry expo'],
    ]);
  });
});

describe("gpu-alert-rules", () => {
  it("reads the temperature an expression fires at", () => {
    expect(tempThreshold("DCGM_FI_DEV_GPU_TEMP >= 85")).toBe(85);
    expect(tempThreshold("max(DCGM_FI_DEV_GPU_TEMP{gpu=\"0\"}) > 84")).toBe(85);
    expect(tempThreshold("DCGM_FI_DEV_GPU_TEMP > 90")).toBe(91);
    expect(tempThreshold("DCGM_FI_DEV_POWER_USAGE > 600")).toBeUndefined();
  });

  it("reports a temperature alert set above maxGpuTempC", async () => {
    const stack = happyStack();
    rules(stack)[0].expr = "DCGM_FI_DEV_GPU_TEMP > 90";
    expect((await runPolicy(gpuAlertRules, stack)).map((f) => f.message)).toEqual([
      "No PrometheusRule alert covers GPU safety: add one firing when DCGM_FI_DEV_GPU_TEMP reaches 85 °C (e.g. `DCGM_FI_DEV_GPU_TEMP >= 85`).",
    ]);
    expect(await runPolicy(gpuAlertRules, stack, { maxGpuTempC: 91 })).toEqual([]);
  });

  it("reports a power-cap alert that is not sustained, and a missing XID alert", async () => {
    const stack = happyStack();
    delete rules(stack)[1].for;
    rules(stack).splice(2, 1);
    const found = await runPolicy(gpuAlertRules, stack);
    expect(found.map((f) => f.message.match(/add one on (\S+ \S+)/)?.[1])).toEqual(["sustained power-cap", "XID errors"]);
    expect(found.every((f) => f.urn === byName(stack, "telemetry").urn)).toBe(true);
  });

  it("accepts a sustained power-usage alert, or one on DCGM's power-violation counter", async () => {
    for (const rule of [
      { alert: "GpuAtPowerCap", expr: "DCGM_FI_DEV_POWER_USAGE > 690", for: "15m" },
      { alert: "GpuPowerCapSustained", expr: "rate(DCGM_FI_DEV_POWER_VIOLATION[5m]) / 1e6 > 0.5", for: "5m" },
    ]) {
      const stack = happyStack();
      rules(stack)[1] = rule;
      expect(await runPolicy(gpuAlertRules, stack)).toEqual([]);
    }
  });
});

describe("serving-bounded-queue", () => {
  it("reports a serving Deployment without --max-waiting, or with a bad value", async () => {
    const stack = happyStack();
    const c = vllm(stack).props.spec.template.spec.containers[0];
    c.args = ["--model", "m"];
    expect((await runPolicy(servingBoundedQueue, stack)).map((f) => f.message)).toEqual([
      'Serving Deployment "search-llm" bounds no waiting queue, so overload queues without limit; pass `--max-waiting <n>` (kit engine) or `--max-num-queued-reqs <n>` (vLLM) to the engine.',
    ]);
    c.args = ["--max-waiting=0"];
    expect((await runPolicy(servingBoundedQueue, stack))[0].message).toMatch(/bounds its waiting queue at 0; use a positive integer/);
    c.args = ["--max-num-queued-reqs", "768"];
    expect(await runPolicy(servingBoundedQueue, stack)).toEqual([]);
  });

  it("ignores Deployments that are not serving", async () => {
    const stack = happyStack();
    delete vllm(stack).props.metadata.labels;
    delete vllm(stack).props.spec.template.metadata.labels["app.kubernetes.io/component"];
    vllm(stack).props.spec.template.spec.containers[0].args = [];
    expect(await runPolicy(servingBoundedQueue, stack)).toEqual([]);
  });
});

describe("serving-autoscaler-bounded", () => {
  it("reports a serving Deployment without an autoscaler", async () => {
    const stack = happyStack().filter((r) => r.type !== "kubernetes:autoscaling/v2:HorizontalPodAutoscaler");
    expect(await runPolicy(servingAutoscalerBounded, stack)).toEqual([{
      urn: vllm(stack).urn,
      message: 'Serving Deployment "search-llm" has no autoscaler; add a HorizontalPodAutoscaler (or KEDA ScaledObject) targeting it with `maxReplicas`.',
    }]);
  });

  it("reports an autoscaler whose max exceeds the pool's GPUs", async () => {
    const stack = happyStack();
    hpa(stack).props.spec.maxReplicas = 30; // pool "serving": 24 GPUs, 1 GPU per replica
    expect((await runPolicy(servingAutoscalerBounded, stack)).map((f) => [f.urn, f.message.split(";")[1]])).toEqual([
      [hpa(stack).urn, " lower its max to 24 or less."],
    ]);
  });

  it("accepts a KEDA ScaledObject with maxReplicaCount, and matches Pulumi auto-names", async () => {
    const stack = happyStack().filter((r) => r.type !== "kubernetes:autoscaling/v2:HorizontalPodAutoscaler");
    delete vllm(stack).props.metadata.name;
    stack.push({
      ...hpa(happyStack()), type: "kubernetes:keda.sh/v1alpha1:ScaledObject", urn: "urn:so",
      props: { metadata: { namespace: "search" }, spec: { scaleTargetRef: { name: "search-llm-1a2b3c4" }, minReplicaCount: 1, maxReplicaCount: 8 } },
    });
    expect(await runPolicy(servingAutoscalerBounded, stack)).toEqual([]);
    stack[stack.length - 1].props.spec.maxReplicaCount = undefined;
    expect((await runPolicy(servingAutoscalerBounded, stack))[0].message).toMatch(/ScaledObject of serving Deployment "search-llm" has no usable max/);
  });
});

describe("thermal-aware-scheduling", () => {
  it("reports GPU workloads on a large pool that bypass gpk-scheduler", async () => {
    const stack = happyStack();
    delete vllm(stack).props.spec.template.spec.schedulerName;
    const found = await runPolicy(thermalAwareScheduling, stack);
    expect(found).toEqual([{
      urn: vllm(stack).urn,
      message: 'The pod template of "search-llm" (spec.template.spec) can land on large GPU pool(s) "serving" but uses scheduler "default-scheduler"; set `schedulerName: gpk-scheduler`.',
    }]);
    // The serving pool has 24 GPUs: at a threshold of 24 it is no longer "large".
    expect(await runPolicy(thermalAwareScheduling, stack, { thermalAwareAboveGpus: 32 })).toEqual([]);
  });

  it("reports large pools when the extender is not thermal-aware", async () => {
    const stack = happyStack();
    byName(stack, "extender").props.thermalAware = false;
    const found = await runPolicy(thermalAwareScheduling, stack, { thermalAwareAboveGpus: 24 });
    expect(found.map((f) => f.urn)).toEqual([byName(stack, "gpk-training").urn]);
  });
});

describe("ray-gpus-consistent", () => {
  it("reports a num-gpus that differs from the container limit; an unset one follows the limit, as KubeRay derives it", async () => {
    const stack = happyStack();
    worker(stack).rayStartParams["num-gpus"] = "4";
    expect((await runPolicy(rayGpusConsistent, stack)).map((f) => f.message)).toEqual([
      `Ray worker group "h100" (spec.workerGroupSpecs[0]) starts Ray with num-gpus 4 but its container is limited to 8 ${GPU_RESOURCE}; ` +
        "remove num-gpus from `rayStartParams` and GPU keys from `resources` (KubeRay derives num-gpus from the limit).",
    ]);
    delete worker(stack).rayStartParams["num-gpus"];
    expect(await runPolicy(rayGpusConsistent, stack)).toEqual([]);
    worker(stack).resources = { GPU: "2" }; // the group's resources field overrides the limit
    expect((await runPolicy(rayGpusConsistent, stack))[0].message).toMatch(/starts Ray with num-gpus 2 but its container is limited to 8/);
  });

  it("checks the head group too", async () => {
    const stack = happyStack();
    byName(stack, "research-ray").props.spec.headGroupSpec.rayStartParams["num-gpus"] = "1";
    expect((await runPolicy(rayGpusConsistent, stack))[0].message).toMatch(/^Ray headGroupSpec/);
  });
});

describe("ray-kuberay-valid", () => {
  it("reports what KubeRay's operator refuses, at its path", async () => {
    const stack = happyStack();
    expect(await runPolicy(rayClusterKubeRayValid, stack)).toEqual([]);
    worker(stack).resources = { "gpk-node-slot": "1" };
    worker(stack).rayStartParams.labels = "a=b";
    expect((await runPolicy(rayClusterKubeRayValid, stack)).map((f) => f.message)).toEqual([
      'spec.workerGroupSpecs[0].rayStartParams.num-gpus: KubeRay refuses rayStartParams["num-gpus"] beside the group\'s `resources` field; set it in `resources` only.',
      'spec.workerGroupSpecs[0].rayStartParams.labels: KubeRay refuses rayStartParams["labels"]; use the group\'s `labels` field.',
    ]);
  });
});

describe("ray-job-bounded", () => {
  it("reports a RayJob without a deadline, or with more resubmissions than the bound", async () => {
    const stack = happyStack();
    expect(await runPolicy(rayJobBounded, stack)).toEqual([]);
    const job = byName(stack, "research-smoke", "kubernetes:ray.io/v1:RayJob").props.spec;
    delete job.activeDeadlineSeconds;
    job.backoffLimit = 5;
    expect((await runPolicy(rayJobBounded, stack)).map((f) => f.message)).toEqual([
      'RayJob "research-smoke" sets no activeDeadlineSeconds, so a hung job holds its GPUs until someone deletes it; set `spec.activeDeadlineSeconds`.',
      'RayJob "research-smoke" may be resubmitted 5 times (spec.backoffLimit), each a full rerun; set it at most 3.',
    ]);
    expect(await runPolicy(rayJobBounded, stack, { maxRayJobBackoffLimit: 5 })).toHaveLength(1);
  });
});

describe("ray-worker-replicas-bounded", () => {
  it("reports a worker group without maxReplicas, or above the configured bound", async () => {
    const stack = happyStack();
    delete worker(stack).maxReplicas;
    expect((await runPolicy(rayWorkerReplicasBounded, stack))[0].message).toMatch(/sets no maxReplicas, so KubeRay allows 2147483647 workers/);
    worker(stack).maxReplicas = 4;
    expect(await runPolicy(rayWorkerReplicasBounded, stack, { maxRayWorkerReplicas: 4 })).toEqual([]);
    expect((await runPolicy(rayWorkerReplicasBounded, stack, { maxRayWorkerReplicas: 3 }))[0].message).toMatch(/set it between 1 and 3/);
  });
});

describe("serving-autoscaler-metrics-source", () => {
  it("reports an HPA on a custom metric when nothing in the stack serves it, unless its endpoint declares an external source", async () => {
    const stack = happyStack();
    expect(await runPolicy(servingAutoscalerMetricsSource, stack)).toEqual([]);
    const bare = stack.filter((r) => r.name !== "gpk-prometheus-adapter");
    const found = await runPolicy(servingAutoscalerMetricsSource, bare);
    expect(found.map((f) => f.message)).toEqual([
      'HorizontalPodAutoscaler "search-llm" scales on vllm:num_requests_waiting from the custom metrics API, and nothing in the stack serves it; ' +
        "set `gpk:telemetry.servingMetrics.source` to prometheus-adapter (the kit installs it) or keda, or to external if you run an adapter.",
    ]);
    expect(found[0].urn).toBe(byName(bare, "search-llm", "kubernetes:autoscaling/v2:HorizontalPodAutoscaler").urn);
    const declared: FixtureResource[] = [...bare, { ...byName(bare, "search-llm", "kubernetes:apps/v1:Deployment"), type: "gpk:index:VllmServing", urn: "urn:pulumi:t::p::gpk:index:VllmServing::search-llm", props: { name: "search-llm", namespace: "search", metricsSource: "external" } }];
    expect(await runPolicy(servingAutoscalerMetricsSource, declared)).toEqual([]);
  });
});
