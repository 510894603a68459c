/**
 * The analyzer path end to end: each pack runs in its own process started the way the
 * Pulumi engine starts it (run-policy-pack in the pack directory), and the test talks to
 * @pulumi/policy's real gRPC server: GetAnalyzerInfo, Configure, Analyze, Remediate,
 * AnalyzeStack; then `checkStack`, which `gpk check` and `gpk preview` use.
 */
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PackAnalyzer, type PolicyConfigEntry } from "../../cli/check/analyzer";
import { POLICIES_DIR, checkStack, hasMandatory } from "../../cli/check";
import { UsageError } from "../../cli/contract";
import type { RenderedStack } from "../../cli/render/types";
import { byName, happyStack, servingDeployment, type FixtureResource } from "./fixtures";

const asInput = (r: FixtureResource) => ({ urn: r.urn, type: r.type, name: r.name, parent: r.parent, properties: r.props });
const rendered = (resources: FixtureResource[], policy: Record<string, unknown> = {}): RenderedStack => ({
  stack: "test",
  config: { policy },
  resources: resources.map((r) => ({ urn: r.urn, type: r.type, name: r.name, parent: r.parent, custom: r.custom, inputs: r.props })),
  outputs: {},
});

describe("gpu-capacity pack over its real analyzer gRPC server", () => {
  let analyzer: PackAnalyzer;
  let defaults: Record<string, PolicyConfigEntry>;

  // Configured with the schema defaults before any test, as the engine does after
  // GetAnalyzerInfo; a test that changes the config puts the defaults back, so order is free.
  beforeAll(async () => {
    analyzer = await PackAnalyzer.start(path.join(POLICIES_DIR, "gpu-capacity"));
    const info = await analyzer.getAnalyzerInfo();
    defaults = Object.fromEntries(info.policies.map((p) => [p.name, {
      enforcementLevel: p.enforcementLevel,
      properties: Object.fromEntries(Object.entries(p.configSchema ?? {}).map(([k, s]) => [k, s.default])),
    }]));
    await analyzer.configure(defaults);
  });
  afterAll(() => analyzer?.close());

  it("describes its policies, levels and config schemas", async () => {
    const info = await analyzer.getAnalyzerInfo();
    expect(info.name).toBe("gpu-capacity");
    const levels = Object.fromEntries(info.policies.map((p) => [p.name, [p.enforcementLevel, p.stack]]));
    expect(levels).toEqual({
      "gpu-pool-quota-headroom": ["mandatory", true],
      "gpu-node-group-scaling-headroom": ["mandatory", false],
      "serving-gpu-memory-utilization": ["remediate", false],
      "gpu-limits-equal-requests": ["mandatory", false],
      "gpu-pods-tolerate-gpu-taint": ["remediate", false],
      "gpu-pods-target-gpu-nodes": ["mandatory", false],
      "cpu-pods-avoid-gpu-nodes": ["mandatory", false],
      "gpu-pool-has-device-plugin": ["mandatory", true],
      "serving-capacity": ["mandatory", true],
      "serving-capacity-cost": ["advisory", true],
    });
    expect(info.policies.find((p) => p.name === "gpu-pool-quota-headroom")!.configSchema!.headroomPercent.default).toBe(20);
  });

  it("Analyze returns a mandatory diagnostic for an undersized GPU node group", async () => {
    const stack = happyStack();
    const ng = byName(stack, "gpk-serving-nodes");
    ng.props.scalingConfig.maxSize = 4;
    const diags = await analyzer.analyze(asInput(ng));
    expect(diags).toEqual([{
      policyName: "gpu-node-group-scaling-headroom",
      policyPackName: "gpu-capacity",
      description: expect.stringMatching(/^Checks whether each GPU node group/),
      message: expect.stringContaining('GPU node group "gpk-serving-nodes" has desiredSize 4 and maxSize 4; raise `scalingConfig.maxSize` to at least 5'),
      enforcementLevel: "mandatory",
      urn: ng.urn,
    }]);
    expect(await analyzer.analyze(asInput(byName(happyStack(), "gpk-serving-nodes")))).toEqual([]);
  });

  it("Remediate clamps gpu-memory-utilization and adds the GPU toleration, in one pass", async () => {
    const dep = servingDeployment();
    const spec = dep.props.spec.template.spec;
    spec.containers[0].args = ["--gpu-memory-utilization", "0.97", "--max-waiting", "16"];
    spec.tolerations = [];
    const remediations = await analyzer.remediate(asInput(dep));
    expect(remediations.map((r) => r.policyName)).toEqual(["serving-gpu-memory-utilization", "gpu-pods-tolerate-gpu-taint"]);
    const expected = servingDeployment();
    expected.props.spec.template.spec.containers[0].args = ["--gpu-memory-utilization", "0.9", "--max-waiting", "16"];
    expect(remediations[1].properties).toEqual(expected.props);
  });

  it("AnalyzeStack reports quota headroom on the pool, and Configure changes the threshold", async () => {
    const stack = happyStack();
    byName(stack, "tenant-search").props.gpuQuota = 20;
    const diags = await analyzer.analyzeStack(stack.map(asInput));
    expect(diags.map((d) => [d.policyName, d.enforcementLevel, d.urn])).toEqual([
      ["gpu-pool-quota-headroom", "mandatory", byName(stack, "gpk-serving").urn],
    ]);
    try {
      await analyzer.configure({ ...defaults, "gpu-pool-quota-headroom": { enforcementLevel: "mandatory", properties: { headroomPercent: 10 } } });
      expect(await analyzer.analyzeStack(stack.map(asInput))).toEqual([]);
      await analyzer.configure({ ...defaults, "gpu-pool-quota-headroom": { enforcementLevel: "advisory", properties: { headroomPercent: 20 } } });
      expect((await analyzer.analyzeStack(stack.map(asInput))).map((d) => d.enforcementLevel)).toEqual(["advisory"]);
    } finally {
      await analyzer.configure(defaults);
    }
  });
});

