/**
 * Ray worker groups: Ray schedules tasks on the GPUs `num-gpus` declares, Kubernetes on
 * the container's limit. If they differ Ray over-subscribes GPUs (or strands them); and a
 * worker group without a bounded `maxReplicas` lets the autoscaler ask for the whole pool.
 */
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { GPU_RESOURCE } from "../../gpu";
import { configSchema, readConfig } from "../lib/config";
import { containerGpus, formatPath, rayClusterSpec, type Json } from "../lib/k8s";

interface Group {
  path: (string | number)[];
  label: string;
  group: Json;
}

function groups(type: string, props: Json): Group[] {
  const ray = rayClusterSpec(type, props);
  if (!ray) return [];
  const out: Group[] = [];
  if (ray.spec.headGroupSpec) out.push({ path: [...ray.path, "headGroupSpec"], label: "headGroupSpec", group: ray.spec.headGroupSpec });
  ((ray.spec.workerGroupSpecs ?? []) as Json[]).forEach((group, i) =>
    out.push({ path: [...ray.path, "workerGroupSpecs", i], label: `worker group "${group.groupName ?? i}"`, group }),
  );
  return out;
}

export const rayGpusConsistent: ResourceValidationPolicy = {
  name: "ray-gpus-consistent",
  description: `Checks whether each Ray group's \`rayStartParams["num-gpus"]\` equals its Ray container's \`${GPU_RESOURCE}\` limit.`,
  enforcementLevel: "mandatory",
  validateResource: (args, reportViolation) => {
    for (const { path, label, group } of groups(args.type, args.props)) {
      // KubeRay treats the first container as the Ray container.
      const container: Json = group.template?.spec?.containers?.[0] ?? {};
      const { request, limit } = containerGpus(container);
      const gpus = limit ?? request ?? 0;
      const raw = group.rayStartParams?.["num-gpus"];
      const declared = raw === undefined ? undefined : Number(raw);
      if (declared === undefined ? gpus > 0 : declared !== gpus) {
        reportViolation(
          `Ray ${label} (${formatPath(path)}) declares num-gpus ${raw ?? "(unset)"} but its container is limited to ${gpus} ${GPU_RESOURCE}; ` +
            `set \`rayStartParams["num-gpus"]\` to "${gpus}".`,
        );
      }
    }
  },
};

export const rayWorkerReplicasBounded: ResourceValidationPolicy = {
  name: "ray-worker-replicas-bounded",
  description: "Checks whether each Ray worker group sets `maxReplicas` no lower than `minReplicas` and no higher than `maxRayWorkerReplicas`.",
  enforcementLevel: "mandatory",
  configSchema: configSchema("maxRayWorkerReplicas"),
  validateResource: (args, reportViolation) => {
    const { maxRayWorkerReplicas } = readConfig(args, "maxRayWorkerReplicas");
    for (const { path, label, group } of groups(args.type, args.props)) {
      if (label === "headGroupSpec") continue;
      const max = group.maxReplicas;
      const min = group.minReplicas ?? 0;
      if (typeof max !== "number") {
        reportViolation(`Ray ${label} (${formatPath(path)}) sets no maxReplicas, so KubeRay allows 2147483647 workers; set \`maxReplicas\` (at most ${maxRayWorkerReplicas}).`);
      } else if (max < min || max > maxRayWorkerReplicas) {
        reportViolation(`Ray ${label} (${formatPath(path)}) has maxReplicas ${max} (minReplicas ${min}); set it between ${min} and ${maxRayWorkerReplicas}.`);
      }
    }
  },
};

export const rayPolicies = [rayGpusConsistent, rayWorkerReplicasBounded];
