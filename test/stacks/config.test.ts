import { describe, expect, it } from "vitest";
import { CONFIG as POLICY_CONFIG } from "../../policies/lib/config";
import { ConfigError, parseConfigMap, parseStackConfig } from "../../stacks/load-config";

/** A valid kind stack; each bad-input case changes one thing. */
function kindStack(): Record<string, any> {
  return {
    target: "kind",
    nodePools: [
      { name: "sim-h100", product: "h100", gpusPerNode: 4, desiredNodes: 2, maxNodes: 2 },
      { name: "sim-l4", product: "l4", gpusPerNode: 1, desiredNodes: 1, maxNodes: 1, dedicatedTenant: "team-a" },
    ],
    tenants: [{ name: "team-a", gpuQuota: 2, allowedPools: ["sim-h100", "sim-l4"] }],
  };
}

function eksStack(): Record<string, any> {
  return {
    target: "eks",
    cluster: { mode: "create", name: "gpk", subnetIds: ["subnet-a", "subnet-b"] },
    nodePools: [{ name: "train", instanceType: "p5.48xlarge", desiredNodes: 1, maxNodes: 2 }],
    tenants: [{ name: "research", gpuQuota: 8, allowedPools: ["train"] }],
  };
}

function problems(raw: Record<string, unknown>): string[] {
  try {
    parseStackConfig(raw);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).lines;
  }
  throw new Error("config was accepted");
}

