/**
 * Tenant RBAC stays namespaced and explicit: no cluster-wide bindings for tenant groups or
 * service accounts, and no wildcard verbs or resources in tenant Roles (a `*` silently
 * grants whatever the API server adds next).
 */
import type { StackValidationPolicy } from "@pulumi/policy";
import { K8S_TYPES, namespaceOf, type Json } from "../lib/k8s";
import { components, ofTypes } from "../lib/stack";

export const noTenantClusterRoleBindings: StackValidationPolicy = {
  name: "no-tenant-cluster-role-bindings",
  description: "Checks whether no ClusterRoleBinding names a tenant's group or a service account in a tenant namespace.",
  enforcementLevel: "mandatory",
  validateStack: (args, reportViolation) => {
    const tenants = components(args.resources, "tenant").map((t) => t.props);
    for (const crb of ofTypes(args.resources, K8S_TYPES.clusterRoleBinding)) {
      for (const s of (crb.props.subjects ?? []) as Json[]) {
        const tenant = tenants.find(
          (t) => (s.kind === "Group" && s.name === t.group) || (s.kind === "ServiceAccount" && s.namespace === t.namespace),
        );
        if (tenant) {
          reportViolation(
            `ClusterRoleBinding "${crb.name}" grants ${s.kind} "${s.name}" of tenant "${tenant.tenantName}" cluster-wide access; ` +
              `use a RoleBinding in namespace "${tenant.namespace}" instead.`,
            crb.urn,
          );
        }
      }
    }
  },
};

export const noWildcardTenantRoles: StackValidationPolicy = {
  name: "no-wildcard-tenant-roles",
  description: "Checks whether Roles in tenant namespaces list their verbs and resources explicitly, without `*`.",
  enforcementLevel: "mandatory",
  validateStack: (args, reportViolation) => {
    const tenantNamespaces = new Set(components(args.resources, "tenant").map((t) => t.props.namespace));
    for (const role of ofTypes(args.resources, K8S_TYPES.role)) {
      if (!tenantNamespaces.has(namespaceOf(role.props))) continue;
      ((role.props.rules ?? []) as Json[]).forEach((rule, i) => {
        const wild = (["verbs", "resources"] as const).filter((k) => (rule[k] ?? []).includes("*"));
        if (wild.length > 0) {
          reportViolation(
            `Role "${role.name}" in tenant namespace "${namespaceOf(role.props)}" uses "*" in rules[${i}].${wild.join(" and ")}; list the verbs and resources the tenant needs.`,
            role.urn,
          );
        }
      });
    }
  },
};

export const rbacPolicies = [noTenantClusterRoleBindings, noWildcardTenantRoles];
