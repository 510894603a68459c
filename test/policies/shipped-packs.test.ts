/**
 * What ships, read from what ships: each pack's entry (policies/<pack>/index.ts, through its
 * package.json main) started the way the Pulumi engine starts it, and asked over gRPC. The
 * unit tests import policy arrays one file at a time and `helpers.ts` keeps a copy of each
 * pack's list, so a policy dropped from an index.ts would leave them green; here the names
 * GetAnalyzerInfo returns must equal the lists written below, and every shipped policy must
 * report a violating change to the happy-path stack through the real analyzer server.
 */
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { POLICIES_DIR, PACKS, type PackName } from "../../cli/check";
import { PackAnalyzer, type Diagnostic } from "../../cli/check/analyzer";
import { buildPolicyConfig } from "../../cli/check/config";
import { GPU_TAINT, NODE_AGENT_NAMESPACE, dedicatedPoolTaint, tolerationFor } from "../../gpu";
import { CHECKPOINT_BUCKET, byName, happyStack, urnOf, type FixtureResource } from "./fixtures";
import { PACK_POLICIES } from "./helpers";

/** The policies each pack serves, in the order its index.ts lists them. Written out, not imported. */
const SHIPPED: Record<PackName, string[]> = {
  "gpu-capacity": [
    "gpu-pool-quota-headroom",
    "gpu-node-group-scaling-headroom",
    "serving-gpu-memory-utilization",
    "serving-capacity",
    "serving-capacity-cost",
    "gpu-limits-equal-requests",
    "gpu-pods-tolerate-gpu-taint",
    "gpu-pods-target-gpu-nodes",
    "cpu-pods-avoid-gpu-nodes",
    "gpu-pool-has-device-plugin",
  ],
  thermal: [
    "gpu-pool-has-telemetry",
    "gpu-alert-rules",
    "serving-bounded-queue",
    "serving-autoscaler-bounded",
    "serving-autoscaler-metrics-source",
    "thermal-aware-scheduling",
    "ray-gpus-consistent",
    "ray-kuberay-valid",
    "ray-worker-replicas-bounded",
    "ray-job-bounded",
  ],
  tenancy: [
    "workload-namespace-ownership",
    "tenant-namespace-psa-restricted",
    "tenant-namespace-gpu-quota",
    "tenant-namespace-default-deny",
    "system-namespace-default-deny",
    "no-host-access-outside-system",
    "no-cross-tenant-references",
    "tenant-dedicated-pool-tolerations",
    "strict-tenant-no-shared-gpus",
    "admission-guards-present",
    "no-tenant-cluster-role-bindings",
    "no-wildcard-tenant-roles",
    "allowed-image-registries",
    "tenant-token-automount-off",
    "checkpoint-bucket-private",
    "checkpoint-bucket-tenant-only",
    "checkpoint-bucket-durable",
  ],
};

type Stack = FixtureResource[];
const vllm = (s: Stack) => byName(s, "search-llm", "kubernetes:apps/v1:Deployment");
const vllmContainer = (s: Stack) => vllm(s).props.spec.template.spec.containers[0];
const frontendPod = (s: Stack) => byName(s, "search-frontend").props.spec.template.spec;
const rayWorker = (s: Stack) => byName(s, "research-ray").props.spec.workerGroupSpecs[0];

/**
 * One change to the happy-path stack per shipped policy, each the smallest that breaks only
 * that policy (the unit tests' cases): the analyzer must then report that policy and no other.
 */
