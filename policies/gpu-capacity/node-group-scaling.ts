/**
 * Node-group scaling headroom: an EKS GPU node group must be able to grow past its desired
 * size by `headroomPercent`, or a node failure or a burst has nowhere to go.
 */
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { EC2_GPU_INSTANCES, GPU_TAINT, KIT_LABELS } from "../../gpu";
import { configSchema, readConfig } from "../lib/config";
import { K8S_TYPES, type Json } from "../lib/k8s";

/** GPU node groups: the kit's pool label, the GPU taint, a GPU instance type or a GPU AMI. */
export function isGpuNodeGroup(props: Json): boolean {
  if (props.labels && KIT_LABELS.pool in props.labels) return true;
  if (Array.isArray(props.taints) && props.taints.some((t: Json) => t?.key === GPU_TAINT.key)) return true;
  if (Array.isArray(props.instanceTypes) && props.instanceTypes.some((t: string) => t in EC2_GPU_INSTANCES)) return true;
  return typeof props.amiType === "string" && /GPU|NVIDIA/i.test(props.amiType);
}

/** Smallest maxSize with `headroomPercent` above desiredSize: ceil(desired × (1 + h/100)). */
export function requiredMaxSize(desired: number, headroomPercent: number): number {
  // Work in hundredths so 10 × 1.2 is 12, not 12.000000000000002 rounded up to 13.
  return Math.ceil(Math.round(desired * (100 + headroomPercent)) / 100);
}

export const gpuNodeGroupScalingHeadroom: ResourceValidationPolicy = {
  name: "gpu-node-group-scaling-headroom",
  description:
    "Checks whether each GPU node group's `scalingConfig.maxSize` is at least ceil(desiredSize × (1 + headroomPercent/100)).",
  enforcementLevel: "mandatory",
  configSchema: configSchema("headroomPercent"),
  validateResource: (args, reportViolation) => {
    if (args.type !== K8S_TYPES.eksNodeGroup || !isGpuNodeGroup(args.props)) return;
    const { headroomPercent } = readConfig(args, "headroomPercent");
    const scaling: Json = args.props.scalingConfig ?? {};
    const desired = Number(scaling.desiredSize ?? 0);
    const max = Number(scaling.maxSize ?? 0);
    const needed = requiredMaxSize(desired, headroomPercent);
    if (max < needed) {
      reportViolation(
        `GPU node group "${args.name}" has desiredSize ${desired} and maxSize ${max}; ` +
          `raise \`scalingConfig.maxSize\` to at least ${needed} to keep ${headroomPercent}% scaling headroom.`,
      );
    }
  },
};

export const nodeGroupScalingPolicies = [gpuNodeGroupScalingHeadroom];
