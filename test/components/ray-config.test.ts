/** `gpk:ray` in the stack config: defaults, and one exact message per mistake, naming the key path. */
import { describe, expect, it } from "vitest";
import { ConfigError, parseStackConfig } from "../../stacks/load-config";
import { quantityValue } from "../../stacks/config-ray-checks";

/** A valid eks stack with a Ray cluster on a dedicated pool; each case changes one thing. */
function stack(): Record<string, any> {
  return {
    target: "eks",
    cluster: { mode: "adopt", name: "gpk", subnetIds: ["subnet-a"] },
    nodePools: [
      { name: "training", instanceType: "p5.48xlarge", desiredNodes: 2, maxNodes: 4, dedicatedTenant: "research" },
      { name: "serving", instanceType: "g6e.12xlarge", desiredNodes: 1, maxNodes: 4 },
      { name: "shared", instanceType: "g6.xlarge", desiredNodes: 1, maxNodes: 4, timeSlicingReplicas: 4 },
    ],
    tenants: [
      { name: "research", gpuQuota: 24, cpuQuota: "512", memoryQuota: "4Ti", allowedPools: ["training", "shared"] },
      { name: "search", gpuQuota: 8, allowedPools: ["serving"] },
    ],
    ray: {
      tenant: "research",
      workerGroups: [{ pool: "training", cpu: "160", memory: "1300Gi", maxReplicas: 3 }],
    },
  };
}

function problems(change: (c: Record<string, any>) => void): string[] {
  const config = stack();
  change(config);
  try {
    parseStackConfig(config);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).lines;
  }
  throw new Error("config was accepted");
}

