/**
 * The real local stack, rendered in this process, changed the way a component bug would
 * change it (stack config has no knob for either): a privileged workload slipped into a
 * tenant namespace, and the kit's own namespaces without their NetworkPolicies. checkStack
 * (what gpk check and gpk preview call) must name the policy and the resource.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { checkStack, hasMandatory } from "../../cli/check";
import { renderStack, type RenderedStack } from "../../cli/render";

let original: RenderedStack;
beforeAll(async () => {
  original = await renderStack("local");
}, 180_000);
const copy = (): RenderedStack => structuredClone(original);

describe("checkStack on the rendered local stack", () => {
  it("passes the stack as rendered", async () => {
    expect(hasMandatory(await checkStack(copy(), { packs: ["tenancy"] }))).toBe(false);
  }, 180_000);

  it("reports a privileged container in a tenant namespace", async () => {
    const rendered = copy();
    const tenant = rendered.resources.find((r) => r.type === "gpk:index:Tenant")!;
    const ns = (tenant.inputs as { namespace: string }).namespace;
    const urn = `${tenant.urn.replace(/::[^:]+$/, "")}$kubernetes:apps/v1:Deployment::debug-shell`;
    rendered.resources.push({
      urn, type: "kubernetes:apps/v1:Deployment", name: "debug-shell", parent: tenant.urn, custom: true,
      inputs: { metadata: { name: "debug-shell", namespace: ns }, spec: { template: { spec: {
        automountServiceAccountToken: false,
        containers: [{ name: "shell", image: "docker.io/library/busybox:1.37", securityContext: { privileged: true } }],
      } } } },
    });
    const violations = await checkStack(rendered, { packs: ["tenancy"] });
    expect(violations.map((v) => [v.policy, v.enforcementLevel, v.urn])).toEqual([["no-host-access-outside-system", "mandatory", urn]]);
    expect(hasMandatory(violations)).toBe(true);
  }, 180_000);

  it("reports gpk-system and gpk-node without their NetworkPolicies", async () => {
    const rendered = copy();
    const system = ["gpk-system", "gpk-node"];
    rendered.resources = rendered.resources.filter((r) => !(r.type === "kubernetes:networking.k8s.io/v1:NetworkPolicy" && system.includes((r.inputs as any).metadata.namespace)));
    const namespaces = rendered.resources.filter((r) => r.type === "kubernetes:core/v1:Namespace" && system.includes((r.inputs as any).metadata.name));
    expect(namespaces).toHaveLength(2);
    const violations = await checkStack(rendered, { packs: ["tenancy"] });
    expect(violations.map((v) => [v.policy, v.enforcementLevel, v.urn]).sort()).toEqual(namespaces.map((n) => ["system-namespace-default-deny", "mandatory", n.urn]).sort());
  }, 180_000);
});
