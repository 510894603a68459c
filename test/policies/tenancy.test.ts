import { describe, expect, it } from "vitest";
import { dedicatedPoolTaint, tolerationFor } from "../../gpu";
import { dnsNamespace, noCrossTenantReferences } from "../../policies/tenancy/cross-tenant";
import { tenantDedicatedPoolTolerations } from "../../policies/tenancy/dedicated-pools";
import { allowedImageRegistries, qualifyImage } from "../../policies/tenancy/images";
import {
  systemNamespaceDefaultDeny, tenantNamespaceDefaultDeny, tenantNamespaceGpuQuota, tenantNamespacePsaRestricted, workloadNamespaceOwnership,
} from "../../policies/tenancy/namespaces";
import { noHostAccessOutsideSystem } from "../../policies/tenancy/pod-security";
import { strictTenantNoSharedGpus } from "../../policies/tenancy/isolation";
import { checkpointBucketDurable, checkpointBucketPrivate, checkpointBucketTenantOnly } from "../../policies/tenancy/checkpoints";
import { noTenantClusterRoleBindings, noWildcardTenantRoles } from "../../policies/tenancy/rbac";
import { tenantTokenAutomountOff } from "../../policies/tenancy/service-account-token";
import { CHECKPOINT_BUCKET, byName, happyStack, type FixtureResource } from "./fixtures";
import { runPolicy } from "./helpers";

const frontend = (s: FixtureResource[]) => byName(s, "search-frontend");
const podOf = (r: FixtureResource) => r.props.spec.template.spec;

describe("workload-namespace-ownership", () => {
  it("reports a workload in a namespace no tenant owns", async () => {
    const stack = happyStack();
    frontend(stack).props.metadata.namespace = "scratch";
    expect(await runPolicy(workloadNamespaceOwnership, stack)).toEqual([{
      urn: frontend(stack).urn,
      message: 'Namespace "scratch" of "search-frontend" belongs to no Tenant and is not a system namespace; create it through a Tenant or add it to the `systemNamespaces` policy setting.',
    }]);
    expect(await runPolicy(workloadNamespaceOwnership, stack, { systemNamespaces: ["scratch", "gpk-node", "gpk-system"] })).toEqual([]);
  });
});

describe("tenant namespace baseline", () => {
  it("tenant-namespace-psa-restricted reports a baseline namespace", async () => {
    const stack = happyStack();
    byName(stack, "search", "kubernetes:core/v1:Namespace").props.metadata.labels["pod-security.kubernetes.io/enforce"] = "baseline";
    expect((await runPolicy(tenantNamespacePsaRestricted, stack)).map((f) => f.message)).toEqual([
      'Tenant namespace "search" enforces Pod Security "baseline"; label it `pod-security.kubernetes.io/enforce: restricted`.',
    ]);
  });

  it("tenant-namespace-gpu-quota reports a quota without the GPU key", async () => {
    const stack = happyStack();
    delete byName(stack, "research-quota").props.spec.hard["requests.nvidia.com/gpu"];
    expect((await runPolicy(tenantNamespaceGpuQuota, stack)).map((f) => f.urn)).toEqual([byName(stack, "tenant-research").urn]);
  });

  it("tenant-namespace-gpu-quota reports a quota that leaves a MIG resource of the pools unlimited", async () => {
    const stack = happyStack();
    byName(stack, "gpk-training").props.nodeResources = { "nvidia.com/mig-1g.10gb": 56 };
    const found = await runPolicy(tenantNamespaceGpuQuota, stack);
    expect(found.length).toBeGreaterThan(0);
    expect(found[0]!.message).toContain("has no ResourceQuota capping `requests.nvidia.com/mig-1g.10gb`, so its pods may take every nvidia.com/mig-1g.10gb device; cap it (0 when the tenant is not granted any)");
    for (const quota of stack.filter((r) => r.type === "kubernetes:core/v1:ResourceQuota")) quota.props.spec.hard["requests.nvidia.com/mig-1g.10gb"] = "0";
    expect(await runPolicy(tenantNamespaceGpuQuota, stack)).toEqual([]);
  });

  it("tenant-namespace-default-deny reports a namespace whose only policies allow traffic", async () => {
    const stack = happyStack().filter((r) => r.name !== "search-default-deny");
    expect((await runPolicy(tenantNamespaceDefaultDeny, stack)).map((f) => f.urn)).toEqual([byName(stack, "tenant-search").urn]);
  });
});