describe("gpk:ray", () => {
  it("applies every default", () => {
    expect(parseStackConfig(stack()).ray).toEqual({
      enabled: true,
      name: "ray",
      tenant: "research",
      head: { cpu: "4", memory: "16Gi" },
      workerGroups: [{ pool: "training", cpu: "160", memory: "1300Gi", minReplicas: 0, maxReplicas: 3, idleTimeoutSeconds: 600 }],
      autoscaler: { upscalingMode: "Conservative", idleTimeoutSeconds: 300 },
      gcsFaultTolerance: { enabled: false },
      operator: "chart",
      taskRetryDelayMs: 5000,
      jobs: [],
    });
  });

  it("applies the RayJob defaults: the operator submits, a day's deadline, no resubmission", () => {
    const config = stack();
    config.ray.jobs = [{ name: "train", entrypoint: "python train.py" }];
    expect(parseStackConfig(config).ray?.jobs).toEqual([{ name: "train", entrypoint: "python train.py", submissionMode: "HTTPMode", activeDeadlineSeconds: 86400, backoffLimit: 0 }]);
  });

  it("is optional, and off when enabled is false (then nothing is cross-checked)", () => {
    const none = stack();
    delete none.ray;
    expect(parseStackConfig(none).ray).toBeUndefined();
    const off = stack();
    off.ray.enabled = false;
    off.ray.tenant = "nobody";
    expect(parseStackConfig(off).ray?.enabled).toBe(false);
  });

  it("accepts Redis deployed by the kit or given by address", () => {
    const deployed = stack();
    deployed.ray.gcsFaultTolerance = { enabled: true, redis: { deploy: true, passwordSecret: { name: "ray-redis", key: "password" } } };
    expect(parseStackConfig(deployed).ray?.gcsFaultTolerance.redis).toEqual({ deploy: true, passwordSecret: { name: "ray-redis", key: "password" }, storage: "8Gi" });
    const external = stack();
    external.ray.gcsFaultTolerance = { enabled: true, redis: { address: "redis.infra:6379", passwordSecret: { name: "r", key: "p" } } };
    expect(parseStackConfig(external).ray?.gcsFaultTolerance.redis).toMatchObject({ deploy: false, address: "redis.infra:6379" });
  });

  const cases: [string, (c: Record<string, any>) => void, string[]][] = [
    ["an unknown tenant", (c) => (c.ray.tenant = "ml"), ['gpk:ray.tenant: expected one of the tenants research, search, got "ml"']],
    ["a pool the tenant may not use", (c) => (c.ray.workerGroups[0].pool = "serving"), ['gpk:ray.workerGroups[0].pool: expected a pool tenant "research" may use (training, shared), got "serving"']],
    ["an unknown pool", (c) => (c.ray.workerGroups[0].pool = "gpu"), ['gpk:ray.workerGroups[0].pool: expected one of the pools training, serving, shared, got "gpu"']],
    ["more GPUs per worker than a node has", (c) => (c.ray.workerGroups[0].gpusPerWorker = 16), ['gpk:ray.workerGroups[0].gpusPerWorker: expected at most 8 (the GPUs of one node of pool "training"), got 16']],
    ["more workers than the pool holds", (c) => (c.ray.workerGroups[0].maxReplicas = 5), ['gpk:ray.workerGroups[0].maxReplicas: expected at most 4 (pool "training" holds 4 nodes × 1 workers of 8 GPUs), got 5']],
    ["several shared GPUs per worker", (c) => (c.ray.workerGroups[0] = { pool: "shared", gpusPerWorker: 2, cpu: "1", memory: "1Gi", maxReplicas: 1 }), ['gpk:ray.workerGroups[0].gpusPerWorker: expected 1 on time-sliced pool "shared" (a pod may hold one shared GPU), got 2']],
    ["min above max", (c) => (c.ray.workerGroups[0].minReplicas = 4), ["gpk:ray.workerGroups[0].minReplicas: expected minReplicas ≤ maxReplicas, got 4 > 3"]],
    ["a non-numeric CPU", (c) => (c.ray.workerGroups[0].cpu = "lots"), ['gpk:ray.workerGroups[0].cpu: expected a Kubernetes quantity such as "64" or "256Gi", got "lots"']],
    ["zero max replicas", (c) => (c.ray.workerGroups[0].maxReplicas = 0), ["gpk:ray.workerGroups[0].maxReplicas: expected a positive integer, got 0"]],
    ["no worker groups", (c) => (c.ray.workerGroups = []), ["gpk:ray.workerGroups: expected at least one worker group"]],
    ["a misspelt key", (c) => (c.ray.workerGroups[0].gpus = 8), ["unknown key `gpk:ray.workerGroups[0].gpus`; did you mean `gpk:ray.workerGroups[0].gpusPerWorker`?"]],
    ["an unknown upscaling mode", (c) => (c.ray.autoscaler = { upscalingMode: "Fast" }), ['gpk:ray.autoscaler.upscalingMode: expected one of "Conservative", "Default", "Aggressive", got "Fast"']],
    ["GPUs beyond the tenant's quota", (c) => (c.tenants[0].gpuQuota = 16), [`gpk:ray.workerGroups: expected at most tenant "research"'s gpuQuota of 16 GPUs at max scale, got 24 (3 × 8)`]],
    ["CPU beyond the tenant's quota", (c) => (c.tenants[0].cpuQuota = "480"), [`gpk:ray.workerGroups: expected at most tenant "research"'s cpuQuota of 480 CPUs at max scale, got 484.5 (head 4 + autoscaler 500m + 3 × 160)`]],
    ["memory beyond the tenant's quota", (c) => (c.ray.workerGroups[0].memory = "1400Gi"), [`gpk:ray.workerGroups: expected at most tenant "research"'s memoryQuota of 4Ti at max scale, got 4216.5Gi (head 16Gi + autoscaler 512Mi + 3 × 1400Gi)`]],
    ["fault tolerance without Redis", (c) => (c.ray.gcsFaultTolerance = { enabled: true }), ["gpk:ray.gcsFaultTolerance.redis: expected {deploy: true, passwordSecret} or {address, passwordSecret} when enabled is true"]],
    ["Redis both deployed and addressed", (c) => (c.ray.gcsFaultTolerance = { enabled: true, redis: { deploy: true, address: "r:6379", passwordSecret: { name: "r", key: "p" } } }), ["gpk:ray.gcsFaultTolerance.redis.address: expected no address when deploy is true (the kit deploys Redis)"]],
    ["Redis without address", (c) => (c.ray.gcsFaultTolerance = { enabled: true, redis: { passwordSecret: { name: "r", key: "p" } } }), ["gpk:ray.gcsFaultTolerance.redis.address: expected the host:port of an existing Redis (or deploy: true)"]],
    ["a Redis address without port", (c) => (c.ray.gcsFaultTolerance = { enabled: true, redis: { address: "redis", passwordSecret: { name: "r", key: "p" } } }), ['gpk:ray.gcsFaultTolerance.redis.address: expected a host:port such as "redis.example:6379", got "redis"']],
    ["a job that KubeRay would refuse to resubmit", (c) => (c.ray.jobs = [{ name: "train", entrypoint: "python t.py", backoffLimit: 2 }]), ["gpk:ray.jobs[0].backoffLimit: expected 0: KubeRay refuses backoffLimit > 0 for a job on an existing RayCluster (clusterSelector), got 2"]],
    ["a job name longer than KubeRay allows", (c) => (c.ray.jobs = [{ name: "a".repeat(48), entrypoint: "x" }]), [`gpk:ray.jobs[0].name: expected a DNS-1035 label of at most 47 characters (KubeRay's limit), got "${"a".repeat(48)}"`]],
    ["a submitter pod mode", (c) => (c.ray.jobs = [{ name: "train", entrypoint: "x", submissionMode: "K8sJobMode" }]), ['gpk:ray.jobs[0].submissionMode: expected one of "HTTPMode", "InteractiveMode", got "K8sJobMode"']],
    ["two jobs of one name", (c) => (c.ray.jobs = [{ name: "train", entrypoint: "x" }, { name: "train", entrypoint: "y" }]), ['gpk:ray.jobs[1].name: expected a unique job name, got "train" twice']],
    ["a job without a deadline", (c) => (c.ray.jobs = [{ name: "train", entrypoint: "x", activeDeadlineSeconds: 0 }]), ["gpk:ray.jobs[0].activeDeadlineSeconds: expected a positive integer, got 0"]],
    ["a password Secret without key", (c) => (c.ray.gcsFaultTolerance = { enabled: true, redis: { deploy: true, passwordSecret: { name: "r" } } }), ["gpk:ray.gcsFaultTolerance.redis.passwordSecret.key: expected a Secret key, got nothing"]],
  ];

  it.each(cases)("reports %s", (_, change, expected) => {
    expect(problems(change)).toEqual(expected);
  });

  it("reads Kubernetes quantities in base units", () => {
    expect([quantityValue("500m"), quantityValue("4"), quantityValue("2Gi"), quantityValue("1.5k"), quantityValue("4Ti")]).toEqual([0.5, 4, 2 ** 31, 1500, 4 * 2 ** 40]);
    expect(quantityValue("4x")).toBeNaN();
  });
});
