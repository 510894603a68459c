/**
 * Tenant GPU quotas against pool capacity: the "20% over-provisioning" rule. A pool whose
 * tenants may together claim all of its GPUs has no room for failover, drains or the
 * fragmentation every GPU packer leaves behind.
 */
import type { StackValidationPolicy } from "@pulumi/policy";
import { configSchema, readConfig } from "../lib/config";
import { components } from "../lib/stack";
import { GPU_RESOURCE } from "../../gpu";
import { migProfileOfResource } from "../../gpu/mig";

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
      const { poolName } = pool.props;
      const onPool = tenants.filter((t) => (t.props.allowedPools ?? []).includes(poolName));
      // Each device resource the pool advertises on its own: whole GPUs (or MIG `single` devices)
      // against `nvidia.com/gpu` quotas, each MIG `mixed` profile against that profile's quotas.
      // A `mixed` MIG pool has no whole GPU to hold a `gpuQuota` against.
      const capacities = { ...(pool.props.migStrategy === "mixed" ? {} : { [GPU_RESOURCE]: pool.props.gpuCapacity }), ...pool.props.migCapacity };
      for (const [resource, capacity] of Object.entries(capacities)) {
        const quotaOf = (t: (typeof onPool)[number]) => (resource === GPU_RESOURCE ? t.props.gpuQuota : t.props.migQuota?.[resource]) ?? 0;
        const allocated = onPool.reduce((sum, t) => sum + quotaOf(t), 0);
        // Integer-safe form of allocated ≤ capacity × (1 − headroom/100).
        if (allocated * 100 <= capacity * (100 - headroomPercent)) continue;
        const allowed = Math.floor((capacity * (100 - headroomPercent)) / 100);
        const detail = onPool.map((t) => `${t.props.tenantName}=${quotaOf(t)}`).join(", ");
        const profile = migProfileOfResource(resource);
        const [what, unit] = resource === GPU_RESOURCE ? ["GPUs", "GPUs"] : [`${resource} devices`, "devices"];
        const knob = profile === undefined ? "`gpuQuota`" : `\`migQuota["${profile}"]\``;
        reportViolation(
          `GPU pool "${poolName}" has ${capacity} ${what} at max scale but its tenants' quotas add up to ${allocated} (${detail}), ` +
            `which leaves less than ${headroomPercent}% unallocated. Lower the tenants' ${knob} to ${allowed} ${unit} in total ` +
            `or raise the pool's \`maxNodes\`.`,
          pool.urn,
        );
      }
    }
  },
};

export const quotaHeadroomPolicies = [gpuPoolQuotaHeadroom];
