/**
 * Isolation that outlives the deployment: strict tenants share no GPU with another tenant, and
 * the stack installs the admission policies (components/admission-guards.ts) through which
 * the API server holds the tenancy rules for pods created later, by anyone.
 */
import type { StackValidationPolicy } from "@pulumi/policy";
import { ADMISSION_GUARDS, strictPoolsGuardName, strictTenantPoolProblem } from "../../gpu";
import { K8S_TYPES, formatPath, isWorkloadType, namespaceOf, objectName, podSpecs, podUsesGpus, selectedPools } from "../lib/k8s";
import { components, ofTypes, tenantsByNamespace } from "../lib/stack";

export const strictTenantNoSharedGpus: StackValidationPolicy = {
  name: "strict-tenant-no-shared-gpus",
  description: "Checks whether every GPU pod of a strict tenant selects only pools where it shares no GPU with another tenant (dedicated to it, or whole GPUs or MIG devices without time-slicing).",
  enforcementLevel: "mandatory",
  validateStack: (args, reportViolation) => {
    const tenants = tenantsByNamespace(args.resources);
    const pools = new Map(components(args.resources, "gpuNodeGroup").map((p) => [p.props.poolName, p.props]));
    for (const r of args.resources) {
      if (!isWorkloadType(r.type)) continue;
      const tenant = tenants.get(namespaceOf(r.props));
      if (!tenant || tenant.props.isolation !== "strict") continue;
      for (const pod of podSpecs(r.type, r.props)) {
        if (!podUsesGpus(pod.spec)) continue;
        const where = `The ${pod.label} of "${r.name}" (${formatPath(pod.path)}) in strict tenant "${tenant.props.tenantName}"'s namespace`;
        const selected = selectedPools(pod.spec);
        if (!selected || selected.length === 0) {
          reportViolation(`${where} selects no pool, so it may land on a time-sliced GPU shared with other tenants; select one of ${tenant.props.allowedPools.join(", ")} with nodeSelector gpk.dev/pool.`, r.urn);
          continue;
        }
        for (const name of selected) {
          const pool = pools.get(name);
          const problem = pool ? strictTenantPoolProblem({ name, timeSlicingReplicas: pool.timeSlicingReplicas, dedicatedTenant: pool.dedicatedTenant }, tenant.props.tenantName) : `pool "${name}" is not one of the stack's pools`;
          if (problem) reportViolation(`${where} selects ${problem}; a strict tenant shares no GPU, so select a pool dedicated to it or one without time-slicing.`, r.urn);
        }
      }
    }
  },
};

export const admissionGuardsPresent: StackValidationPolicy = {
  name: "admission-guards-present",
  description: "Checks whether a stack with tenants installs the kit's ValidatingAdmissionPolicies (GPU requests equal limits, GPU toleration scope, dedicated-pool tolerations, one per strict tenant), each with a binding.",
  enforcementLevel: "mandatory",
  validateStack: (args, reportViolation) => {
    const tenants = components(args.resources, "tenant");
    if (tenants.length === 0) return;
    const policies = new Set(ofTypes(args.resources, K8S_TYPES.validatingAdmissionPolicy).map((p) => objectName(p.props, p.name)));
    const bound = new Set(ofTypes(args.resources, K8S_TYPES.validatingAdmissionPolicyBinding).map((b) => String(b.props.spec?.policyName ?? "")));
    const expected = [...Object.values(ADMISSION_GUARDS), ...tenants.filter((t) => t.props.isolation === "strict").map((t) => strictPoolsGuardName(t.props.namespace))];
    for (const name of expected) {
      const missing = !policies.has(name) ? "no ValidatingAdmissionPolicy" : !bound.has(name) ? "a ValidatingAdmissionPolicy but no binding" : undefined;
      if (missing) {
        reportViolation(`The stack has tenants but ${missing} named "${name}"; without it the API server admits pods that break the tenancy rules after deployment (components/admission-guards.ts).`, tenants[0]!.urn);
      }
    }
  },
};

export const isolationPolicies = [strictTenantNoSharedGpus, admissionGuardsPresent];
