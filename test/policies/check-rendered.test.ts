/**
 * The real local stack, rendered in this process, with a privileged workload slipped into a
 * tenant namespace: checkStack (what gpk check and gpk preview call) must name the policy
 * and the resource. (Stack config has no knob for arbitrary workloads, so the object is
 * added to the rendered resources the way a component bug would add it.)
 */
import { describe, expect, it } from "vitest";
import { checkStack, hasMandatory } from "../../cli/check";
import { renderStack } from "../../cli/render";

describe("checkStack on the rendered local stack", () => {
  it("reports a privileged container in a tenant namespace", async () => {
    const rendered = await renderStack("local");
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
});
