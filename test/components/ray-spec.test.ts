import { describe, expect, it } from "vitest";
import { GPK_SCHEDULER_NAME, GPU_RESOURCE } from "../../gpu";
import { poolSummary } from "../../components/gpu-node-group";
import { IMAGES, imageRef } from "../../components/pins";
import {
  headNetworkPolicySpec, kuberayOperatorValues, rayClusterArgErrors, rayClusterSpecInput, rayClusterSummary, type RayClusterArgs,
} from "../../components/ray-cluster";
import { redisStatefulSetSpec } from "../../components/ray-redis";
import { rayClusterSpec, rayVersionOf, workerDisruptionBudgetSpec } from "../../components/ray-spec";
import { kuberayProblems, kuberayStart, rayNumGpus } from "../../components/kuberay-start";

const training = poolSummary("eks", { name: "training", instanceType: "p5.48xlarge", desiredNodes: 2, maxNodes: 4, dedicatedTenant: "research" });
const serving = poolSummary("eks", { name: "serving", instanceType: "g6e.12xlarge", desiredNodes: 2, maxNodes: 6 });
const sliced = poolSummary("kind", { name: "sliced", product: "l4", gpusPerNode: 1, desiredNodes: 1, maxNodes: 2, timeSlicingReplicas: 4 });

/** A valid eks cluster on two pools; each case changes one thing. */
function args(): RayClusterArgs {
  return {
    target: "eks",
    namespace: "research",
    clusterName: "rc",
    pools: [training, serving, sliced],
    workerGroups: [
      { pool: "training", cpu: "160", memory: "1300Gi", minReplicas: 1, maxReplicas: 3, idleTimeoutSeconds: 900 },
      { pool: "serving", gpusPerWorker: 2, cpu: "20", memory: "100Gi", maxReplicas: 4 },
    ],
  };
}

function spec(a: RayClusterArgs = args()): any {
  return rayClusterSpec(rayClusterSpecInput(a));
}

const restrictedContainer = { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] }, runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } };

describe("Ray worker groups", () => {
  it("give Ray num-gpus equal to the worker container's GPU limit and request, through KubeRay's derivation", () => {
    const groups = spec().workerGroupSpecs;
    expect(groups.map((g: any) => g.groupName)).toEqual(["training", "serving"]);
    const started = kuberayStart({ metadata: { name: "ray", namespace: "research" }, spec: spec() });
    for (const [i, gpus] of [[0, "8"], [1, "2"]] as const) {
      const group = groups[i];
      const container = group.template.spec.containers[0];
      // KubeRay refuses num-gpus in rayStartParams beside `resources`; it reads the limit instead.
      expect(group.rayStartParams).toEqual({});
      expect(rayNumGpus(started.workerGroups[i]!)).toBe(Number(gpus));
      expect(container.resources.limits[GPU_RESOURCE]).toBe(gpus);
      expect(container.resources.requests).toEqual(container.resources.limits);
    }
    expect(groups[0].template.spec.containers[0].resources.limits).toEqual({ cpu: "160", memory: "1300Gi", [GPU_RESOURCE]: "8" });
  });

  it("offer the GPU product and one node slot as custom Ray resources, and the pool as a Ray label", () => {
    const [train, serve] = spec().workerGroupSpecs;
    expect(train.resources).toEqual({ "NVIDIA-H100-80GB-HBM3": "8", "gpk-node-slot": "1" });
    expect(serve.resources).toEqual({ "NVIDIA-L40S": "2", "gpk-node-slot": "1" });
    expect(train.labels).toEqual({ "gpk.dev/pool": "training" });
  });

  it("tolerate exactly their pool's taints and select their pool", () => {
    const [train, serve] = spec().workerGroupSpecs;
    expect(train.template.spec.tolerations).toEqual([
      { key: "nvidia.com/gpu", operator: "Equal", value: "present", effect: "NoSchedule" },
      { key: "gpk.dev/tenant", operator: "Equal", value: "research", effect: "NoSchedule" },
    ]);
    expect(serve.template.spec.tolerations).toEqual([{ key: "nvidia.com/gpu", operator: "Equal", value: "present", effect: "NoSchedule" }]);
    expect(train.template.spec.nodeSelector).toEqual({ "gpk.dev/pool": "training" });
    expect(serve.template.spec.nodeSelector).toEqual({ "gpk.dev/pool": "serving" });
  });

  it("use the gpk-scheduler only when the stack runs the extender", () => {
    expect(spec().workerGroupSpecs[0].template.spec).not.toHaveProperty("schedulerName");
    const on = spec({ ...args(), useGpkScheduler: true });
    expect(on.workerGroupSpecs.map((g: any) => g.template.spec.schedulerName)).toEqual([GPK_SCHEDULER_NAME, GPK_SCHEDULER_NAME]);
    expect(on.headGroupSpec.template.spec).not.toHaveProperty("schedulerName");
  });

  it("run the CUDA image on eks and the plain image on kind, both of the cluster's Ray version", () => {
    expect(spec().workerGroupSpecs[0].template.spec.containers[0].image).toBe(imageRef(IMAGES.rayGpu));
    const kind = spec({ ...args(), target: "kind" });
    expect(kind.workerGroupSpecs[0].template.spec.containers[0].image).toBe(imageRef(IMAGES.ray));
    expect(kind.headGroupSpec.template.spec.containers[0].image).toBe(imageRef(IMAGES.ray));
    expect(rayVersionOf(IMAGES.rayGpu)).toBe(rayVersionOf(IMAGES.ray));
    expect(spec().rayVersion).toBe(rayVersionOf(IMAGES.ray));
  });

  it("restart nowhere in place, get no API token and run under Pod Security restricted", () => {
    for (const group of spec().workerGroupSpecs) {
      const pod = group.template.spec;
      expect(pod.restartPolicy).toBe("Never");
      expect(pod.automountServiceAccountToken).toBe(false);
      expect(pod.securityContext).toEqual({ runAsNonRoot: true, runAsUser: 1000, runAsGroup: 100, fsGroup: 100, seccompProfile: { type: "RuntimeDefault" } });
      expect(pod.containers[0].securityContext).toEqual(restrictedContainer);
      expect(pod.containers[0].env).toEqual([{ name: "RAY_task_retry_delay_ms", value: "5000" }]);
    }
    expect(spec({ ...args(), taskRetryDelayMs: 250 }).headGroupSpec.template.spec.containers[0].env).toEqual([{ name: "RAY_task_retry_delay_ms", value: "250" }]);
  });
});

describe("Ray head", () => {
  it("does no Ray work, needs no GPU node and keeps the API token for the autoscaler sidecar", () => {
    const head = spec().headGroupSpec;
    expect(head.rayStartParams).toEqual({ "num-cpus": "0" });
    expect(head.serviceType).toBe("ClusterIP");
    const pod = head.template.spec;
    expect(pod).not.toHaveProperty("tolerations");
    expect(pod.automountServiceAccountToken).toBe(true);
    expect(pod.containers[0].resources).toEqual({ requests: { cpu: "4", memory: "16Gi" }, limits: { cpu: "4", memory: "16Gi" } });
    expect(pod.containers[0].securityContext).toEqual(restrictedContainer);
    expect(spec({ ...args(), head: { memory: "64Gi" } }).headGroupSpec.template.spec.containers[0].resources.limits).toEqual({ cpu: "4", memory: "64Gi" });
  });
});

