/** A GPU pool without a device plugin advertises no `nvidia.com/gpu`: its nodes idle at full price. */
import type { StackValidationPolicy } from "@pulumi/policy";
import { components } from "../lib/stack";

export const gpuPoolHasDevicePlugin: StackValidationPolicy = {
  name: "gpu-pool-has-device-plugin",
  description: "Checks whether every GPU pool is covered by an NvidiaDevicePlugin that schedules its pods on the pool's nodes.",
  enforcementLevel: "mandatory",
  validateStack: (args, reportViolation) => {
    const covered = new Set(components(args.resources, "devicePlugin").flatMap((p) => p.props.pools ?? []));
    for (const pool of components(args.resources, "gpuNodeGroup")) {
      if (!covered.has(pool.props.poolName)) {
        reportViolation(
          `GPU pool "${pool.props.poolName}" has no device plugin, so its nodes advertise no GPUs; ` +
            `add the pool to an NvidiaDevicePlugin's \`pools\`.`,
          pool.urn,
        );
      }
    }
  },
};

export const devicePluginPolicies = [gpuPoolHasDevicePlugin];
