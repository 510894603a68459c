/**
 * Large pools schedule through the thermal-aware gpk-scheduler, which steers work away from
 * power-capped and hot GPUs; the default scheduler only sees free `nvidia.com/gpu` counts.
 */
import type { StackValidationPolicy } from "@pulumi/policy";
import { GPK_SCHEDULER_NAME } from "../../gpu";
import { configSchema, readConfig } from "../lib/config";
import { formatPath, isWorkloadType, podSpecs, podUsesGpus, selectedPools } from "../lib/k8s";
import { components } from "../lib/stack";

export const thermalAwareScheduling: StackValidationPolicy = {
  name: "thermal-aware-scheduling",
  description: `Checks whether GPU workloads that can land on a pool with more than \`thermalAwareAboveGpus\` GPUs use \`${GPK_SCHEDULER_NAME}\` with thermal awareness on.`,
  enforcementLevel: "mandatory",
  configSchema: configSchema("thermalAwareAboveGpus"),
  validateStack: (args, reportViolation) => {
    const { thermalAwareAboveGpus } = readConfig(args, "thermalAwareAboveGpus");
    const large = components(args.resources, "gpuNodeGroup").filter((p) => p.props.gpuCapacity > thermalAwareAboveGpus);
    if (large.length === 0) return;
    const extenders = components(args.resources, "schedulerExtender").filter((e) => e.props.thermalAware);
    const schedulerName = extenders[0]?.props.schedulerName ?? GPK_SCHEDULER_NAME;
    if (extenders.length === 0) {
      for (const pool of large) {
        reportViolation(
          `GPU pool "${pool.props.poolName}" has ${pool.props.gpuCapacity} GPUs (more than ${thermalAwareAboveGpus}) but no SchedulerExtender with \`thermalAware: true\` exists; add one.`,
          pool.urn,
        );
      }
    }
    const largeNames = new Set(large.map((p) => p.props.poolName));
    for (const r of args.resources) {
      if (!isWorkloadType(r.type)) continue;
      for (const pod of podSpecs(r.type, r.props)) {
        if (!podUsesGpus(pod.spec) || pod.spec.schedulerName === schedulerName) continue;
        const pools = selectedPools(pod.spec);
        const hit = pools ? pools.filter((p) => largeNames.has(p)) : [...largeNames];
        if (hit.length === 0) continue;
        reportViolation(
          `The ${pod.label} of "${r.name}" (${formatPath(pod.path)}) can land on large GPU pool(s) ${hit.map((p) => `"${p}"`).join(", ")} ` +
            `but uses scheduler "${pod.spec.schedulerName ?? "default-scheduler"}"; set \`schedulerName: ${schedulerName}\`.`,
          r.urn,
        );
      }
    }
  },
};

export const schedulingPolicies = [thermalAwareScheduling];
