/**
 * The admission guards as data (components/admission-guards.ts) and as the local and prod
 * stacks render them. What their CEL does, the real API server shows in
 * test/e2e/25-admission-guards.e2e.ts; here: which policies, which namespaces each binds,
 * and that the stack's failurePolicy and validationActions reach every one.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { renderStack, type RenderedStack } from "../../cli/render";
import { validateResources } from "../../cli/render/validate";
import { admissionGuardPolicies } from "../../components/admission-guards";
import { ADMISSION_GUARDS, KIT_LABELS, SYSTEM_NAMESPACES, strictPoolsGuardName } from "../../gpu";

const tenants = [
  { namespace: "search", allowedPools: ["serving"], isolation: "shared" as const },
  { namespace: "research", allowedPools: ["training", "mig"], isolation: "strict" as const },
];
const policies = admissionGuardPolicies({ tenants, systemNamespaces: [...SYSTEM_NAMESPACES], failurePolicy: "Ignore" });
const byName = (name: string) => policies.find((p) => p.name === name)!;
const exempt = { key: "kubernetes.io/metadata.name", operator: "NotIn", values: [...SYSTEM_NAMESPACES].sort() };

describe("admissionGuardPolicies", () => {
  it("has the three tenancy guards and one per strict tenant, all on pod create and update", () => {
    expect(policies.map((p) => p.name)).toEqual([...Object.values(ADMISSION_GUARDS), strictPoolsGuardName("research")]);
    for (const p of policies) {
      expect(p.spec).toMatchObject({ failurePolicy: "Ignore", matchConstraints: { resourceRules: [{ apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE", "UPDATE"], resources: ["pods"] }] } });
      // Every message names its rule.
      for (const v of p.spec.validations as { messageExpression: string }[]) expect(v.messageExpression.startsWith(`'${p.name}: `)).toBe(true);
    }
  });

  it("exempts the system namespaces from every guard, by name", () => {
    expect(byName(ADMISSION_GUARDS.requestsEqualLimits).bindingNamespaces).toEqual({ matchExpressions: [exempt] });
    expect(byName(ADMISSION_GUARDS.tolerationScope).bindingNamespaces).toEqual({ matchExpressions: [{ key: KIT_LABELS.tenant, operator: "DoesNotExist" }, exempt] });
    expect(byName(ADMISSION_GUARDS.dedicatedPools).bindingNamespaces).toEqual({ matchExpressions: [{ key: KIT_LABELS.tenant, operator: "Exists" }, exempt] });
    expect(byName(strictPoolsGuardName("research")).bindingNamespaces).toEqual({ matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "In", values: ["research"] }] });
  });

  it("writes CEL whose string literals close and whose brackets balance (the API server refused one that did not)", () => {
    for (const p of policies) {
      const spec = p.spec as { variables: { expression: string }[]; validations: { expression: string; messageExpression: string }[] };
      const sources = [...spec.variables.map((v) => v.expression), ...spec.validations.flatMap((v) => [v.expression, v.messageExpression])];
      for (const cel of sources) {
        // CEL string literals: single-quoted, backslash escapes (cel-spec, "String and Bytes Literals").
        const code = cel.replace(/'(?:[^'\\\n]|\\.)*'/g, "S");
        expect(code, `${p.name}: a quote outside a string literal in ${cel}`).not.toContain("'");
        let depth = 0;
        for (const ch of code) if (depth >= 0) depth += "([".includes(ch) ? 1 : ")]".includes(ch) ? -1 : 0;
        expect(depth, `${p.name}: unbalanced brackets in ${cel}`).toBe(0);
      }
    }
  });

  it("keeps a strict tenant on exactly its pools", () => {
    const [rule] = byName(strictPoolsGuardName("research")).spec.validations as { expression: string }[];
    expect(rule!.expression).toContain(`object.spec.nodeSelector['${KIT_LABELS.pool}'] in ['training', 'mig']`);
  });
});

describe("the stacks' guards", () => {
  let local: RenderedStack;
  beforeAll(async () => {
    local = await renderStack("local");
  }, 120_000);

  it("local: a policy and a Deny binding per guard, strict team-a included, schema-valid", () => {
    const of = (kind: string) => local.resources.filter((r) => r.type === `kubernetes:admissionregistration.k8s.io/v1:${kind}`).map((r) => r.inputs as any);
    const names = [...Object.values(ADMISSION_GUARDS), strictPoolsGuardName("team-a")];
    expect(of("ValidatingAdmissionPolicy").map((p) => p.metadata.name).sort()).toEqual([...names].sort());
    expect(of("ValidatingAdmissionPolicyBinding").map((b) => [b.spec.policyName, b.spec.validationActions]).sort()).toEqual(names.map((n) => [n, ["Deny"]]).sort());
    expect(of("ValidatingAdmissionPolicy").every((p) => p.spec.failurePolicy === "Fail")).toBe(true);
    expect(validateResources(local.resources.filter((r) => r.type.includes("admissionregistration"))).schemaErrors).toEqual([]);
  });
});
