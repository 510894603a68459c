import { beforeAll, describe, expect, it } from "vitest";
import { renderStack, type RenderedResource, type RenderedStack } from "../../cli/render";
import { validateResources } from "../../cli/render/validate";
import { kuberayStart } from "../../components/kuberay-start";
import { IMAGES, imageRef } from "../../components/pins";
import { one } from "./helpers";

let stack: RenderedStack;
let component: RenderedResource;
let children: RenderedResource[];

beforeAll(async () => {
  stack = await renderStack("local");
  component = one(stack, "gpk:index:RayCluster", "gpk-ray");
  children = stack.resources.filter((r) => r.parent === component.urn);
});

describe("local Ray cluster", () => {
  it("runs for team-a on the simulated H100s without Redis, with the stack's RayJob", () => {
    expect(component.parent).toBe(one(stack, "gpk:index:Platform", "gpk").urn);
    expect(children.map((c) => c.type).sort()).toEqual([
      "kubernetes:helm.sh/v3:Release",
      "kubernetes:networking.k8s.io/v1:NetworkPolicy",
      "kubernetes:policy/v1:PodDisruptionBudget",
      "kubernetes:ray.io/v1:RayCluster",
      "kubernetes:ray.io/v1:RayJob",
    ]);
    expect(component.inputs).toMatchObject({ clusterName: "ray", namespace: "team-a", maxGpus: 4, gcsFaultTolerance: false });
  });

  it("asks for two simulated GPUs per worker and runs the image without CUDA", () => {
    const ray = children.find((c) => c.type === "kubernetes:ray.io/v1:RayCluster")!.inputs as any;
    expect(ray.metadata.namespace).toBe("team-a");
    const [worker] = ray.spec.workerGroupSpecs;
    expect(kuberayStart(ray).workerGroups[0]!.args).toContain("--num-gpus=2");
    expect(worker.template.spec.containers[0].resources.limits["nvidia.com/gpu"]).toBe("2");
    expect(worker.template.spec.containers[0].image).toBe(imageRef(IMAGES.ray));
    expect(worker.template.spec.tolerations).toEqual([{ key: "nvidia.com/gpu", operator: "Equal", value: "present", effect: "NoSchedule" }]);
    expect([worker.minReplicas, worker.maxReplicas]).toEqual([0, 2]);
    expect(ray.spec).not.toHaveProperty("gcsFaultToleranceOptions");
  });

  it("renders only schema-valid objects, the RayCluster checked against the KubeRay CRD", () => {
    expect(validateResources(children)).toEqual({ schemaErrors: [], unvalidatedKinds: [], validatedObjects: 4 });
  });
});
