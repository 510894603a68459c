/**
 * Ray worker groups: Ray schedules tasks on the GPUs `num-gpus` declares, Kubernetes on
 * the container's limit. If they differ Ray over-subscribes GPUs (or strands them). KubeRay
 * refuses a cluster its validation fails, so nothing starts. And a worker group without a
 * bounded `maxReplicas` lets the autoscaler ask for the whole pool. The flags are read through
 * components/kuberay-start.ts, KubeRay's own derivation.
 */
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { GPU_RESOURCE } from "../../gpu";
import { KUBERAY_VERSION, kuberayProblems, kuberayStart, rayNumGpus, type RayClusterObject } from "../../components/kuberay-start";
import { configSchema, readConfig } from "../lib/config";
import { K8S_TYPES, containerGpus, formatPath, rayClusterSpec, type Json } from "../lib/k8s";

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

/** The RayCluster spec as KubeRay's operator reads it (name and namespace only label the output). */
function asCluster(props: Json, spec: Json): RayClusterObject {
  return { metadata: { name: props.metadata?.name ?? "ray", namespace: props.metadata?.namespace }, spec };
}

export const rayGpusConsistent: ResourceValidationPolicy = {
  name: "ray-gpus-consistent",
  description: `Checks whether the num-gpus KubeRay passes to each Ray group's \`ray start\` equals its Ray container's \`${GPU_RESOURCE}\` limit.`,
  enforcementLevel: "mandatory",
  validateResource: (args, reportViolation) => {
    const ray = rayClusterSpec(args.type, args.props);
    if (!ray) return;
    const started = kuberayStart(asCluster(args.props, ray.spec));
    const starts = [started.head, ...started.workerGroups];
    groups(args.type, args.props).forEach(({ path, label, group }, i) => {
      // KubeRay treats the first container as the Ray container.
      const container: Json = group.template?.spec?.containers?.[0] ?? {};
      const { request, limit } = containerGpus(container);
      const gpus = limit ?? request ?? 0;
      const declared = rayNumGpus(starts[i]!) ?? 0;
      if (declared !== gpus) {
        reportViolation(
          `Ray ${label} (${formatPath(path)}) starts Ray with num-gpus ${declared} but its container is limited to ${gpus} ${GPU_RESOURCE}; ` +
            `remove num-gpus from \`rayStartParams\` and GPU keys from \`resources\` (KubeRay derives num-gpus from the limit).`,
        );
      }
    });
  },
};

export const rayClusterKubeRayValid: ResourceValidationPolicy = {
  name: "ray-kuberay-valid",
  description: `Checks whether each Ray cluster passes the checks KubeRay ${KUBERAY_VERSION}'s operator applies before it creates pods (a refused cluster never starts).`,
  enforcementLevel: "mandatory",
  validateResource: (args, reportViolation) => {
    const ray = rayClusterSpec(args.type, args.props);
    if (!ray) return;
    for (const problem of kuberayProblems(asCluster(args.props, ray.spec))) {
      const at = problem.path.replace(/^spec/, formatPath(ray.path));
      reportViolation(`${at}: ${problem.message}.`);
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

/**
 * A RayJob runs until its entrypoint ends: without `activeDeadlineSeconds` a hung job holds
 * its GPUs (and keeps them hot) indefinitely, and every `backoffLimit` resubmission reruns the
 * whole entrypoint, so a large one turns one failure into a storm of full reruns.
 */
export const rayJobBounded: ResourceValidationPolicy = {
  name: "ray-job-bounded",
  description: "Checks whether each RayJob sets a positive `activeDeadlineSeconds` and a `backoffLimit` no higher than `maxRayJobBackoffLimit`.",
  enforcementLevel: "advisory",
  configSchema: configSchema("maxRayJobBackoffLimit"),
  validateResource: (args, reportViolation) => {
    if (args.type !== K8S_TYPES.rayJob) return;
    const { maxRayJobBackoffLimit } = readConfig(args, "maxRayJobBackoffLimit");
    const spec: Json = args.props.spec ?? {};
    const name = args.props.metadata?.name ?? args.name;
    if (!(typeof spec.activeDeadlineSeconds === "number" && spec.activeDeadlineSeconds > 0)) {
      reportViolation(`RayJob "${name}" sets no activeDeadlineSeconds, so a hung job holds its GPUs until someone deletes it; set \`spec.activeDeadlineSeconds\`.`);
    }
    const backoff = spec.backoffLimit ?? 0;
    if (typeof backoff !== "number" || backoff > maxRayJobBackoffLimit) {
      reportViolation(`RayJob "${name}" may be resubmitted ${backoff} times (spec.backoffLimit), each a full rerun; set it at most ${maxRayJobBackoffLimit}.`);
    }
  },
};

export const rayPolicies = [rayGpusConsistent, rayClusterKubeRayValid, rayWorkerReplicasBounded, rayJobBounded];