describe("strict-tenant-no-shared-gpus", () => {
  it("counts a pod asking for MIG devices as a GPU pod: a strict tenant's must select one of its pools", async () => {
    const stack = happyStack();
    const worker = byName(stack, "research-ray").props.spec.workerGroupSpecs[0].template.spec;
    const container = worker.containers[0];
    container.resources = { requests: { "nvidia.com/mig-1g.10gb": "2" }, limits: { "nvidia.com/mig-1g.10gb": "2" } };
    expect(await runPolicy(strictTenantNoSharedGpus, stack)).toEqual([]);
    delete worker.nodeSelector;
    const found = await runPolicy(strictTenantNoSharedGpus, stack);
    expect(found.map((f) => f.urn)).toEqual([byName(stack, "research-ray").urn]);
  });
});

describe("system-namespace-default-deny", () => {
  const denyAll = (s: FixtureResource[]) => byName(s, "gpk-node-default-deny-ingress");
  it("passes the kit's namespace with its default-deny, and leaves tenant namespaces to tenant-namespace-default-deny", async () => {
    const stack = happyStack().filter((r) => r.name !== "search-default-deny");
    expect(await runPolicy(systemNamespaceDefaultDeny, stack)).toEqual([]);
  });

  it("reports a kit namespace without one, or whose only policy selects some pods or allows some ingress", async () => {
    const message = 'Namespace "gpk-node" has no default-deny ingress NetworkPolicy; add one with `podSelector: {}`, `policyTypes: [Ingress]` and no ingress rules, then allow only the callers its pods serve.';
    const without = happyStack().filter((r) => r.name !== "gpk-node-default-deny-ingress");
    expect(await runPolicy(systemNamespaceDefaultDeny, without)).toEqual([{ urn: byName(without, "gpk-node", "kubernetes:core/v1:Namespace").urn, message }]);
    const narrow = happyStack();
    denyAll(narrow).props.spec.podSelector = { matchLabels: { app: "x" } };
    expect((await runPolicy(systemNamespaceDefaultDeny, narrow)).map((f) => f.message)).toEqual([message]);
    const open = happyStack();
    denyAll(open).props.spec.ingress = [{}];
    expect((await runPolicy(systemNamespaceDefaultDeny, open)).map((f) => f.message)).toEqual([message]);
  });
});

describe("no-host-access-outside-system", () => {
  it("reports a privileged container, hostPath, host namespaces and added capabilities in a tenant namespace", async () => {
    const stack = happyStack();
    const pod = podOf(frontend(stack));
    pod.hostNetwork = true;
    pod.volumes = [{ name: "root", hostPath: { path: "/" } }];
    pod.containers[0].securityContext = { privileged: true, capabilities: { add: ["NET_ADMIN"] } };
    const found = await runPolicy(noHostAccessOutsideSystem, stack);
    expect(found.map((f) => f.message.split(" (spec.template.spec) ")[1].split(";")[0])).toEqual([
      "sets hostNetwork: true",
      'mounts hostPath "/" (volume "root")',
      'runs container "web" (containers[0]) privileged',
      'adds capabilities NET_ADMIN to container "web" (containers[0])',
    ]);
    expect(found.every((f) => f.urn === frontend(stack).urn)).toBe(true);
  });

  it("allows the node agents' namespace", async () => {
    const stack = happyStack();
    expect(podOf(byName(stack, "telemetry-exporter")).containers[0].securityContext.privileged).toBe(true);
    expect(await runPolicy(noHostAccessOutsideSystem, stack)).toEqual([]);
  });
});

describe("no-cross-tenant-references", () => {
  it("reads the namespace of in-cluster DNS names", () => {
    expect(dnsNamespace("api.research")).toBe("research");
    expect(dnsNamespace("api.research.svc.cluster.local")).toBe("research");
    expect(dnsNamespace("example.com")).toBe("com"); // only a finding if a tenant namespace is called "com"
    expect(dnsNamespace("api.example.org.")).toBeUndefined();
  });

  it("reports an ExternalName Service into another tenant", async () => {
    const stack = happyStack();
    byName(stack, "search-llm", "kubernetes:core/v1:Service").props.spec = { type: "ExternalName", externalName: "ray-head.research.svc.cluster.local" };
    expect((await runPolicy(noCrossTenantReferences, stack)).map((f) => f.message)).toEqual([
      '"search-llm" in tenant namespace "search" points its ExternalName into tenant namespace "research"; tenants may only reference their own namespace.',
    ]);
  });

  it("reports a RoleBinding of another tenant's ServiceAccount or group", async () => {
    const stack = happyStack();
    byName(stack, "search-developer", "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding").props.subjects.push(
      { kind: "ServiceAccount", name: "trainer", namespace: "research" },
      { kind: "Group", name: "gpk:research" },
    );
    expect((await runPolicy(noCrossTenantReferences, stack)).map((f) => f.message.split(" of tenant")[0])).toEqual([
      '"search-developer" in tenant namespace "search" binds ServiceAccount "trainer"',
      '"search-developer" in tenant namespace "search" binds group "gpk:research"',
    ]);
  });

  it("reports NetworkPolicy peers that select another tenant's namespace, including all namespaces", async () => {
    for (const namespaceSelector of [{ matchLabels: { "kubernetes.io/metadata.name": "research" } }, {}]) {
      const stack = happyStack();
      byName(stack, "search-same-namespace").props.spec.ingress[0].from = [{ namespaceSelector }];
      expect((await runPolicy(noCrossTenantReferences, stack)).map((f) => f.urn)).toEqual([byName(stack, "search-same-namespace").urn]);
    }
    const ok = happyStack();
    byName(ok, "search-same-namespace").props.spec.ingress[0].from = [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "gpk-system" } } }];
    expect(await runPolicy(noCrossTenantReferences, ok)).toEqual([]);
  });
});