const endpoint = (s: Stack) => byName(s, "search-llm-endpoint").props.capacity;
const VIOLATIONS: Record<string, (s: Stack) => Stack> = {
  "serving-capacity": (s) => {
    endpoint(s).maxReplicas = 1; // its peak needs 2 of its replicas
    return s;
  },
  "serving-capacity-cost": (s) => {
    Object.assign(endpoint(s), { minReplicas: 8, maxReplicas: 8 }); // 8 carry far more than twice its peak
    return s;
  },
  "gpu-pool-quota-headroom": (s) => {
    byName(s, "tenant-search").props.gpuQuota = 20; // serving: 24 GPUs, 80% = 19.2
    return s;
  },
  "gpu-node-group-scaling-headroom": (s) => {
    byName(s, "gpk-serving-nodes").props.scalingConfig.maxSize = 4; // desired 4
    return s;
  },
  "serving-gpu-memory-utilization": (s) => {
    vllmContainer(s).args = ["--model", "m", "--gpu-memory-utilization=0.95", "--max-waiting", "512"];
    return s;
  },
  "gpu-limits-equal-requests": (s) => {
    delete vllmContainer(s).resources.limits;
    return s;
  },
  "gpu-pods-tolerate-gpu-taint": (s) => {
    vllm(s).props.spec.template.spec.tolerations = [];
    return s;
  },
  "gpu-pods-target-gpu-nodes": (s) => {
    vllm(s).props.spec.template.spec.nodeSelector = { "kubernetes.io/os": "linux" };
    return s;
  },
  "cpu-pods-avoid-gpu-nodes": (s) => {
    frontendPod(s).tolerations = [tolerationFor(GPU_TAINT)];
    return s;
  },
  "gpu-pool-has-device-plugin": (s) => {
    byName(s, "device-plugin").props.pools = ["serving"];
    return s;
  },
  "gpu-pool-has-telemetry": (s) => {
    byName(s, "telemetry").props.pools = ["training"];
    return s;
  },
  "gpu-alert-rules": (s) => {
    byName(s, "gpu-alerts").props.spec.groups[0].rules[0].expr = "DCGM_FI_DEV_GPU_TEMP > 90"; // fires at 91, above 85
    return s;
  },
  "serving-bounded-queue": (s) => {
    vllmContainer(s).args = ["--model", "m"];
    return s;
  },
  "serving-autoscaler-bounded": (s) => {
    byName(s, "search-llm", "kubernetes:autoscaling/v2:HorizontalPodAutoscaler").props.spec.maxReplicas = 30; // pool: 24 GPUs
    return s;
  },
  "serving-autoscaler-metrics-source": (s) => s.filter((r) => r.name !== "gpk-prometheus-adapter"),
  "thermal-aware-scheduling": (s) => {
    delete vllm(s).props.spec.template.spec.schedulerName;
    return s;
  },
  "ray-gpus-consistent": (s) => {
    rayWorker(s).rayStartParams["num-gpus"] = "4"; // container limit: 8
    return s;
  },
  "ray-kuberay-valid": (s) => {
    rayWorker(s).resources = { "gpk-node-slot": "1" }; // beside rayStartParams num-gpus
    return s;
  },
  "ray-job-bounded": (s) => {
    delete byName(s, "research-smoke", "kubernetes:ray.io/v1:RayJob").props.spec.activeDeadlineSeconds;
    return s;
  },
  "ray-worker-replicas-bounded": (s) => {
    delete rayWorker(s).maxReplicas;
    return s;
  },
  "workload-namespace-ownership": (s) => {
    byName(s, "search-frontend").props.metadata.namespace = "scratch";
    return s;
  },
  "tenant-namespace-psa-restricted": (s) => {
    byName(s, "search", "kubernetes:core/v1:Namespace").props.metadata.labels["pod-security.kubernetes.io/enforce"] = "baseline";
    return s;
  },
  "tenant-namespace-gpu-quota": (s) => {
    delete byName(s, "research-quota").props.spec.hard["requests.nvidia.com/gpu"];
    return s;
  },
  "tenant-namespace-default-deny": (s) => s.filter((r) => r.name !== "search-default-deny"),
  "system-namespace-default-deny": (s) => s.filter((r) => r.name !== `${NODE_AGENT_NAMESPACE}-default-deny-ingress`),
  "no-host-access-outside-system": (s) => {
    frontendPod(s).containers[0].securityContext = { privileged: true };
    return s;
  },
  "no-cross-tenant-references": (s) => {
    byName(s, "search-llm", "kubernetes:core/v1:Service").props.spec = { type: "ExternalName", externalName: "ray-head.research.svc.cluster.local" };
    return s;
  },
  "tenant-dedicated-pool-tolerations": (s) => {
    frontendPod(s).tolerations = [tolerationFor(dedicatedPoolTaint("research"))];
    return s;
  },
  "strict-tenant-no-shared-gpus": (s) => {
    // The strict tenant's Ray workers move to the other tenant's pool, now time-sliced.
    byName(s, "gpk-serving").props.timeSlicingReplicas = 4;
    rayWorker(s).template.spec.nodeSelector = { "gpk.dev/pool": "serving" };
    return s;
  },
  "checkpoint-bucket-private": (s) => s.filter((r) => r.type !== "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"),
  "checkpoint-bucket-tenant-only": (s) => [
    ...s,
    {
      urn: urnOf("aws:iam/rolePolicy:RolePolicy", "search-reads-research"),
      type: "aws:iam/rolePolicy:RolePolicy", name: "search-reads-research", custom: true,
      props: { role: "search-role", policy: JSON.stringify({ Statement: [{ Effect: "Allow", Action: "s3:GetObject", Resource: `arn:aws:s3:::${CHECKPOINT_BUCKET}/*` }] }) },
    },
  ],
  "checkpoint-bucket-durable": (s) => {
    byName(s, "gpk-checkpoints-research-versioning").props.versioningConfiguration.status = "Suspended";
    return s;
  },
  "admission-guards-present": (s) => s.filter((r) => !(r.type.endsWith(":ValidatingAdmissionPolicyBinding") && r.name === "gpk-dedicated-pool-tolerations")),
  "no-tenant-cluster-role-bindings": (s) => [
    ...s,
    {
      urn: urnOf("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding", "search-admin"),
      type: "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding", name: "search-admin", custom: true,
      props: { roleRef: { kind: "ClusterRole", name: "admin" }, subjects: [{ kind: "Group", name: "gpk:search" }] },
    },
  ],
  "no-wildcard-tenant-roles": (s) => {
    byName(s, "research-developer", "kubernetes:rbac.authorization.k8s.io/v1:Role").props.rules.push({ apiGroups: ["ray.io"], resources: ["*"], verbs: ["*"] });
    return s;
  },
  "allowed-image-registries": (s) => {
    frontendPod(s).containers[0].image = "ghcr.io/someone/web:1";
    return s;
  },
  "tenant-token-automount-off": (s) => {
    byName(s, "search-default-sa").props.automountServiceAccountToken = true;
    return s;
  },
};

