import { beforeAll, describe, expect, it } from "vitest";
import { renderStack, type RenderedResource, type RenderedStack } from "../../cli/render";
import { validateResources } from "../../cli/render/validate";
import { kuberayStart } from "../../components/kuberay-start";
import { IMAGES, imageRef } from "../../components/pins";
import { one } from "./helpers";

let stack: RenderedStack;
let component: RenderedResource;
let children: RenderedResource[];
const child = (type: string) => {
  const found = children.filter((c) => c.type === type);
  expect(found, type).toHaveLength(1);
  return found[0]!.inputs as any;
};

beforeAll(async () => {
  stack = await renderStack("prod");
  component = one(stack, "gpk:index:RayCluster", "gpk-ray");
  children = stack.resources.filter((r) => r.parent === component.urn);
});

describe("prod Ray cluster", () => {
  it("is a RayCluster component under the platform, owning the operator, the cluster and its guard rails", () => {
    expect(component.parent).toBe(one(stack, "gpk:index:Platform", "gpk").urn);
    expect(children.map((c) => c.type).sort()).toEqual([
      "kubernetes:apps/v1:StatefulSet",
      "kubernetes:core/v1:Service",
      // The workers' account for the checkpoint store's Pod Identity (research has a store).
      "kubernetes:core/v1:ServiceAccount",
      "kubernetes:helm.sh/v3:Release",
      "kubernetes:networking.k8s.io/v1:NetworkPolicy",
      "kubernetes:policy/v1:PodDisruptionBudget",
      "kubernetes:ray.io/v1:RayCluster",
    ]);
    expect(component.inputs).toEqual({
      clusterName: "research-ray", namespace: "research", operatorNamespace: "gpk-system", watchNamespaces: ["research"],
      workerGroups: [{ groupName: "training", pool: "training", gpusPerWorker: 8, minReplicas: 1, maxReplicas: 3 }],
      maxGpus: 24, gcsFaultTolerance: true, redisAddress: "research-ray-redis.research.svc:6379", schedulerName: "gpk-scheduler",
    });
  });

  it("installs the pinned KubeRay operator in gpk-system, watching only the research namespace", () => {
    expect(child("kubernetes:helm.sh/v3:Release")).toMatchObject({
      chart: "kuberay-operator", version: "1.7.0", namespace: "gpk-system",
      repositoryOpts: { repo: "https://ray-project.github.io/kuberay-helm/" },
      values: { singleNamespaceInstall: true, watchNamespace: ["research"], crNamespacedRbacEnable: true },
    });
  });

  it("runs 8-GPU workers on the dedicated training pool, KubeRay deriving num-gpus 8 from the limit", () => {
    const ray = child("kubernetes:ray.io/v1:RayCluster");
    expect(ray).toMatchObject({ apiVersion: "ray.io/v1", kind: "RayCluster", metadata: { name: "research-ray", namespace: "research" } });
    const [worker] = ray.spec.workerGroupSpecs;
    const container = worker.template.spec.containers[0];
    expect(worker.rayStartParams).toEqual({});
    expect(kuberayStart(ray).workerGroups[0]!.args).toContain("--num-gpus=8");
    expect(container.resources.limits["nvidia.com/gpu"]).toBe("8");
    expect(container.image).toBe(imageRef(IMAGES.rayGpu));
    expect(worker.template.spec.nodeSelector).toEqual({ "gpk.dev/pool": "training" });
    expect(worker.template.spec.tolerations).toContainEqual({ key: "gpk.dev/tenant", operator: "Equal", value: "research", effect: "NoSchedule" });
    expect([worker.minReplicas, worker.maxReplicas, worker.idleTimeoutSeconds]).toEqual([1, 3, 900]);
    expect(ray.spec.headGroupSpec.rayStartParams["num-cpus"]).toBe("0");
    expect(ray.spec.autoscalerOptions.version).toBe("v2");
  });

  it("keeps the GCS state in the Redis it deploys, both reading the same password Secret", () => {
    const ray = child("kubernetes:ray.io/v1:RayCluster");
    const service = child("kubernetes:core/v1:Service");
    const redis = child("kubernetes:apps/v1:StatefulSet");
    expect(ray.spec.gcsFaultToleranceOptions.redisAddress).toBe(`${service.metadata.name}.${service.metadata.namespace}.svc:6379`);
    expect(service.spec.selector).toEqual(redis.spec.selector.matchLabels);
    expect(redis.spec.template.spec.containers[0].env[0].valueFrom).toEqual(ray.spec.gcsFaultToleranceOptions.redisPassword.valueFrom);
    expect(redis.spec.template.spec.containers[0].env[0].valueFrom.secretKeyRef).toEqual({ name: "ray-redis", key: "password" });
  });

  it("budgets disruptions of the worker pods KubeRay labels for this cluster", () => {
    expect(child("kubernetes:policy/v1:PodDisruptionBudget").spec.selector.matchLabels).toEqual({
      "ray.io/cluster": "research-ray", "ray.io/node-type": "worker", "ray.io/group": "training",
    });
  });

  it("renders only schema-valid objects, the RayCluster checked against the KubeRay CRD", () => {
    const report = validateResources(children);
    expect(report).toEqual({ schemaErrors: [], unvalidatedKinds: [], validatedObjects: 6 });
  });

  it("reports the rendered RayCluster with a worker group stripped of groupName, at its path", () => {
    const rendered = children.find((c) => c.type === "kubernetes:ray.io/v1:RayCluster")!;
    const broken: RenderedResource = JSON.parse(JSON.stringify(rendered));
    delete (broken.inputs as any).spec.workerGroupSpecs[0].groupName;
    expect(validateResources([broken]).schemaErrors).toEqual([{ urn: rendered.urn, path: "spec.workerGroupSpecs[0].groupName", message: "is required" }]);
  });
});