describe("tenant-dedicated-pool-tolerations", () => {
  it("reports a tenant pod tolerating another tenant's dedicated pool", async () => {
    const stack = happyStack();
    podOf(frontend(stack)).tolerations = [tolerationFor(dedicatedPoolTaint("research"))];
    expect((await runPolicy(tenantDedicatedPoolTolerations, stack)).map((f) => [f.urn, f.message.split(";")[0]])).toEqual([
      [frontend(stack).urn, 'The pod template of "search-frontend" (spec.template.spec) in tenant "search"\'s namespace tolerates the taint of pool "training", dedicated to tenant "research"'],
    ]);
  });

  it("lets the owning tenant tolerate its own pool", async () => {
    const stack = happyStack();
    expect(JSON.stringify(byName(stack, "research-ray").props)).toContain('"value":"research"');
    expect(await runPolicy(tenantDedicatedPoolTolerations, stack)).toEqual([]);
  });
});

describe("RBAC", () => {
  it("no-tenant-cluster-role-bindings reports a ClusterRoleBinding of a tenant group", async () => {
    const stack = happyStack();
    stack.push({ urn: "urn:crb", type: "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding", name: "search-admin", custom: true, props: {
      roleRef: { kind: "ClusterRole", name: "admin" }, subjects: [{ kind: "Group", name: "gpk:search" }],
    } });
    expect(await runPolicy(noTenantClusterRoleBindings, stack)).toEqual([{
      urn: "urn:crb",
      message: 'ClusterRoleBinding "search-admin" grants Group "gpk:search" of tenant "search" cluster-wide access; use a RoleBinding in namespace "search" instead.',
    }]);
  });

  it("no-wildcard-tenant-roles reports * in verbs or resources", async () => {
    const stack = happyStack();
    const role = byName(stack, "research-developer", "kubernetes:rbac.authorization.k8s.io/v1:Role");
    role.props.rules.push({ apiGroups: ["ray.io"], resources: ["*"], verbs: ["*"] });
    expect((await runPolicy(noWildcardTenantRoles, stack)).map((f) => f.message)).toEqual([
      'Role "research-developer" in tenant namespace "research" uses "*" in rules[1].verbs and resources; list the verbs and resources the tenant needs.',
    ]);
  });
});

describe("allowed-image-registries", () => {
  it("qualifies references the way the container runtime does", () => {
    expect(qualifyImage("nginx:1.27")).toBe("docker.io/library/nginx:1.27");
    expect(qualifyImage("vllm/vllm-openai:v0.8.5")).toBe("docker.io/vllm/vllm-openai:v0.8.5");
    expect(qualifyImage("nvcr.io/nvidia/k8s-device-plugin:v0.17.1")).toBe("nvcr.io/nvidia/k8s-device-plugin:v0.17.1");
    expect(qualifyImage("localhost:5000/x")).toBe("localhost:5000/x");
  });

  it("reports an image from an unlisted registry, and accepts it once configured", async () => {
    const stack = happyStack();
    podOf(frontend(stack)).containers[0].image = "ghcr.io/someone/web:1";
    const found = await runPolicy(allowedImageRegistries, stack);
    expect(found.map((f) => f.message.split(", which")[0])).toEqual([
      'Container "web" (spec.template.spec.containers[0]) uses image "ghcr.io/someone/web:1" (ghcr.io/someone/web:1)',
    ]);
    const allowed = ["ghcr.io/someone/", "docker.io/", "nvcr.io/"];
    expect(await runPolicy(allowedImageRegistries, stack, { allowedRegistries: allowed })).toEqual([]);
  });
});

