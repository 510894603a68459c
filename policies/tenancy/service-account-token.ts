/**
 * Tenant pods do not get a Kubernetes API token unless they ask for one: most inference and
 * training pods never call the API, and a mounted token is what a compromised pod uses to
 * look around.
 */
import type { StackValidationPolicy } from "@pulumi/policy";
import { K8S_TYPES, formatPath, isWorkloadType, namespaceOf, objectName, podSpecs } from "../lib/k8s";
import { ofTypes, tenantsByNamespace } from "../lib/stack";

export const tenantTokenAutomountOff: StackValidationPolicy = {
  name: "tenant-token-automount-off",
  description:
    "Checks whether tenant pods run without an automounted service-account token unless they opt in: the pod or its ServiceAccount sets `automountServiceAccountToken: false`.",
  enforcementLevel: "mandatory",
  validateStack: (args, reportViolation) => {
    const tenants = tenantsByNamespace(args.resources);
    const accounts = new Map(
      ofTypes(args.resources, K8S_TYPES.serviceAccount).map((sa) => [`${namespaceOf(sa.props)}/${objectName(sa.props, sa.name)}`, sa.props]),
    );
    for (const r of args.resources) {
      if (!isWorkloadType(r.type)) continue;
      const ns = namespaceOf(r.props);
      if (!tenants.has(ns)) continue;
      for (const pod of podSpecs(r.type, r.props)) {
        // An explicit pod-level value is a decision (true = the workload needs the API); only the default is judged.
        if (typeof pod.spec.automountServiceAccountToken === "boolean") continue;
        const saName = pod.spec.serviceAccountName ?? "default";
        if (accounts.get(`${ns}/${saName}`)?.automountServiceAccountToken === false) continue;
        reportViolation(
          `The ${pod.label} of "${r.name}" (${formatPath(pod.path)}) in tenant namespace "${ns}" gets ServiceAccount "${saName}"'s token mounted by default; ` +
            `set \`automountServiceAccountToken: false\` on the pod or on the ServiceAccount (true on the pod opts in).`,
          r.urn,
        );
      }
    }
  },
};

export const serviceAccountTokenPolicies = [tenantTokenAutomountOff];
