import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { renderStack, type RenderedStack } from "../../cli/render";
import { validateResources } from "../../cli/render/validate";
import { expectTenant, ofType, one, parentOf } from "./helpers";
import { IMAGES, imageRef } from "../../components/pins";

let stack: RenderedStack;
beforeAll(async () => {
  stack = await renderStack("prod");
});

describe("prod stack (eks)", () => {
  it("adopts the existing cluster and builds a kubeconfig from it", () => {
    expect(ofType(stack, "aws:eks/cluster:Cluster")).toEqual([]);
    const provider = one(stack, "pulumi:providers:kubernetes", "gpk-k8s");
    const kubeconfig = parse(String((provider.inputs as any).kubeconfig));
    expect(kubeconfig.clusters[0].name).toBe("gpk-prod");
    expect(kubeconfig.users[0].user.exec.args).toEqual(["eks", "get-token", "--cluster-name", "gpk-prod", "--output", "json"]);
  });

  it("creates one NVIDIA node group per pool with taints, GFD labels and least-privilege roles", () => {
    const groups = ofType(stack, "aws:eks/nodeGroup:NodeGroup");
    expect(groups.map((g) => g.name).sort()).toEqual(["gpk-inference-mig", "gpk-serving", "gpk-training"]);
    const training = one(stack, "aws:eks/nodeGroup:NodeGroup", "gpk-training").inputs as any;
    expect(training).toMatchObject({
      amiType: "AL2023_x86_64_NVIDIA", instanceTypes: ["p5.48xlarge"], clusterName: "gpk-prod",
      scalingConfig: { minSize: 2, desiredSize: 2, maxSize: 4 },
      subnetIds: ["subnet-0f1e2d3c4b5a60001", "subnet-0f1e2d3c4b5a60002", "subnet-0f1e2d3c4b5a60003"],
    });
    expect(training.taints).toEqual([
      { key: "nvidia.com/gpu", value: "present", effect: "NO_SCHEDULE" },
      { key: "gpk.dev/tenant", value: "research", effect: "NO_SCHEDULE" },
    ]);
    expect(training.labels).toMatchObject({ "nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3", "nvidia.com/gpu.count": "8", "gpk.dev/pool": "training", "gpk.dev/tenant": "research" });
    expect(training.nodeRoleArn).toMatch(/^arn:aws:iam::\d+:role\/gpk-training-node/);
    const serving = one(stack, "aws:eks/nodeGroup:NodeGroup", "gpk-serving").inputs as any;
    expect(serving.labels).toMatchObject({ "nvidia.com/gpu.product": "NVIDIA-L40S", "nvidia.com/gpu.count": "4" });
    const pool = one(stack, "gpk:index:GpuNodeGroup", "gpk-training");
    expect(pool.inputs).toMatchObject({ gpuCapacity: 32, dedicatedTenant: "research" });
    const attachments = stack.resources.filter((r) => r.type === "aws:iam/rolePolicyAttachment:RolePolicyAttachment" && r.parent === pool.urn);
    expect(attachments.map((a) => (a.inputs as any).policyArn).sort()).toEqual([
      "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
      "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
      "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    ]);
    expect(parentOf(stack, one(stack, "aws:eks/nodeGroup:NodeGroup", "gpk-training"))?.urn).toBe(pool.urn);
  });

  it("installs the pinned NVIDIA device plugin chart with one rendered config per pool", () => {
    const release = one(stack, "kubernetes:helm.sh/v3:Release", "gpk-device-plugin").inputs as any;
    expect(release).toMatchObject({ chart: "nvidia-device-plugin", version: "0.17.1", namespace: "gpk-node", repositoryOpts: { repo: "https://nvidia.github.io/k8s-device-plugin" } });
    expect(Object.keys(release.values.config.map).sort()).toEqual(["inference-mig", "serving", "training"]);
    expect(parse(release.values.config.map["inference-mig"]).flags.migStrategy).toBe("mixed");
    const training = parse(release.values.config.map.training);
    expect(training).toEqual({
      version: "v1",
      flags: { migStrategy: "none", failOnInitError: true, plugin: { passDeviceSpecs: false, deviceListStrategy: ["envvar"], deviceIDStrategy: "uuid" } },
    });
    expect(release.values.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions).toEqual([
      { key: "gpk.dev/pool", operator: "In", values: ["serving", "training", "inference-mig"] },
    ]);
    expect(release.values.tolerations).toEqual([
      { key: "nvidia.com/gpu", operator: "Equal", value: "present", effect: "NoSchedule" },
      { key: "gpk.dev/tenant", operator: "Equal", value: "research", effect: "NoSchedule" },
    ]);
  });

  it("cuts the MIG pool's H100s with NVIDIA's pinned MIG manager, labels its nodes and caps MIG devices in every quota", () => {
    const group = one(stack, "aws:eks/nodeGroup:NodeGroup", "gpk-inference-mig").inputs as any;
    expect(group.labels).toMatchObject({
      "nvidia.com/mig.config": "all-1g.10gb", "nvidia.com/mig.strategy": "mixed",
      "nvidia.com/mig-1g.10gb.count": "56", "nvidia.com/mig-1g.10gb.memory": "9984",
      "nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3", "nvidia.com/gpu.count": "8",
    });
    expect(one(stack, "gpk:index:GpuNodeGroup", "gpk-inference-mig").inputs).toMatchObject({
      gpuCapacity: 0, migCapacity: { "nvidia.com/mig-1g.10gb": 112 }, nodeResources: { "nvidia.com/mig-1g.10gb": 56 },
      mig: { strategy: "mixed", configName: "all-1g.10gb", devicesPerGpu: { "1g.10gb": 7 } },
    });
    const ds = one(stack, "kubernetes:apps/v1:DaemonSet", "gpk-mig-manager").inputs as any;
    const pod = ds.spec.template.spec;
    expect(pod.containers[0].image).toBe(imageRef(IMAGES.migManager));
    expect(pod.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions).toEqual([
      { key: "gpk.dev/pool", operator: "In", values: ["inference-mig"] },
    ]);
    expect(pod.containers[0].env).toContainEqual({ name: "CONFIG_FILE", value: "/mig-parted-config/config.yaml" });
    expect(ds.metadata.namespace).toBe("gpk-node");
    const config = parse((one(stack, "kubernetes:core/v1:ConfigMap", "gpk-mig-manager-config").inputs as any).data["config.yaml"]);
    expect(config).toEqual({
      version: "v1",
      "mig-configs": {
        "all-disabled": [{ devices: "all", "mig-enabled": false }],
        "all-1g.10gb": [{ devices: "all", "mig-enabled": true, "mig-devices": { "1g.10gb": 7 } }],
      },
    });
    const clusterRole = one(stack, "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole", "gpk-mig-manager-cluster").inputs as any;
    expect(JSON.stringify(clusterRole.rules)).not.toContain("*");
    const quota = (name: string) => (one(stack, "kubernetes:core/v1:ResourceQuota", `gpk-tenant-${name}-quota`).inputs as any).spec.hard;
    expect(quota("assistants")).toMatchObject({ "requests.nvidia.com/gpu": "0", "requests.nvidia.com/mig-1g.10gb": "56" });
    expect(quota("search")).toMatchObject({ "requests.nvidia.com/gpu": "8", "requests.nvidia.com/mig-1g.10gb": "0" });
  });

  it("gives research a versioned, locked, private checkpoint bucket its Ray pods reach through Pod Identity", () => {
    const bucket = "gpk-gpk-prod-research-checkpoints";
    const store = one(stack, "gpk:index:CheckpointStore", "gpk-checkpoints-research");
    expect(store.inputs).toMatchObject({ bucket, managed: true, storageUri: `s3://${bucket}/ray/`, noncurrentVersionDays: 30, objectLockDays: 7 });
    const child = (type: string, name: string) => {
      const r = one(stack, type, name);
      expect(parentOf(stack, r)?.urn).toBe(store.urn);
      return r.inputs as any;
    };
    expect(child("aws:s3/bucket:Bucket", "gpk-checkpoints-research")).toMatchObject({ bucket, objectLockEnabled: true });
    expect(child("aws:s3/bucketVersioning:BucketVersioning", "gpk-checkpoints-research-versioning").versioningConfiguration).toEqual({ status: "Enabled" });
    expect(child("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "gpk-checkpoints-research-public-access")).toMatchObject({ blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true });
    expect(child("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "gpk-checkpoints-research-encryption").rules).toEqual([{ applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms" }, bucketKeyEnabled: true }]);
    expect(child("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "gpk-checkpoints-research-lifecycle").rules.map((r: any) => r.id)).toEqual(["expire-noncurrent-versions", "abort-incomplete-multipart-uploads"]);
    expect(child("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration", "gpk-checkpoints-research-object-lock").rule).toEqual({ defaultRetention: { mode: "GOVERNANCE", days: 7 } });
    const policy = JSON.parse(child("aws:s3/bucketPolicy:BucketPolicy", "gpk-checkpoints-research-policy").policy);
    expect(policy.Statement.map((st: any) => [st.Sid, st.Effect])).toEqual([["DenyInsecureTransport", "Deny"], ["DenyDataToOtherPrincipals", "Deny"]]);
    const trust = JSON.parse(child("aws:iam/role:Role", "gpk-checkpoints-research-role").assumeRolePolicy);
    expect(trust.Statement[0]).toEqual({ Effect: "Allow", Principal: { Service: "pods.eks.amazonaws.com" }, Action: ["sts:AssumeRole", "sts:TagSession"] });
    const associations = ofType(stack, "aws:eks/podIdentityAssociation:PodIdentityAssociation").map((a) => a.inputs as any);
    expect(associations.map((a) => [a.namespace, a.serviceAccount])).toEqual([["research", "research-ray"], ["research", "research-ray-worker"]]);
    // The Ray pods carry the URI; the workers run as the associated service account.
    const ray = one(stack, "kubernetes:ray.io/v1:RayCluster", "gpk-ray").inputs as any;
    const env = (c: any) => c.env.find((e: any) => e.name === "GPK_CHECKPOINT_STORAGE")?.value;
    expect(env(ray.spec.headGroupSpec.template.spec.containers[0])).toBe(`s3://${bucket}/ray/`);
    expect(env(ray.spec.workerGroupSpecs[0].template.spec.containers[0])).toBe(`s3://${bucket}/ray/`);
    expect(ray.spec.workerGroupSpecs[0].template.spec.serviceAccountName).toBe("research-ray-worker");
    expect((one(stack, "kubernetes:core/v1:ServiceAccount", "gpk-ray-worker").inputs as any).automountServiceAccountToken).toBe(false);
  });

  it("installs the pinned dcgm-exporter chart on every GPU pool, with alert rules", () => {
    const release = one(stack, "kubernetes:helm.sh/v3:Release", "gpk-telemetry").inputs as any;
    expect(release).toMatchObject({ chart: "dcgm-exporter", version: "4.1.1", namespace: "gpk-node" });
    expect(release.values.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values).toEqual(["serving", "training", "inference-mig"]);
    expect(one(stack, "gpk:index:GpuTelemetry", "gpk-telemetry").inputs).toMatchObject({ target: "eks", pools: ["serving", "training", "inference-mig"] });
    const rule = one(stack, "kubernetes:monitoring.coreos.com/v1:PrometheusRule", "gpk-telemetry-alerts").inputs as any;
    expect(rule.spec.groups[0].rules[0].expr).toContain(">= 85");
  });

  it("serves with the pinned vLLM image on the L40S pool, with a Service, PDB and autoscaler", () => {
    const deployment = one(stack, "kubernetes:apps/v1:Deployment", "gpk-serving-search-llama-8b").inputs as any;
    const container = deployment.spec.template.spec.containers[0];
    expect(container.image).toMatch(/^docker\.io\/vllm\/vllm-openai:v[0-9.]+@sha256:[0-9a-f]{64}$/);
    expect(container.args[0]).toBe("meta-llama/Llama-3.1-8B-Instruct");
    expect(container.args).toEqual(expect.arrayContaining(["--gpu-memory-utilization", "0.9", "--max-model-len", "16384", "--max-num-queued-reqs", "768"]));
    expect(container.env).toContainEqual({ name: "HF_TOKEN", valueFrom: { secretKeyRef: { name: "hf-token", key: "token" } } });
    expect(container.resources.limits["nvidia.com/gpu"]).toBe(container.resources.requests["nvidia.com/gpu"]);
    expect(deployment.spec.template.spec.nodeSelector).toEqual({ "gpk.dev/pool": "serving" });
    expect(deployment.metadata.namespace).toBe("search");
    const hpa = one(stack, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "gpk-serving-search-llama-8b").inputs as any;
    expect(hpa.spec).toMatchObject({ minReplicas: 2, maxReplicas: 8 });
    expect((one(stack, "kubernetes:policy/v1:PodDisruptionBudget", "gpk-serving-search-llama-8b").inputs as any).spec.maxUnavailable).toBe(1);
  });

  it("creates the three tenants", () => {
    expectTenant(stack, "search", 8, "gpk:search-engineers");
    expectTenant(stack, "recsys", 8, "gpk:recsys-engineers");
    expectTenant(stack, "research", 24, "gpk:research");
  });

  it("exports a platform summary", () => {
    expect(stack.outputs.summary).toMatchObject({ stack: "prod", target: "eks", totalGpuCapacity: 56 });
  });

  it("renders only schema-valid Kubernetes objects", () => {
    expect(validateResources(stack.resources).schemaErrors).toEqual([]);
  });
});