describe("tenant-token-automount-off", () => {
  it("reports a tenant pod that gets its ServiceAccount token by default", async () => {
    const stack = happyStack();
    byName(stack, "search-default-sa").props.automountServiceAccountToken = true;
    expect((await runPolicy(tenantTokenAutomountOff, stack)).map((f) => f.urn)).toEqual([frontend(stack).urn]);
    podOf(frontend(stack)).automountServiceAccountToken = true; // an explicit opt-in is a decision, not a default
    expect(await runPolicy(tenantTokenAutomountOff, stack)).toEqual([]);
  });
});

describe("checkpoint buckets", () => {
  const store = (s: FixtureResource[]) => byName(s, "gpk-checkpoints-research", "gpk:index:CheckpointStore");
  const bucketPolicy = (s: FixtureResource[]) => byName(s, "gpk-checkpoints-research-policy");

  it("accept the store as CheckpointStore renders it", async () => {
    for (const policy of [checkpointBucketPrivate, checkpointBucketTenantOnly, checkpointBucketDurable]) expect(await runPolicy(policy, happyStack())).toEqual([]);
  });

  it("checkpoint-bucket-private reports an open public-access setting, plain SSE-S3 and a policy without the TLS deny", async () => {
    const stack = happyStack();
    byName(stack, "gpk-checkpoints-research-public-access").props.restrictPublicBuckets = false;
    byName(stack, "gpk-checkpoints-research-encryption").props.rules[0].applyServerSideEncryptionByDefault.sseAlgorithm = "AES256";
    const doc = JSON.parse(bucketPolicy(stack).props.policy);
    doc.Statement = doc.Statement.filter((s: any) => s.Sid !== "DenyInsecureTransport");
    bucketPolicy(stack).props.policy = JSON.stringify(doc);
    expect((await runPolicy(checkpointBucketPrivate, stack)).map((f) => f.message)).toEqual([
      'Checkpoint bucket "gpk-gpk-prod-research-checkpoints" of tenant "research" has no public-access block setting restrictPublicBuckets to true; add an aws.s3.BucketPublicAccessBlock with all four on.',
      'Checkpoint bucket "gpk-gpk-prod-research-checkpoints" of tenant "research" is not encrypted with SSE-KMS; add a server-side encryption configuration with sseAlgorithm "aws:kms".',
      'Checkpoint bucket "gpk-gpk-prod-research-checkpoints" of tenant "research" accepts requests without TLS; its bucket policy must deny s3:* when aws:SecureTransport is false.',
    ]);
  });

  it("checkpoint-bucket-tenant-only reports an Allow in the bucket policy and a missing principal fence", async () => {
    const stack = happyStack();
    const doc = JSON.parse(bucketPolicy(stack).props.policy);
    doc.Statement = doc.Statement.filter((s: any) => s.Sid !== "DenyDataToOtherPrincipals");
    doc.Statement.push({ Effect: "Allow", Principal: { AWS: "arn:aws:iam::123456789012:role/search" }, Action: "s3:GetObject", Resource: `arn:aws:s3:::${CHECKPOINT_BUCKET}/*` });
    bucketPolicy(stack).props.policy = JSON.stringify(doc);
    const messages = (await runPolicy(checkpointBucketTenantOnly, stack)).map((f) => f.message);
    expect(messages).toHaveLength(2);
    expect(messages[0]).toContain("has a bucket policy with an Allow statement");
    expect(messages[1]).toContain("does not deny data access to principals other than the tenant's role");
  });

  it("checkpoint-bucket-durable honours checkpointRetentionDays and wants torn uploads aborted", async () => {
    const stack = happyStack();
    expect(await runPolicy(checkpointBucketDurable, stack, { checkpointRetentionDays: 30 })).toEqual([]);
    expect((await runPolicy(checkpointBucketDurable, stack, { checkpointRetentionDays: 31 }))[0]!.message).toContain("expires noncurrent versions after 30 days, less than checkpointRetentionDays (31)");
    byName(stack, "gpk-checkpoints-research-lifecycle").props.rules = [byName(stack, "gpk-checkpoints-research-lifecycle").props.rules[0]];
    expect((await runPolicy(checkpointBucketDurable, stack))[0]!.message).toContain("keeps the parts of multipart uploads that never completed");
  });

  it("leave a store the tenant runs itself (kind) alone", async () => {
    const stack = happyStack().filter((r) => !r.type.startsWith("aws:s3/"));
    store(stack).props.managed = false;
    for (const policy of [checkpointBucketPrivate, checkpointBucketTenantOnly, checkpointBucketDurable]) expect(await runPolicy(policy, stack)).toEqual([]);
  });
});