const asInput = (r: FixtureResource) => ({ urn: r.urn, type: r.type, name: r.name, parent: r.parent, properties: r.props });

/**
 * What the engine hears from one pack about a stack (checkStack's calls without the
 * remediation pass): Analyze for each custom resource, then AnalyzeStack once. Analyze reports
 * a remediate-level policy's violation as mandatory, so remediating policies show here too.
 */
async function diagnosticsFor(analyzer: PackAnalyzer, stack: Stack): Promise<Diagnostic[]> {
  const perResource = await Promise.all(stack.filter((r) => r.custom).map((r) => analyzer.analyze(asInput(r))));
  return [...perResource.flat(), ...(await analyzer.analyzeStack(stack.map(asInput)))];
}

const analyzers = new Map<PackName, PackAnalyzer>();
const served = new Map<PackName, string[]>();

beforeAll(async () => {
  await Promise.all(PACKS.map(async (pack) => {
    const analyzer = await PackAnalyzer.start(path.join(POLICIES_DIR, pack));
    analyzers.set(pack, analyzer);
    const info = await analyzer.getAnalyzerInfo();
    served.set(pack, info.policies.map((p) => p.name));
    // The schema defaults, as `gpk check` configures a stack without a policy section.
    await analyzer.configure(buildPolicyConfig(info.name, info.policies, {}).config);
  }));
}, 180_000);
afterAll(() => {
  for (const analyzer of analyzers.values()) analyzer.close();
});

it("has one violating change for each shipped policy and none for a policy that does not ship", () => {
  expect(Object.keys(VIOLATIONS).sort()).toEqual(Object.values(SHIPPED).flat().sort());
});

describe.each(PACKS)("shipped pack %s", (pack) => {
  it("serves exactly the listed policies, in its index.ts order", () => {
    expect(served.get(pack)).toEqual(SHIPPED[pack]);
  });

  it("matches the copy the unit tests run (test/policies/helpers.ts PACK_POLICIES)", () => {
    expect(PACK_POLICIES[pack].map((p) => p.name)).toEqual(SHIPPED[pack]);
  });

  it("reports nothing for the happy-path stack", async () => {
    expect(await diagnosticsFor(analyzers.get(pack)!, happyStack())).toEqual([]);
  });

  it.each(SHIPPED[pack])("reports %s, and only it, for the stack that violates it", async (policy) => {
    const diagnostics = await diagnosticsFor(analyzers.get(pack)!, VIOLATIONS[policy]!(happyStack()));
    expect(diagnostics.length).toBeGreaterThan(0);
    expect([...new Set(diagnostics.map((d) => d.policyName))]).toEqual([policy]);
    expect(diagnostics.every((d) => d.policyPackName === pack)).toBe(true);
  });
});
