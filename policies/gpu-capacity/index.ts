/**
 * The gpu-capacity pack: GPU over-provisioning headroom, memory padding and how pods meet
 * GPU nodes, serving capacity against traffic and SLOs. The only place that constructs this pack's PolicyPack (one per process).
 */
import { PolicyPack } from "@pulumi/policy";
import { devicePluginPolicies } from "./device-plugin";
import { gpuPodPolicies } from "./gpu-pods";
import { nodeGroupScalingPolicies } from "./node-group-scaling";
import { quotaHeadroomPolicies } from "./quota-headroom";
import { servingCapacityPolicies } from "./serving-capacity";
import { servingMemoryPolicies } from "./serving-memory";

new PolicyPack("gpu-capacity", {
  description: "GPU capacity headroom, GPU memory padding and GPU node hygiene for gpu-platform-kit stacks.",
  policies: [
    ...quotaHeadroomPolicies,
    ...nodeGroupScalingPolicies,
    ...servingMemoryPolicies,
    ...servingCapacityPolicies,
    ...gpuPodPolicies,
    ...devicePluginPolicies,
  ],
});
