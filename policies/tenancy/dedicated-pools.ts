/** A pool dedicated to one tenant is tainted for that tenant; nobody else may tolerate the taint. */
import type { StackValidationPolicy } from "@pulumi/policy";
import { dedicatedPoolTaint } from "../../gpu";
import { formatPath, isWorkloadType, namespaceOf, podSpecs, podTolerates } from "../lib/k8s";
import { components, tenantsByNamespace } from "../lib/stack";

export const tenantDedicatedPoolTolerations: StackValidationPolicy = {
  name: "tenant-dedicated-pool-tolerations",
  description: "Checks whether pods in a tenant's namespace tolerate no other tenant's dedicated-pool taint.",
  enforcementLevel: "mandatory",
  validateStack: (args, reportViolation) => {
    const tenants = tenantsByNamespace(args.resources);
    const dedicated = components(args.resources, "gpuNodeGroup")
      .map((p) => p.props)
      .filter((p) => p.dedicatedTenant !== undefined);
    for (const r of args.resources) {
      if (!isWorkloadType(r.type)) continue;
      const ns = namespaceOf(r.props);
      const tenant = tenants.get(ns);
      if (!tenant) continue;
      for (const pod of podSpecs(r.type, r.props)) {
        for (const pool of dedicated) {
          if (pool.dedicatedTenant === tenant.props.tenantName) continue;
          if (podTolerates(pod.spec, dedicatedPoolTaint(pool.dedicatedTenant!))) {
            reportViolation(
              `The ${pod.label} of "${r.name}" (${formatPath(pod.path)}) in tenant "${tenant.props.tenantName}"'s namespace tolerates the taint of pool "${pool.poolName}", ` +
                `dedicated to tenant "${pool.dedicatedTenant}"; remove that toleration (and any wildcard toleration on "${dedicatedPoolTaint("x").key}").`,
              r.urn,
            );
          }
        }
      }
    }
  },
};

export const dedicatedPoolPolicies = [tenantDedicatedPoolTolerations];
