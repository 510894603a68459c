/**
 * Namespaces are the tenancy boundary: every namespace a workload lands in belongs to a
 * Tenant (and then carries its guard rails) or to the platform's allowlist.
 */
import type { StackValidationPolicy } from "@pulumi/policy";
import { GPU_QUOTA_KEY, GPU_RESOURCE } from "../../gpu";
import { configSchema, readConfig } from "../lib/config";
import { K8S_TYPES, isWorkloadType, namespaceOf, objectName, type Json } from "../lib/k8s";
import { components, ofTypes, tenantsByNamespace } from "../lib/stack";

/** Pod Security Admission label and the level tenant namespaces must enforce. */
export const PSA_ENFORCE = { key: "pod-security.kubernetes.io/enforce", value: "restricted" } as const;

export const workloadNamespaceOwnership: StackValidationPolicy = {
  name: "workload-namespace-ownership",
  description: "Checks whether every namespace that holds workloads (or is created by the stack) belongs to a Tenant or to the `systemNamespaces` allowlist.",
  enforcementLevel: "mandatory",
  configSchema: configSchema("systemNamespaces"),
  validateStack: (args, reportViolation) => {
    const { systemNamespaces } = readConfig(args, "systemNamespaces");
    const tenants = tenantsByNamespace(args.resources);
    const owned = (ns: string) => tenants.has(ns) || systemNamespaces.includes(ns);
    for (const r of args.resources) {
      let ns: string | undefined;
      if (r.type === K8S_TYPES.namespace) ns = objectName(r.props, r.name);
      else if (isWorkloadType(r.type)) ns = namespaceOf(r.props);
      else if (r.type === K8S_TYPES.helmRelease) ns = typeof r.props.namespace === "string" ? r.props.namespace : "default";
      if (ns !== undefined && !owned(ns)) {
        reportViolation(
          `Namespace "${ns}" of "${r.name}" belongs to no Tenant and is not a system namespace; ` +
            `create it through a Tenant or add it to the \`systemNamespaces\` policy setting.`,
          r.urn,
        );
      }
    }
  },
};

function inNamespace(resources: ReturnType<typeof ofTypes>, ns: string) {
  return resources.filter((r) => namespaceOf(r.props) === ns);
}

export const tenantNamespacePsaRestricted: StackValidationPolicy = {
  name: "tenant-namespace-psa-restricted",
  description: `Checks whether every tenant namespace is created with the Pod Security label \`${PSA_ENFORCE.key}: ${PSA_ENFORCE.value}\`.`,
  enforcementLevel: "mandatory",
  validateStack: (args, reportViolation) => {
    const namespaces = ofTypes(args.resources, K8S_TYPES.namespace);
    for (const tenant of components(args.resources, "tenant")) {
      const ns = namespaces.find((n) => objectName(n.props, n.name) === tenant.props.namespace);
      const level = ns?.props.metadata?.labels?.[PSA_ENFORCE.key];
      if (level !== PSA_ENFORCE.value) {
        reportViolation(
          ns
            ? `Tenant namespace "${tenant.props.namespace}" enforces Pod Security "${level ?? "(none)"}"; label it \`${PSA_ENFORCE.key}: ${PSA_ENFORCE.value}\`.`
            : `Tenant "${tenant.props.tenantName}" has no Namespace resource named "${tenant.props.namespace}"; create it with \`${PSA_ENFORCE.key}: ${PSA_ENFORCE.value}\`.`,
          ns?.urn ?? tenant.urn,
        );
      }
    }
  },
};

