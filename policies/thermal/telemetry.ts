/** A GPU pool without an exporter is a pool whose temperatures, power caps and XIDs nobody sees. */
import type { StackValidationPolicy } from "@pulumi/policy";
import { components } from "../lib/stack";

export const gpuPoolHasTelemetry: StackValidationPolicy = {
  name: "gpu-pool-has-telemetry",
  description: "Checks whether every GPU pool runs a GPU telemetry exporter (GpuTelemetry) on its nodes.",
  enforcementLevel: "mandatory",
  validateStack: (args, reportViolation) => {
    const covered = new Set(components(args.resources, "telemetry").flatMap((t) => t.props.pools ?? []));
    for (const pool of components(args.resources, "gpuNodeGroup")) {
      if (!covered.has(pool.props.poolName)) {
        reportViolation(
          `GPU pool "${pool.props.poolName}" has no telemetry exporter scheduled on it, so its temperature, power and XID errors go unseen; ` +
            `add the pool to a GpuTelemetry's \`pools\`.`,
          pool.urn,
        );
      }
    }
  },
};

export const telemetryPolicies = [gpuPoolHasTelemetry];