describe("checkStack: the three packs concurrently, as gpk check runs them", () => {
  it("finds nothing in the happy-path stack", async () => {
    expect(await checkStack(rendered(happyStack()))).toEqual([]);
  });

  it("names the policy and resource for an unsafe stack, and reports remediations apart", async () => {
    const stack = happyStack();
    byName(stack, "tenant-search").props.gpuQuota = 20;
    const web = byName(stack, "search-frontend");
    web.props.spec.template.spec.containers[0].securityContext = { privileged: true };
    byName(stack, "search-llm", "kubernetes:apps/v1:Deployment").props.spec.template.spec.containers[0].args.push("--gpu-memory-utilization=0.95");
    const violations = await checkStack(rendered(stack));
    expect(violations.map((v) => [v.pack, v.policy, v.enforcementLevel, v.urn])).toEqual([
      ["gpu-capacity", "gpu-pool-quota-headroom", "mandatory", byName(stack, "gpk-serving").urn],
      ["gpu-capacity", "serving-gpu-memory-utilization", "remediate", byName(stack, "search-llm", "kubernetes:apps/v1:Deployment").urn],
      ["tenancy", "no-host-access-outside-system", "mandatory", web.urn],
    ]);
    expect(violations[1].message).toBe(
      "Remediated: changed spec.template.spec.containers[0].args[7]. Checks whether serving engines pass a `--gpu-memory-utilization` of at most `maxGpuMemoryUtilization`, keeping GPU memory padding.",
    );
    expect(violations[2].message).toMatch(/^The pod template of "search-frontend" in namespace "search" \(spec.template.spec\) runs container "web" \(containers\[0\]\) privileged;/);
    expect(hasMandatory(violations)).toBe(true);
  });

  it("passes the stack's policy section as policy config, and rejects a bad value", async () => {
    const stack = happyStack();
    byName(stack, "tenant-search").props.gpuQuota = 20;
    expect(await checkStack(rendered(stack, { headroomPercent: 10 }), { packs: ["gpu-capacity"] })).toEqual([]);
    const advisory = await checkStack(rendered(stack, { "gpu-pool-quota-headroom": "advisory" }), { packs: ["gpu-capacity"] });
    expect(advisory.map((v) => v.enforcementLevel)).toEqual(["advisory"]);
    await expect(checkStack(rendered(stack, { headroomPercent: "lots" }), { packs: ["gpu-capacity"] })).rejects.toThrow(UsageError);
    await expect(checkStack(rendered(stack, { headroomPercent: 120 }), { packs: ["gpu-capacity"] })).rejects.toThrow(
      "policy config for gpu-capacity/gpu-pool-quota-headroom: headroomPercent must be <= 100",
    );
  });
});