describe("Ray autoscaling", () => {
  it("runs the in-tree autoscaler v2 with the configured bounds and leaves replicas to it", () => {
    const s = spec();
    expect(s.enableInTreeAutoscaling).toBe(true);
    expect(s.autoscalerOptions).toEqual({
      version: "v2", upscalingMode: "Conservative", idleTimeoutSeconds: 300,
      resources: { requests: { cpu: "500m", memory: "512Mi" }, limits: { cpu: "500m", memory: "512Mi" } },
      securityContext: restrictedContainer,
    });
    const [train, serve] = s.workerGroupSpecs;
    expect([train.minReplicas, train.maxReplicas, train.idleTimeoutSeconds]).toEqual([1, 3, 900]);
    expect([serve.minReplicas, serve.maxReplicas, serve.idleTimeoutSeconds]).toEqual([0, 4, 600]);
    expect(train).not.toHaveProperty("replicas");
    const aggressive = spec({ ...args(), autoscaler: { upscalingMode: "Aggressive", idleTimeoutSeconds: 30 } });
    expect(aggressive.autoscalerOptions).toMatchObject({ upscalingMode: "Aggressive", idleTimeoutSeconds: 30 });
  });

  it("summarises GPUs at max scale for the policy packs", () => {
    const a = args();
    expect(rayClusterSummary(a, rayClusterSpecInput(a))).toEqual({
      clusterName: "rc", namespace: "research", operatorNamespace: "gpk-system", watchNamespaces: ["research"],
      workerGroups: [
        { groupName: "training", pool: "training", gpusPerWorker: 8, minReplicas: 1, maxReplicas: 3 },
        { groupName: "serving", pool: "serving", gpusPerWorker: 2, minReplicas: 0, maxReplicas: 4 },
      ],
      maxGpus: 32, gcsFaultTolerance: false, schedulerName: "default-scheduler",
    });
  });

  it("caps each group's disruption to one worker per drain", () => {
    expect(workerDisruptionBudgetSpec("rc", "training")).toEqual({
      maxUnavailable: 1,
      unhealthyPodEvictionPolicy: "AlwaysAllow",
      selector: { matchLabels: { "ray.io/cluster": "rc", "ray.io/node-type": "worker", "ray.io/group": "training" } },
    });
  });
});

describe("GCS fault tolerance", () => {
  const secret = { name: "ray-redis", key: "password" };

  it("is off unless enabled", () => {
    expect(spec()).not.toHaveProperty("gcsFaultToleranceOptions");
    expect(spec({ ...args(), gcsFaultTolerance: { enabled: false, redis: { deploy: true, passwordSecret: secret } } })).not.toHaveProperty("gcsFaultToleranceOptions");
  });

  it("points the head at the deployed Redis, both reading the password from the same Secret", () => {
    const a: RayClusterArgs = { ...args(), gcsFaultTolerance: { enabled: true, redis: { deploy: true, passwordSecret: secret } } };
    expect(spec(a).gcsFaultToleranceOptions).toEqual({
      redisAddress: "rc-redis.research.svc:6379",
      redisPassword: { valueFrom: { secretKeyRef: { name: "ray-redis", key: "password" } } },
    });
    const redis = redisStatefulSetSpec({ clusterName: "rc", namespace: "research", tenant: "research", passwordSecret: secret });
    const container = redis.template.spec.containers[0]!;
    expect(container.env).toEqual([{ name: "REDIS_PASSWORD", valueFrom: { secretKeyRef: { name: "ray-redis", key: "password" } } }]);
    expect(container.args).toEqual(["redis-server", "--requirepass", "$(REDIS_PASSWORD)", "--appendonly", "yes", "--dir", "/data"]);
    expect(container.image).toBe(imageRef(IMAGES.redis));
    expect(redis.template.spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 999, fsGroup: 1000 });
    expect(redis.volumeClaimTemplates[0]!.spec.resources.requests.storage).toBe("8Gi");
    expect(rayClusterSummary(a, rayClusterSpecInput(a))).toMatchObject({ gcsFaultTolerance: true, redisAddress: "rc-redis.research.svc:6379" });
  });

  it("uses an existing Redis by address", () => {
    const a: RayClusterArgs = {
      ...args(),
      gcsFaultTolerance: { enabled: true, redis: { address: "redis.shared:6379", passwordSecret: secret }, externalStorageNamespace: "research-rc" },
    };
    expect(spec(a).gcsFaultToleranceOptions).toEqual({
      redisAddress: "redis.shared:6379",
      redisPassword: { valueFrom: { secretKeyRef: { name: "ray-redis", key: "password" } } },
      externalStorageNamespace: "research-rc",
    });
  });
});