describe("stack config", () => {
  it("accepts a valid kind stack and applies every default", () => {
    const config = parseStackConfig(kindStack());
    expect(config.cluster).toEqual({ name: "gpk-local" });
    expect(config.nodePools[0]).toMatchObject({ minNodes: 0, timeSlicingReplicas: 1, capacityType: "ON_DEMAND", diskSizeGiB: 200 });
    expect(config.nodePools[0]!.mig).toBeUndefined();
    expect(config.tenants[0]).toMatchObject({ cpuQuota: "64", memoryQuota: "256Gi", migQuota: {} });
    expect(config.policy).toMatchObject({ headroomPercent: 20, maxGpuTempC: 85, thermalAwareAboveGpus: 16, maxGpuMemoryUtilization: 0.9 });
    expect(config.devicePlugin).toEqual({ failOnInitError: true, deviceListStrategy: "envvar", renameByDefault: false });
  });

  it("offers every pack threshold in `policy`, defaulting to the pack's own default, so gpk check and a bare pack agree", () => {
    const { policy } = parseStackConfig(kindStack()) as { policy: Record<string, unknown> };
    for (const [key, value] of Object.entries(policy)) {
      expect(value, key).toEqual((POLICY_CONFIG as Record<string, { default: unknown }>)[key]!.default);
    }
    expect(Object.keys(policy).sort()).toEqual(Object.keys(POLICY_CONFIG).sort());
  });

  it("accepts a valid eks stack", () => {
    const config = parseStackConfig(eksStack());
    expect(config.target).toBe("eks");
    expect(config.cluster).toMatchObject({ mode: "create", kubernetesVersion: "1.33", endpointPublicAccess: false });
  });

  const cases: [string, (c: Record<string, any>) => void, string, () => Record<string, any>][] = [
    ["non-numeric GPUs per node", (c) => (c.nodePools[1].gpusPerNode = "8x"), 'gpk:nodePools[1].gpusPerNode: expected a positive integer, got "8x"', kindStack],
    ["zero GPUs per node", (c) => (c.nodePools[0].gpusPerNode = 0), "gpk:nodePools[0].gpusPerNode: expected a positive integer, got 0", kindStack],
    ["unknown target", (c) => (c.target = "gke"), 'gpk:target: expected "kind" or "eks", got "gke"', kindStack],
    ["unknown product", (c) => (c.nodePools[0].product = "b200"), 'gpk:nodePools[0].product: expected one of "h100", "a100", "l40s", "a10g", "l4", got "b200"', kindStack],
    ["misspelt pool key", (c) => (c.nodePools[0].gpuCount = 4), "unknown key `gpk:nodePools[0].gpuCount`; keys here: name, product, instanceType, gpusPerNode, minNodes, desiredNodes, maxNodes, timeSlicingReplicas, mig, migStrategy, dedicatedTenant, capacityType, diskSizeGiB", kindStack],
    ["unknown top-level key", (c) => (c.tenant = []), "unknown key `gpk:tenant`; did you mean `gpk:tenants`?", kindStack],
    ["desired above max", (c) => (c.nodePools[0].desiredNodes = 3), "gpk:nodePools[0].desiredNodes: expected minNodes ≤ desiredNodes ≤ maxNodes, got 0 ≤ 3 ≤ 2", kindStack],
    ["tenant on an unknown pool", (c) => (c.tenants[0].allowedPools = ["sim-h100", "nope"]), 'gpk:tenants[0].allowedPools[1]: expected one of the pools sim-h100, sim-l4, got "nope"', kindStack],
    ["pool dedicated to an unknown tenant", (c) => (c.nodePools[1].dedicatedTenant = "ghost"), 'gpk:nodePools[1].dedicatedTenant: expected one of the tenants team-a, got "ghost"', kindStack],
    ["negative GPU quota", (c) => (c.tenants[0].gpuQuota = -1), "gpk:tenants[0].gpuQuota: expected a non-negative integer, got -1", kindStack],
    ["bad memory quantity", (c) => (c.tenants[0].memoryQuota = "lots"), 'gpk:tenants[0].memoryQuota: expected a Kubernetes quantity such as "64" or "256Gi", got "lots"', kindStack],
    ["headroom above 100%", (c) => (c.policy = { headroomPercent: 120 }), "gpk:policy.headroomPercent: expected a percentage, got 120", kindStack],
    ["zero Ray worker replicas allowed", (c) => (c.policy = { maxRayWorkerReplicas: 0 }), "gpk:policy.maxRayWorkerReplicas: expected a positive integer, got 0", kindStack],
    ["an unknown serving metrics source", (c) => (c.telemetry = { servingMetrics: { source: "datadog" } }), 'gpk:telemetry.servingMetrics.source: expected one of "prometheus-adapter", "keda", "external", got "datadog"', kindStack],
    ["a Prometheus address without a scheme", (c) => (c.telemetry = { servingMetrics: { prometheusUrl: "prometheus:9090" } }), 'gpk:telemetry.servingMetrics.prometheusUrl: expected a URL such as "http://prometheus.monitoring.svc:9090", got "prometheus:9090"', kindStack],
    ["a dashboard label key with a space", (c) => (c.telemetry = { dashboards: { label: { key: "grafana dashboard", value: "1" } } }), 'gpk:telemetry.dashboards.label.key: expected a label key, got "grafana dashboard"', kindStack],
    ["tenant named like a system namespace", (c) => (c.tenants[0].name = "kube-system"), 'gpk:tenants[0].name: expected a name that is not a system namespace, got "kube-system"', kindStack],
    ["upper-case pool name", (c) => (c.nodePools[0].name = "GPU"), 'gpk:nodePools[0].name: expected a DNS label (lowercase letters, digits and \'-\', at most 63), got "GPU"', kindStack],
    ["no tenants", (c) => delete c.tenants, "gpk:tenants: expected a list of tenants, got nothing", kindStack],
    ["simulated pool without a product", (c) => delete c.nodePools[0].product, "gpk:nodePools[0].product: expected a simulated GPU product (required on kind)", kindStack],
    ["instance type on kind", (c) => (c.nodePools[0].instanceType = "p5.48xlarge"), "gpk:nodePools[0].instanceType: expected no instance type on kind (pools are simulated)", kindStack],
    ["unknown instance type", (c) => (c.nodePools[0].instanceType = "m5.large"), 'gpk:nodePools[0].instanceType: expected a known EC2 GPU instance type', eksStack],
    ["GPU count contradicting the instance type", (c) => (c.nodePools[0].gpusPerNode = 4), "gpk:nodePools[0].gpusPerNode: expected 8 (the GPUs of p5.48xlarge), got 4", eksStack],
    ["product contradicting the instance type", (c) => (c.nodePools[0].product = "a100"), 'gpk:nodePools[0].product: expected "h100" (the GPU of p5.48xlarge), got "a100"', eksStack],
    ["one subnet for a new cluster", (c) => (c.cluster.subnetIds = ["subnet-a"]), "gpk:cluster.subnetIds: expected at least two subnet ids (EKS needs two AZs)", eksStack],
    ["unknown cluster mode", (c) => (c.cluster.mode = "import"), 'gpk:cluster.mode: expected "create" or "adopt", got "import"', eksStack],
    ["duplicate pool names", (c) => c.nodePools.push({ ...c.nodePools[0] }), 'gpk:nodePools[1].name: expected a unique pool name, got "train" twice', eksStack],
    ["MIG on a GPU without MIG", (c) => (c.nodePools[1].mig = { strategy: "mixed", profile: "all-1g.10gb" }), "gpk:nodePools[1].mig.profile: l4 GPUs have no MIG (MIG-capable: h100, a100)", kindStack],
    ["MIG on an instance without MIG", (c) => { c.nodePools[0].instanceType = "g6e.12xlarge"; c.nodePools[0].mig = { strategy: "mixed", profile: "all-1g.10gb" }; }, "gpk:nodePools[0].mig.profile: l40s GPUs have no MIG (MIG-capable: h100, a100)", eksStack],
    ["unknown MIG profile", (c) => (c.nodePools[0].mig = { strategy: "mixed", profile: "all-1g.5gb" }), 'gpk:nodePools[0].mig.profile: expected "all-<profile>" with a h100 MIG profile (1g.10gb, 1g.20gb, 2g.20gb, 3g.40gb, 4g.40gb, 7g.80gb) or instances per profile, got "all-1g.5gb"', kindStack],
    ["MIG mix that does not fit one GPU", (c) => (c.nodePools[0].mig = { strategy: "mixed", profile: { "4g.40gb": 1, "3g.40gb": 1, "1g.10gb": 1 } }), "gpk:nodePools[0].mig.profile: 1 × 4g.40gb + 1 × 3g.40gb + 1 × 1g.10gb does not fit on one h100 GPU (7 compute slices, 8 memory slices, placements per the MIG user guide)", kindStack],
    ["MIG mix under the single strategy", (c) => (c.nodePools[0].mig = { strategy: "single", profile: { "3g.40gb": 1, "2g.20gb": 2 } }), 'gpk:nodePools[0].mig.profile: expected one profile under the single strategy (every MIG device is an "nvidia.com/gpu"), got 2g.20gb + 3g.40gb; use strategy mixed', kindStack],
    ["unknown MIG strategy", (c) => (c.nodePools[0].mig = { strategy: "none", profile: "all-1g.10gb" }), 'gpk:nodePools[0].mig.strategy: expected one of "single", "mixed", got "none"', kindStack],
    ["the old migStrategy key", (c) => (c.nodePools[0].migStrategy = "mixed"), "gpk:nodePools[0].migStrategy: expected no migStrategy: MIG is now `mig: {strategy: single|mixed, profile: all-1g.10gb}`", kindStack],
    ["MIG quota on a profile no pool advertises", (c) => { c.nodePools[0].mig = { strategy: "mixed", profile: "all-1g.10gb" }; c.tenants[0].migQuota = { "2g.20gb": 2 }; }, 'gpk:tenants[0].migQuota.2g.20gb: expected a MIG profile one of the tenant\'s pools advertises under the mixed strategy (1g.10gb), got "2g.20gb"', kindStack],
    ["MIG quota under the single strategy", (c) => { c.nodePools[0].mig = { strategy: "single", profile: "all-1g.10gb" }; c.tenants[0].migQuota = { "1g.10gb": 2 }; }, 'gpk:tenants[0].migQuota.1g.10gb: expected a MIG profile one of the tenant\'s pools advertises under the mixed strategy (none), got "1g.10gb"', kindStack],
    ["a checkpoint store on kind without its endpoint", (c) => (c.tenants[0].checkpoints = { bucket: "ckpt" }), "gpk:tenants[0].checkpoints.endpoint: expected the S3-compatible endpoint of a store you run (required on kind: the kit runs no object store)", kindStack],
    ["an endpoint for an eks checkpoint store", (c) => (c.tenants[0].checkpoints = { endpoint: "http://minio:9000" }), "gpk:tenants[0].checkpoints.endpoint: expected no endpoint on eks (the kit creates an S3 bucket)", eksStack],
    ["checkpoint versions kept shorter than the policy", (c) => (c.tenants[0].checkpoints = { noncurrentVersionDays: 7 }), "gpk:tenants[0].checkpoints.noncurrentVersionDays: expected at least gpk:policy.checkpointRetentionDays (30), got 7", eksStack],
    ["a bucket name S3 refuses", (c) => (c.tenants[0].checkpoints = { bucket: "Research_CKPT" }), "gpk:tenants[0].checkpoints.bucket: expected an S3 bucket name (3-63 lowercase letters, digits, '.', '-'), got \"Research_CKPT\"", eksStack],
    ["Object Lock on kind", (c) => (c.tenants[0].checkpoints = { endpoint: "http://minio:9000", bucket: "ckpt", objectLockDays: 7 }), "gpk:tenants[0].checkpoints.objectLockDays: expected no objectLockDays on kind (set it on the store you run)", kindStack],
    ["unknown isolation", (c) => (c.tenants[0].isolation = "hard"), 'gpk:tenants[0].isolation: expected one of "shared", "strict", got "hard"', kindStack],
    ["unknown failure policy", (c) => (c.admission = { failurePolicy: "Retry" }), 'gpk:admission.failurePolicy: expected one of "Fail", "Ignore", got "Retry"', kindStack],
    ["Deny and Warn together", (c) => (c.admission = { validationActions: ["Deny", "Warn"] }), "gpk:admission.validationActions: expected Deny or Warn, not both (the API server refuses the pair)", kindStack],
    ["no validation action", (c) => (c.admission = { validationActions: [] }), "gpk:admission.validationActions: expected at least one of Deny, Warn, Audit", kindStack],
    ["unknown validation action", (c) => (c.admission = { validationActions: ["Block"] }), 'gpk:admission.validationActions[0]: expected one of "Deny", "Warn", "Audit", got "Block"', kindStack],
  ];

  it("admits a strict tenant on pools where it shares no GPU: dedicated to it, whole GPUs, MIG devices without time-slicing", () => {
    const raw = kindStack();
    raw.tenants[0].isolation = "strict";
    raw.nodePools.push({ name: "sim-mig", product: "h100", gpusPerNode: 8, desiredNodes: 1, maxNodes: 1, mig: { strategy: "single", profile: "all-1g.10gb" } });
    raw.nodePools[1].timeSlicingReplicas = 4; // dedicated to team-a
    raw.tenants[0].allowedPools.push("sim-mig");
    const config = parseStackConfig(raw);
    expect(config.tenants[0]!.isolation).toBe("strict");
    expect(config.admission).toEqual({ failurePolicy: "Fail", validationActions: ["Deny"] });
    // A MIG pool whose devices are time-sliced shares them.
    raw.nodePools[2].timeSlicingReplicas = 2;
    expect(problems(raw)).toEqual([
      'gpk:tenants[0].allowedPools[2]: expected a pool a strict tenant may use (dedicated to it, or whole GPUs or MIG devices without time-slicing), got "sim-mig": pool "sim-mig" time-slices each device 2 ways for every tenant',
    ]);
  });

  it("refuses a strict tenant on a time-sliced pool it shares, naming the key path", () => {
    const raw = kindStack();
    raw.tenants[0].isolation = "strict";
    raw.nodePools[0].timeSlicingReplicas = 4;
    expect(problems(raw)).toEqual([
      'gpk:tenants[0].allowedPools[0]: expected a pool a strict tenant may use (dedicated to it, or whole GPUs or MIG devices without time-slicing), got "sim-h100": pool "sim-h100" time-slices each device 4 ways for every tenant',
    ]);
    // The same pool is fine for a shared tenant.
    delete raw.tenants[0].isolation;
    expect(parseStackConfig(raw).tenants[0]!.isolation).toBe("shared");
  });

  it.each(cases)("reports %s with its key path", (_label, mutate, expected, base) => {
    const raw = base();
    mutate(raw);
    const lines = problems(raw);
    expect(lines.some((line) => line.startsWith(expected)), `no line starts with the expected one; got:\n${lines.join("\n")}`).toBe(true);
  });

  it("reports a pool shared with a tenant it is not dedicated to", () => {
    const raw = kindStack();
    raw.tenants.push({ name: "team-b", gpuQuota: 1, allowedPools: ["sim-l4"] });
    expect(problems(raw)).toEqual(['gpk:tenants[1].allowedPools[0]: expected a pool not dedicated to another tenant, got "sim-l4" (dedicated to "team-a")']);
  });

  it("reports every problem, one line each", () => {
    const raw = kindStack();
    raw.nodePools[0].gpusPerNode = "8x";
    raw.tenants[0].gpuQuota = "lots";
    expect(problems(raw)).toEqual([
      'gpk:nodePools[0].gpusPerNode: expected a positive integer, got "8x"',
      'gpk:tenants[0].gpuQuota: expected a non-negative integer, got "lots"',
    ]);
  });

  describe("a mistake is reported once, as the mistake it is", () => {
    it("names the key a misspelt key meant, and checks the rest as if it were spelt so", () => {
      const raw = kindStack();
      raw.nodePools[0].desiredNode = raw.nodePools[0].desiredNodes;
      delete raw.nodePools[0].desiredNodes;
      // Not also "desiredNodes: expected a non-negative integer, got nothing".
      expect(problems(raw)).toEqual(["unknown key `gpk:nodePools[0].desiredNode`; did you mean `gpk:nodePools[0].desiredNodes`?"]);
    });

    it("does not report the rules a misspelt key would break for want of its value", () => {
      const raw = kindStack();
      raw.nodePools[0].gpusPerNod = 4;
      delete raw.nodePools[0].gpusPerNode;
      // Not also "gpusPerNode: expected a positive integer (required on kind)".
      expect(problems(raw)).toEqual(["unknown key `gpk:nodePools[0].gpusPerNod`; did you mean `gpk:nodePools[0].gpusPerNode`?"]);
    });

    it("still reports a value that is wrong under the key meant", () => {
      const raw = kindStack();
      raw.nodePools[0].gpusPerNod = "four";
      delete raw.nodePools[0].gpusPerNode;
      expect(problems(raw)).toEqual([
        "unknown key `gpk:nodePools[0].gpusPerNod`; did you mean `gpk:nodePools[0].gpusPerNode`?",
        'gpk:nodePools[0].gpusPerNode: expected a positive integer, got "four"',
      ]);
    });

    it("leaves the rules that span keys until every value is right: they would blame a correct value", () => {
      const raw = kindStack();
      raw.nodePools[0].name = "Sim_H100";
      // Not also tenants[0].allowedPools[0]: expected one of the pools Sim_H100, sim-l4, got "sim-h100".
      expect(problems(raw)).toEqual([expect.stringMatching(/^gpk:nodePools\[0\]\.name: expected a DNS label/)]);
    });
  });

  describe("keys outside the gpk namespace", () => {
    const asPulumi = (raw: Record<string, unknown>, rename: Record<string, string>) =>
      Object.fromEntries(Object.entries(raw).map(([k, v]) => [rename[k] ?? `gpk:${k}`, typeof v === "string" ? v : JSON.stringify(v)]));
    const mapProblems = (all: Record<string, string>) => {
      try {
        parseConfigMap(all);
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as ConfigError).lines;
      }
      throw new Error("config was accepted");
    };

    it("names a misspelt namespace, with the key meant, and nothing that follows from it", () => {
      expect(mapProblems(asPulumi(kindStack(), { target: "gkp:target" }))).toEqual(["unknown key `gkp:target`; did you mean `gpk:target`?"]);
      expect(mapProblems(asPulumi(kindStack(), { tenants: "gp:tenant" }))).toEqual(["unknown key `gp:tenant`; did you mean `gpk:tenants`?"]);
    });

    it("names a kit key written without its namespace", () => {
      expect(mapProblems(asPulumi(kindStack(), { target: "target" }))).toEqual(["unknown key `target`; did you mean `gpk:target`?"]);
      expect(mapProblems(asPulumi(kindStack(), { target: "gpu-platform-kit:target" }))).toEqual(["unknown key `gpu-platform-kit:target`; did you mean `gpk:target`?"]);
    });

    it("leaves other providers' keys alone", () => {
      const all = { ...asPulumi(kindStack(), {}), "aws:region": "us-east-1", "gcp:project": "p", "kubernetes:context": "kind-gpk" };
      expect(parseConfigMap(all).target).toBe("kind");
    });
  });
});
