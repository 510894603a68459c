/**
 * No tenant reaches into another tenant's namespace: not through an ExternalName Service,
 * a RoleBinding subject or a NetworkPolicy peer.
 */
import type { StackValidationPolicy } from "@pulumi/policy";
import { KIT_LABELS } from "../../gpu";
import { K8S_TYPES, namespaceOf, objectName, selectorMatches, type Json } from "../lib/k8s";
import { components, ofTypes } from "../lib/stack";

/**
 * The namespace an in-cluster DNS name points into (`svc.ns`, `svc.ns.svc`,
 * `svc.ns.svc.cluster.local`). A two-label name is tried against the cluster's search path
 * (ndots 5) before public DNS, so `example.com` does reach a Service "example" in a
 * namespace "com" if one exists; callers compare the result with tenant namespaces.
 */
export function dnsNamespace(host: string): string | undefined {
  const parts = host.toLowerCase().replace(/\.$/, "").split(".");
  if (parts.length === 2 || (parts.length >= 3 && parts[2] === "svc")) return parts[1];
  return undefined;
}

/** NetworkPolicy peers (ingress `from`, egress `to`) that admit a namespace. */
function peers(np: Json): Json[] {
  const spec: Json = np.spec ?? {};
  const rules: Json[] = [...(spec.ingress ?? []).flatMap((r: Json) => r.from ?? []), ...(spec.egress ?? []).flatMap((r: Json) => r.to ?? [])];
  return rules.filter((p) => p?.namespaceSelector !== undefined);
}

export const noCrossTenantReferences: StackValidationPolicy = {
  name: "no-cross-tenant-references",
  description:
    "Checks whether Services, RoleBindings and NetworkPolicies in a tenant's namespace stay out of other tenants' namespaces.",
  enforcementLevel: "mandatory",
  validateStack: (args, reportViolation) => {
    const tenants = components(args.resources, "tenant");
    const tenantOf = new Map(tenants.map((t) => [t.props.namespace, t.props]));
    // Labels of each tenant namespace as the API server sees them (it adds kubernetes.io/metadata.name).
    const nsLabels = new Map<string, Record<string, string>>();
    for (const t of tenants) nsLabels.set(t.props.namespace, { "kubernetes.io/metadata.name": t.props.namespace, [KIT_LABELS.tenant]: t.props.tenantName });
    for (const n of ofTypes(args.resources, K8S_TYPES.namespace)) {
      const name = objectName(n.props, n.name);
      if (nsLabels.has(name)) nsLabels.set(name, { ...n.props.metadata?.labels, "kubernetes.io/metadata.name": name });
    }
    const report = (r: { urn: string; name: string }, own: string, other: string, how: string) =>
      reportViolation(
        `"${r.name}" in tenant namespace "${own}" ${how} tenant namespace "${other}"; tenants may only reference their own namespace.`,
        r.urn,
      );

    const scoped = ofTypes(args.resources, K8S_TYPES.service, K8S_TYPES.roleBinding, K8S_TYPES.networkPolicy);
    for (const r of scoped) {
      const own = namespaceOf(r.props);
      if (!tenantOf.has(own)) continue;
      const others = [...tenantOf.keys()].filter((ns) => ns !== own);
      if (r.type === K8S_TYPES.service && r.props.spec?.type === "ExternalName") {
        const target = dnsNamespace(String(r.props.spec.externalName ?? ""));
        if (target && others.includes(target)) report(r, own, target, "points its ExternalName into");
      } else if (r.type === K8S_TYPES.roleBinding) {
        for (const s of (r.props.subjects ?? []) as Json[]) {
          if (s.kind === "ServiceAccount" && others.includes(s.namespace)) report(r, own, s.namespace, `binds ServiceAccount "${s.name}" of`);
          const groupOwner = [...tenantOf.entries()].find(([ns, t]) => ns !== own && s.kind === "Group" && t.group === s.name);
          if (groupOwner) report(r, own, groupOwner[0], `binds group "${s.name}" of`);
        }
      } else if (r.type === K8S_TYPES.networkPolicy) {
        for (const peer of peers(r.props)) {
          for (const other of others) {
            if (selectorMatches(peer.namespaceSelector, nsLabels.get(other) ?? {})) report(r, own, other, "admits traffic to or from");
          }
        }
      }
    }
  },
};

export const crossTenantPolicies = [noCrossTenantReferences];