describe("RayCluster arguments", () => {
  const errors = (change: (a: RayClusterArgs) => void) => {
    const a = args();
    change(a);
    return rayClusterArgErrors(a);
  };

  it("accepts the valid cluster", () => {
    expect(rayClusterArgErrors(args())).toEqual([]);
  });

  it.each<[string, (a: RayClusterArgs) => void, string, string]>([
    ["an unknown pool", (a) => (a.workerGroups[1]!.pool = "gpu"), "workerGroups[1].pool", 'expected one of the pools training, serving, sliced, got "gpu"'],
    ["more GPUs than a node has", (a) => (a.workerGroups[1]!.gpusPerWorker = 8), "workerGroups[1].gpusPerWorker", 'expected at most 4 (the GPUs of one node of pool "serving"), got 8'],
    ["more workers than the pool holds", (a) => (a.workerGroups[1]!.maxReplicas = 13), "workerGroups[1].maxReplicas", 'expected at most 12 (pool "serving" holds 6 nodes × 2 workers of 2 GPUs), got 13'],
    ["min above max", (a) => (a.workerGroups[0]!.minReplicas = 4), "workerGroups[0].minReplicas", "expected minReplicas ≤ maxReplicas, got 4 > 3"],
    ["two groups of one name", (a) => (a.workerGroups[1]!.groupName = "training"), "workerGroups[1].groupName", 'expected a unique worker group name, got "training" twice (set `groupName`)'],
    ["several GPUs of a time-sliced pool", (a) => (a.workerGroups[1] = { pool: "sliced", gpusPerWorker: 2, cpu: "1", memory: "1Gi", maxReplicas: 1 }), "workerGroups[1].gpusPerWorker", 'expected 1 on time-sliced pool "sliced" (a pod may hold one shared GPU), got 2'],
    ["fault tolerance without Redis", (a) => (a.gcsFaultTolerance = { enabled: true }), "gcsFaultTolerance.redis", "expected `{deploy: true, passwordSecret}` or `{address, passwordSecret}` when GCS fault tolerance is enabled"],
    ["Redis without address", (a) => (a.gcsFaultTolerance = { enabled: true, redis: { passwordSecret: { name: "s", key: "k" } } }), "gcsFaultTolerance.redis.address", "expected the host:port of an existing Redis (or `deploy: true`)"],
  ])("reports %s with its argument path", (_, change, propertyPath, message) => {
    expect(errors(change)).toEqual([{ propertyPath, reason: `\`${propertyPath}\`: ${message}` }]);
  });

  it("checks that groups sharing a pool fit it together", () => {
    const found = errors((a) => a.workerGroups.push({ pool: "training", groupName: "training-2", cpu: "1", memory: "1Gi", maxReplicas: 2 }));
    expect(found).toEqual([{ propertyPath: "workerGroups[0].maxReplicas", reason: '`workerGroups[0].maxReplicas`: expected the groups on pool "training" to need at most its 32 GPUs at max scale, got 40' }]);
  });
});

describe("KubeRay operator", () => {
  it("watches only the tenant namespace with namespaced RBAC", () => {
    expect(kuberayOperatorValues(["research"])).toEqual({
      rbacEnable: true, singleNamespaceInstall: true, crNamespacedRbacEnable: true, watchNamespace: ["research"],
      podSecurityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
    });
  });

  it("may reach the head's dashboard, and the head may reach the API server", () => {
    const np = headNetworkPolicySpec("rc", "gpk-system");
    expect(np.podSelector).toEqual({ matchLabels: { "ray.io/cluster": "rc", "ray.io/node-type": "head" } });
    expect(np.ingress[0]!.from[0]!.namespaceSelector).toEqual({ matchLabels: { "kubernetes.io/metadata.name": "gpk-system" } });
    expect(np.ingress[0]!.ports).toEqual([{ protocol: "TCP", port: 8265 }]);
    expect(np.egress[0]!.ports.map((p) => p.port)).toEqual([443, 6443]);
  });
});
