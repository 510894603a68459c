/**
 * Tenant GPU quotas against pool capacity: the "20% over-provisioning" rule. A pool whose
 * tenants may together claim all of its GPUs has no room for failover, drains or the
 * fragmentation every GPU packer leaves behind.
 */
import type { StackValidationPolicy } from "@pulumi/policy";
import { configSchema, readConfig } from "../lib/config";
import { components } from "../lib/stack";

export const gpuPoolQuotaHeadroom: StackValidationPolicy = {
  name: "gpu-pool-quota-headroom",
  description:
    "Checks whether the GPU quotas of the tenants allowed on each GPU pool leave at least `headroomPercent` of the pool's GPUs (at max scale) unallocated.",
  enforcementLevel: "mandatory",
  configSchema: configSchema("headroomPercent"),
  validateStack: (args, reportViolation) => {
    const { headroomPercent } = readConfig(args, "headroomPercent");
    const tenants = components(args.resources, "tenant");
    for (const pool of components(args.resources, "gpuNodeGroup")) {
      const { poolName, gpuCapacity } = pool.props;
      const onPool = tenants.filter((t) => (t.props.allowedPools ?? []).includes(poolName));
      const allocated = onPool.reduce((sum, t) => sum + (t.props.gpuQuota ?? 0), 0);
      // Integer-safe form of allocated ≤ capacity × (1 − headroom/100).
      if (allocated * 100 > gpuCapacity * (100 - headroomPercent)) {
        const allowed = Math.floor((gpuCapacity * (100 - headroomPercent)) / 100);
        const detail = onPool.map((t) => `${t.props.tenantName}=${t.props.gpuQuota}`).join(", ");
        reportViolation(
          `GPU pool "${poolName}" has ${gpuCapacity} GPUs at max scale but its tenants' quotas add up to ${allocated} (${detail}), ` +
            `which leaves less than ${headroomPercent}% unallocated. Lower the tenants' \`gpuQuota\` to ${allowed} GPUs in total ` +
            `or raise the pool's \`maxNodes\`.`,
          pool.urn,
        );
      }
    }
  },
};

export const quotaHeadroomPolicies = [gpuPoolQuotaHeadroom];