export const tenantNamespaceGpuQuota: StackValidationPolicy = {
  name: "tenant-namespace-gpu-quota",
  description: `Checks whether every tenant namespace has a ResourceQuota capping \`${GPU_QUOTA_KEY}\` and every MIG resource (\`requests.nvidia.com/mig-<profile>\`) the GPU pools advertise.`,
  enforcementLevel: "mandatory",
  validateStack: (args, reportViolation) => {
    const quotas = ofTypes(args.resources, K8S_TYPES.resourceQuota);
    // Whole GPUs always; each MIG resource a pool advertises, which a missing cap would leave unlimited.
    const devices = new Set([GPU_RESOURCE]);
    for (const pool of components(args.resources, "gpuNodeGroup")) for (const r of Object.keys(pool.props.nodeResources ?? {})) devices.add(r);
    for (const tenant of components(args.resources, "tenant")) {
      const hard = inNamespace(quotas, tenant.props.namespace).map((q) => q.props.spec?.hard ?? {});
      for (const resource of [...devices].sort()) {
        const key = `requests.${resource}`;
        if (hard.some((h) => h[key] !== undefined)) continue;
        reportViolation(
          resource === GPU_RESOURCE
            ? `Tenant namespace "${tenant.props.namespace}" has no ResourceQuota capping \`${key}\`; add one set to the tenant's GPU quota.`
            : `Tenant namespace "${tenant.props.namespace}" has no ResourceQuota capping \`${key}\`, so its pods may take every ${resource} device; cap it (0 when the tenant is not granted any).`,
          tenant.urn,
        );
      }
    }
  },
};

/** A NetworkPolicy that selects every pod and allows no ingress. */
export function isDefaultDenyIngress(np: Json): boolean {
  const spec: Json = np.spec ?? {};
  const selectsAll = Object.keys(spec.podSelector?.matchLabels ?? {}).length === 0 && (spec.podSelector?.matchExpressions ?? []).length === 0;
  const types: string[] = spec.policyTypes ?? ["Ingress"];
  return selectsAll && types.includes("Ingress") && (spec.ingress ?? []).length === 0;
}

export const tenantNamespaceDefaultDeny: StackValidationPolicy = {
  name: "tenant-namespace-default-deny",
  description: "Checks whether every tenant namespace has a default-deny NetworkPolicy (empty pod selector, Ingress type, no ingress rules).",
  enforcementLevel: "mandatory",
  validateStack: (args, reportViolation) => {
    const policies = ofTypes(args.resources, K8S_TYPES.networkPolicy);
    for (const tenant of components(args.resources, "tenant")) {
      if (!inNamespace(policies, tenant.props.namespace).some((np) => isDefaultDenyIngress(np.props))) {
        reportViolation(
          `Tenant namespace "${tenant.props.namespace}" has no default-deny NetworkPolicy; add one with \`podSelector: {}\`, \`policyTypes: [Ingress, Egress]\` and no ingress rules.`,
          tenant.urn,
        );
      }
    }
  },
};

/**
 * The kit's own namespaces hold the pods with the widest reach (the extender may bind any pod;
 * the node agents run privileged), so they deny ingress by default too, and each component
 * allows only its callers (docs/scheduler-extender.md).
 */
export const systemNamespaceDefaultDeny: StackValidationPolicy = {
  name: "system-namespace-default-deny",
  description: "Checks whether every namespace the stack creates outside its tenants (the kit's gpk-system and gpk-node) has a default-deny ingress NetworkPolicy.",
  enforcementLevel: "mandatory",
  validateStack: (args, reportViolation) => {
    const tenants = tenantsByNamespace(args.resources);
    const policies = ofTypes(args.resources, K8S_TYPES.networkPolicy);
    for (const ns of ofTypes(args.resources, K8S_TYPES.namespace)) {
      const name = objectName(ns.props, ns.name);
      if (tenants.has(name) || inNamespace(policies, name).some((np) => isDefaultDenyIngress(np.props))) continue;
      reportViolation(
        `Namespace "${name}" has no default-deny ingress NetworkPolicy; add one with \`podSelector: {}\`, \`policyTypes: [Ingress]\` and no ingress rules, then allow only the callers its pods serve.`,
        ns.urn,
      );
    }
  },
};

export const namespacePolicies = [workloadNamespaceOwnership, tenantNamespacePsaRestricted, tenantNamespaceGpuQuota, tenantNamespaceDefaultDeny, systemNamespaceDefaultDeny];
