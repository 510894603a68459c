import { expect } from "vitest";
import type { RenderedResource, RenderedStack } from "../../cli/render";

export function ofType(stack: RenderedStack, type: string): RenderedResource[] {
  return stack.resources.filter((r) => r.type === type);
}

export function one(stack: RenderedStack, type: string, name: string): RenderedResource {
  const found = stack.resources.filter((r) => r.type === type && r.name === name);
  expect(found, `${type} ${name}`).toHaveLength(1);
  return found[0]!;
}

export function parentOf(stack: RenderedStack, r: RenderedResource): RenderedResource | undefined {
  return stack.resources.find((p) => p.urn === r.parent);
}

/** Every tenant gets its namespace, quota, limits, three network policies and namespaced RBAC, parented to it. */
export function expectTenant(stack: RenderedStack, tenant: string, gpuQuota: number, group: string): void {
  const component = one(stack, "gpk:index:Tenant", `gpk-tenant-${tenant}`);
  expect(component.inputs).toMatchObject({ tenantName: tenant, namespace: tenant, gpuQuota, group });
  const children = stack.resources.filter((r) => r.parent === component.urn);
  const kinds = children.map((c) => c.type.split(":").pop()).sort();
  expect(kinds).toEqual(["LimitRange", "Namespace", "NetworkPolicy", "NetworkPolicy", "NetworkPolicy", "ResourceQuota", "Role", "RoleBinding"]);
  const ns = children.find((c) => c.type.endsWith(":Namespace"))!;
  expect((ns.inputs as any).metadata.labels).toMatchObject({ "pod-security.kubernetes.io/enforce": "restricted", "gpk.dev/tenant": tenant });
  const quota = children.find((c) => c.type.endsWith(":ResourceQuota"))!;
  expect((quota.inputs as any).spec.hard["requests.nvidia.com/gpu"]).toBe(String(gpuQuota));
  for (const c of children.filter((r) => r.type !== "kubernetes:core/v1:Namespace")) expect((c.inputs as any).metadata.namespace).toBe(tenant);
  const deny = children.find((c) => (c.inputs as any).metadata.name === "default-deny")!;
  expect((deny.inputs as any).spec).toEqual({ podSelector: {}, policyTypes: ["Ingress", "Egress"] });
  const binding = children.find((c) => c.type.endsWith(":RoleBinding"))!;
  expect((binding.inputs as any).subjects).toEqual([{ apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: group }]);
  expect((binding.inputs as any).roleRef.kind).toBe("Role");
  const role = children.find((c) => c.type.endsWith(":Role"))!;
  const rules = (role.inputs as any).rules as { verbs: string[]; resources: string[] }[];
  expect(rules.length, `rules of ${role.name}`).toBeGreaterThan(0); // an empty role would pass the checks below
  for (const rule of rules) {
    expect(rule.verbs).not.toContain("*");
    expect(rule.resources).not.toContain("*");
  }
  expect(stack.resources.some((r) => r.type.endsWith(":ClusterRoleBinding") && JSON.stringify(r.inputs).includes(group))).toBe(false);
}
