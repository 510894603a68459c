/**
 * How pods meet GPU nodes. GPU nodes carry the GPU taint so only GPU work lands there:
 * GPU pods must tolerate it and pick their GPU nodes, and set limits equal to requests (the
 * only form Kubernetes accepts for extended resources); pods without GPUs must not tolerate
 * it, or they squat on nodes that cost ten times a CPU node.
 */
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { GPU_RESOURCE, GPU_TAINT, tolerationFor } from "../../gpu";
import {
  GPU_NODE_LABELS, K8S_TYPES, containerGpus, containersOf, formatPath, nodeSelection, podSpecs, podTolerates,
  podUsesGpus, type Json,
} from "../lib/k8s";

export const gpuLimitsEqualRequests: ResourceValidationPolicy = {
  name: "gpu-limits-equal-requests",
  description: `Checks whether every container that asks for \`${GPU_RESOURCE}\` sets a whole-number limit equal to its request.`,
  enforcementLevel: "mandatory",
  validateResource: (args, reportViolation) => {
    for (const pod of podSpecs(args.type, args.props)) {
      for (const { container, list, index } of containersOf(pod.spec)) {
        const { request, limit } = containerGpus(container);
        if (request === undefined && limit === undefined) continue;
        const where = `Container "${container.name ?? index}" (${formatPath([...pod.path, list, index])})`;
        if (limit === undefined) {
          reportViolation(`${where} requests ${request} ${GPU_RESOURCE} without a limit; set \`resources.limits["${GPU_RESOURCE}"]\` to ${request}.`);
        } else if (!Number.isInteger(limit) || (request !== undefined && !Number.isInteger(request))) {
          reportViolation(`${where} asks for a fractional or unreadable amount of ${GPU_RESOURCE}; GPUs are whole devices, so use an integer.`);
        } else if (request !== undefined && request !== limit) {
          reportViolation(`${where} requests ${request} but is limited to ${limit} ${GPU_RESOURCE}; set the request equal to the limit.`);
        }
      }
    }
  },
};

function gpuPodsWithoutToleration(type: string, props: Json) {
  return podSpecs(type, props).filter((pod) => podUsesGpus(pod.spec) && !podTolerates(pod.spec, GPU_TAINT));
}

export const gpuPodsTolerateGpuTaint: ResourceValidationPolicy = {
  name: "gpu-pods-tolerate-gpu-taint",
  description: `Checks whether every pod that uses GPUs tolerates the GPU node taint \`${GPU_TAINT.key}=${GPU_TAINT.value}:${GPU_TAINT.effect}\`.`,
  enforcementLevel: "remediate",
  validateResource: (args, reportViolation) => {
    for (const pod of gpuPodsWithoutToleration(args.type, args.props)) {
      reportViolation(
        `The ${pod.label} (${formatPath(pod.path)}) uses GPUs but does not tolerate the ${GPU_TAINT.key} taint, so it can never schedule; ` +
          `add the toleration {key: "${GPU_TAINT.key}", operator: "Equal", value: "${GPU_TAINT.value}", effect: "${GPU_TAINT.effect}"}.`,
      );
    }
  },
  remediateResource: (args) => {
    const missing = gpuPodsWithoutToleration(args.type, args.props);
    if (missing.length === 0) return undefined;
    const props: Json = JSON.parse(JSON.stringify(args.props));
    for (const pod of missing) {
      const spec = pod.path.reduce<Json>((obj, key) => obj[key], props);
      spec.tolerations = [...(Array.isArray(spec.tolerations) ? spec.tolerations : []), tolerationFor(GPU_TAINT)];
    }
    return props;
  },
};

export const gpuPodsTargetGpuNodes: ResourceValidationPolicy = {
  name: "gpu-pods-target-gpu-nodes",
  description: `Checks whether every pod that uses GPUs selects GPU nodes by a pool or GPU label (${GPU_NODE_LABELS.join(", ")}).`,
  enforcementLevel: "mandatory",
  validateResource: (args, reportViolation) => {
    for (const pod of podSpecs(args.type, args.props)) {
      if (!podUsesGpus(pod.spec)) continue;
      const selected = nodeSelection(pod.spec);
      if (!GPU_NODE_LABELS.some((label) => selected.has(label))) {
        reportViolation(
          `The ${pod.label} (${formatPath(pod.path)}) uses GPUs but selects no GPU nodes; add a \`nodeSelector\` on ` +
            `"${GPU_NODE_LABELS[0]}" (or a GPU product label) so it lands on the pool it was sized for.`,
        );
      }
    }
  },
};

export const cpuPodsAvoidGpuNodes: ResourceValidationPolicy = {
  name: "cpu-pods-avoid-gpu-nodes",
  description: `Checks whether pods that use no GPUs stay off GPU nodes, i.e. do not tolerate the \`${GPU_TAINT.key}\` taint (node-agent DaemonSets excepted).`,
  enforcementLevel: "mandatory",
  validateResource: (args, reportViolation) => {
    // A DaemonSet runs one agent per node (device plugin, telemetry): it takes no GPU node away from GPU work.
    if (args.type === K8S_TYPES.daemonSet) return;
    for (const pod of podSpecs(args.type, args.props)) {
      if (podUsesGpus(pod.spec) || !podTolerates(pod.spec, GPU_TAINT)) continue;
      reportViolation(
        `The ${pod.label} (${formatPath(pod.path)}) uses no GPUs but tolerates the ${GPU_TAINT.key} taint, so it can occupy GPU nodes; ` +
          `remove that toleration (and any toleration with \`operator: Exists\` and no key).`,
      );
    }
  },
};

export const gpuPodPolicies = [gpuLimitsEqualRequests, gpuPodsTolerateGpuTaint, gpuPodsTargetGpuNodes, cpuPodsAvoidGpuNodes];
