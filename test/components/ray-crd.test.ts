/**
 * The rendered RayCluster against the real KubeRay v1.7.0 CRD schema
 * (data/schemas/kuberay-v1.7.0), through the same validator `gpk preview` uses.
 */
import { describe, expect, it } from "vitest";
import type { RenderedResource } from "../../cli/render";
import { crdSchemaDirs, SchemaValidator, validateResources } from "../../cli/render/validate";
import { poolSummary } from "../../components/gpu-node-group";
import { rayClusterSpecInput, type RayClusterArgs } from "../../components/ray-cluster";
import { rayJobObject } from "../../components/ray-job";
import { rayClusterSpec } from "../../components/ray-spec";

const URN = "urn:pulumi:test::gpu-platform-kit::gpk:index:Platform$gpk:index:RayCluster$kubernetes:ray.io/v1:RayCluster::gpk-ray";
const validator = new SchemaValidator(crdSchemaDirs());

const pools = [
  poolSummary("eks", { name: "training", instanceType: "p5.48xlarge", desiredNodes: 2, maxNodes: 4, dedicatedTenant: "research" }),
  poolSummary("eks", { name: "serving", instanceType: "g6e.12xlarge", desiredNodes: 2, maxNodes: 6 }),
];

function rayCluster(args: Partial<RayClusterArgs> = {}): RenderedResource {
  const input = rayClusterSpecInput({
    target: "eks",
    namespace: "research",
    pools,
    workerGroups: [
      { pool: "training", cpu: "160", memory: "1300Gi", minReplicas: 1, maxReplicas: 3 },
      { pool: "serving", gpusPerWorker: 1, cpu: "8", memory: "64Gi", maxReplicas: 6 },
    ],
    gcsFaultTolerance: { enabled: true, redis: { deploy: true, passwordSecret: { name: "ray-redis", key: "password" } } },
    ...args,
  });
  return {
    urn: URN,
    type: "kubernetes:ray.io/v1:RayCluster",
    name: "gpk-ray",
    custom: true,
    inputs: { metadata: { name: input.name, namespace: "research" }, spec: rayClusterSpec(input) },
  };
}

function errorsOf(resource: RenderedResource) {
  const report = validateResources([resource], validator);
  // A missing CRD would pass silently as "unvalidated"; insist the object was checked.
  expect(report).toMatchObject({ validatedObjects: 1, unvalidatedKinds: [] });
  return report.schemaErrors;
}

describe("RayCluster against the KubeRay v1.7.0 CRD", () => {
  it("accepts the cluster the kit renders, with Redis deployed or given by address", () => {
    expect(errorsOf(rayCluster())).toEqual([]);
    expect(errorsOf(rayCluster({
      target: "kind",
      useGpkScheduler: true,
      autoscaler: { upscalingMode: "Default", idleTimeoutSeconds: 60 },
      gcsFaultTolerance: { enabled: true, redis: { address: "redis.shared:6379", passwordSecret: { name: "r", key: "p" } }, externalStorageNamespace: "ns" },
    }))).toEqual([]);
  });

  it("reports a worker group without groupName at its path", () => {
    const broken = rayCluster();
    delete (broken.inputs as any).spec.workerGroupSpecs[1].groupName;
    expect(errorsOf(broken)).toEqual([{ urn: URN, path: "spec.workerGroupSpecs[1].groupName", message: "is required" }]);
  });

  it("reports a non-string rayStartParams value and an unknown upscaling mode", () => {
    const broken = rayCluster();
    const spec = (broken.inputs as any).spec;
    spec.workerGroupSpecs[0].rayStartParams["num-gpus"] = 8;
    spec.autoscalerOptions.upscalingMode = "Fast";
    expect(errorsOf(broken)).toEqual([
      { urn: URN, path: "spec.autoscalerOptions.upscalingMode", message: 'must be one of "Default", "Aggressive", "Conservative"' },
      { urn: URN, path: "spec.workerGroupSpecs[0].rayStartParams.num-gpus", message: "must be string" },
    ]);
  });

  it("reports a head without a pod template", () => {
    const broken = rayCluster();
    delete (broken.inputs as any).spec.headGroupSpec.template;
    expect(errorsOf(broken)).toEqual([{ urn: URN, path: "spec.headGroupSpec.template", message: "is required" }]);
  });
});

describe("RayJob and RayService carrying the kit's cluster spec", () => {
  const clusterSpec = () => (rayCluster().inputs as any).spec;
  const wrap = (type: string, spec: Record<string, unknown>): RenderedResource => ({
    urn: `urn:pulumi:test::gpu-platform-kit::${type}::x`, type, name: "x", custom: true, inputs: { metadata: { name: "x", namespace: "research" }, spec },
  });

  it("pass the RayJob and RayService CRDs", () => {
    expect(errorsOf(wrap("kubernetes:ray.io/v1:RayJob", { entrypoint: "python train.py", shutdownAfterJobFinishes: true, rayClusterSpec: clusterSpec() }))).toEqual([]);
    expect(errorsOf(wrap("kubernetes:ray.io/v1:RayService", { serveConfigV2: "applications: []", rayClusterConfig: clusterSpec() }))).toEqual([]);
  });

  it("report a broken embedded cluster spec at its path inside the job", () => {
    const spec = clusterSpec();
    delete spec.workerGroupSpecs[0].groupName;
    const job = wrap("kubernetes:ray.io/v1:RayJob", { entrypoint: "python train.py", rayClusterSpec: spec });
    expect(errorsOf(job)).toEqual([{ urn: job.urn, path: "spec.rayClusterSpec.workerGroupSpecs[0].groupName", message: "is required" }]);
  });
});

describe("the rendered RayJob against the KubeRay v1.7.0 CRD", () => {
  const JOB_URN = "urn:pulumi:test::gpu-platform-kit::gpk:index:Platform$gpk:index:RayCluster$kubernetes:ray.io/v1:RayJob::gpk-ray-job-train";
  const job = (): RenderedResource => ({
    urn: JOB_URN,
    type: "kubernetes:ray.io/v1:RayJob",
    name: "gpk-ray-job-train",
    custom: true,
    inputs: rayJobObject("ray", "research", { name: "train", entrypoint: "python train.py", runtimeEnv: { env_vars: { A: "1" } } }) as unknown as Record<string, unknown>,
  });

  it("is valid, and a broken copy is reported at its path", () => {
    expect(errorsOf(job())).toEqual([]);
    const broken = job();
    (broken.inputs as any).spec.clusterSelector = "ray";
    (broken.inputs as any).spec.activeDeadlineSeconds = "soon";
    const paths = errorsOf(broken).map((e) => e.path).sort();
    expect(paths).toEqual(["spec.activeDeadlineSeconds", "spec.clusterSelector"]);
  });
});
