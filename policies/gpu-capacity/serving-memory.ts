/**
 * The "10% memory padding" rule: a serving engine that claims more than 90% of GPU memory
 * for weights and KV cache leaves no room for CUDA graphs, activations and allocator
 * fragmentation, and fails under load instead of at start-up.
 */
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { configSchema, readConfig } from "../lib/config";
import { findFlag, replaceFlag } from "../lib/flags";
import { containersOf, formatPath, podSpecs, type Json } from "../lib/k8s";

export const GPU_MEMORY_FLAG = "--gpu-memory-utilization";

interface Offender {
  path: (string | number)[];
  name: string;
  value: string;
}

function offenders(type: string, props: Json, max: number): Offender[] {
  const out: Offender[] = [];
  for (const pod of podSpecs(type, props)) {
    for (const { container, list, index } of containersOf(pod.spec)) {
      const hit = findFlag(container, GPU_MEMORY_FLAG);
      if (!hit) continue;
      const value = Number(hit.value);
      if (!Number.isFinite(value) || value > max) {
        out.push({ path: [...pod.path, list, index], name: container.name ?? `#${index}`, value: hit.value });
      }
    }
  }
  return out;
}

export const servingGpuMemoryUtilization: ResourceValidationPolicy = {
  name: "serving-gpu-memory-utilization",
  description:
    "Checks whether serving engines pass a `--gpu-memory-utilization` of at most `maxGpuMemoryUtilization`, keeping GPU memory padding.",
  enforcementLevel: "remediate",
  configSchema: configSchema("maxGpuMemoryUtilization"),
  validateResource: (args, reportViolation) => {
    const { maxGpuMemoryUtilization: max } = readConfig(args, "maxGpuMemoryUtilization");
    for (const o of offenders(args.type, args.props, max)) {
      reportViolation(
        `Container "${o.name}" (${formatPath(o.path)}) passes ${GPU_MEMORY_FLAG} ${o.value}; ` +
          `set it to ${max} or less so ${Math.round((1 - max) * 100)}% of GPU memory stays free for activations and fragmentation.`,
      );
    }
  },
  remediateResource: (args) => {
    const { maxGpuMemoryUtilization: max } = readConfig(args, "maxGpuMemoryUtilization");
    const found = offenders(args.type, args.props, max);
    if (found.length === 0) return undefined;
    const props: Json = JSON.parse(JSON.stringify(args.props));
    for (const o of found) {
      const [list, index] = o.path.slice(-2) as [string, number];
      const pod = o.path.slice(0, -2).reduce<Json>((obj, key) => obj[key], props);
      const container = pod[list][index];
      const hit = findFlag(container, GPU_MEMORY_FLAG);
      if (hit) pod[list][index] = replaceFlag(container, hit, GPU_MEMORY_FLAG, String(max));
    }
    return props;
  },
};

export const servingMemoryPolicies = [servingGpuMemoryUtilization];
