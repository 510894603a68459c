import { beforeAll, describe, expect, it } from "vitest";
import { renderStack, type RenderedStack } from "../../cli/render";
import { validateResources } from "../../cli/render/validate";
import { expectTenant, one, parentOf } from "./helpers";

let stack: RenderedStack;
beforeAll(async () => {
  stack = await renderStack("staging");
});

describe("staging stack (new eks cluster)", () => {
  it("creates a private EKS cluster with its own role and API authentication", () => {
    const cluster = one(stack, "aws:eks/cluster:Cluster", "gpk-cluster").inputs as any;
    expect(cluster).toMatchObject({
      name: "gpk-staging", version: "1.33",
      vpcConfig: { subnetIds: ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"], endpointPrivateAccess: true, endpointPublicAccess: false },
      accessConfig: { authenticationMode: "API" },
    });
    const policy = one(stack, "aws:iam/rolePolicyAttachment:RolePolicyAttachment", "gpk-cluster-cluster-policy").inputs as any;
    expect(policy.policyArn).toBe("arn:aws:iam::aws:policy/AmazonEKSClusterPolicy");
    expect(parentOf(stack, one(stack, "aws:eks/cluster:Cluster", "gpk-cluster"))?.type).toBe("gpk:index:EksCluster");
  });

  it("joins the L40S pool to the new cluster", () => {
    const group = one(stack, "aws:eks/nodeGroup:NodeGroup", "gpk-inference").inputs as any;
    expect(group).toMatchObject({ clusterName: "gpk-staging", amiType: "AL2023_x86_64_NVIDIA", instanceTypes: ["g6e.xlarge"], scalingConfig: { minSize: 1, desiredSize: 2, maxSize: 4 } });
    expect(one(stack, "gpk:index:GpuNodeGroup", "gpk-inference").inputs).toMatchObject({ product: "l40s", gpusPerNode: 1, gpuCapacity: 4 });
  });

  it("creates both tenants", () => {
    expectTenant(stack, "ml-platform", 2, "gpk:ml-platform");
    expectTenant(stack, "research", 1, "gpk:research");
  });

  it("renders only schema-valid Kubernetes objects", () => {
    expect(validateResources(stack.resources).schemaErrors).toEqual([]);
  });
});
