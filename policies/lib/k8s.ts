/**
 * Reading Kubernetes objects as the Pulumi engine hands them to policies: the resource's
 * inputs, camelCase, with `metadata` and `spec`. Pure functions over plain JSON, shared by
 * the three packs, so "which pod specs does this resource carry" and "does this pod
 * tolerate that taint" have one answer.
 */
import { GFD_LABELS, GPU_RESOURCE, KIT_LABELS, toleratesTaint } from "../../gpu";
import { migProfileOfResource } from "../../gpu/mig";

// Policies receive untyped JSON inputs; `any` keeps the property walks readable.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = Record<string, any>;

export const K8S_TYPES = {
  namespace: "kubernetes:core/v1:Namespace",
  pod: "kubernetes:core/v1:Pod",
  service: "kubernetes:core/v1:Service",
  serviceAccount: "kubernetes:core/v1:ServiceAccount",
  resourceQuota: "kubernetes:core/v1:ResourceQuota",
  deployment: "kubernetes:apps/v1:Deployment",
  statefulSet: "kubernetes:apps/v1:StatefulSet",
  daemonSet: "kubernetes:apps/v1:DaemonSet",
  replicaSet: "kubernetes:apps/v1:ReplicaSet",
  job: "kubernetes:batch/v1:Job",
  cronJob: "kubernetes:batch/v1:CronJob",
  networkPolicy: "kubernetes:networking.k8s.io/v1:NetworkPolicy",
  role: "kubernetes:rbac.authorization.k8s.io/v1:Role",
  roleBinding: "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
  clusterRole: "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole",
  clusterRoleBinding: "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding",
  hpa: "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
  scaledObject: "kubernetes:keda.sh/v1alpha1:ScaledObject",
  rayCluster: "kubernetes:ray.io/v1:RayCluster",
  rayJob: "kubernetes:ray.io/v1:RayJob",
  rayService: "kubernetes:ray.io/v1:RayService",
  prometheusRule: "kubernetes:monitoring.coreos.com/v1:PrometheusRule",
  helmRelease: "kubernetes:helm.sh/v3:Release",
  validatingAdmissionPolicy: "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy",
  validatingAdmissionPolicyBinding: "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding",
  eksNodeGroup: "aws:eks/nodeGroup:NodeGroup",
} as const;

/** Label every serving Deployment carries (the VllmServing component sets it). */
export const SERVING_COMPONENT_LABEL = { key: "app.kubernetes.io/component", value: "serving" } as const;

/** Where the pod spec sits inside each workload kind whose template is fixed. */
const POD_SPEC_PATHS: Record<string, (string | number)[]> = {
  [K8S_TYPES.pod]: ["spec"],
  [K8S_TYPES.deployment]: ["spec", "template", "spec"],
  [K8S_TYPES.statefulSet]: ["spec", "template", "spec"],
  [K8S_TYPES.daemonSet]: ["spec", "template", "spec"],
  [K8S_TYPES.replicaSet]: ["spec", "template", "spec"],
  [K8S_TYPES.job]: ["spec", "template", "spec"],
  [K8S_TYPES.cronJob]: ["spec", "jobTemplate", "spec", "template", "spec"],
};

/** One pod spec inside a resource, with the path to it (for messages and remediation). */
export interface PodSpecRef {
  /** Property path from the resource's inputs to the pod spec. */
  path: (string | number)[];
  spec: Json;
  /** Where this pod spec came from, e.g. `workerGroupSpecs[0] "gpu-workers"` for Ray. */
  label: string;
}

/** True for the resource types that carry pod specs. */
export function isWorkloadType(type: string): boolean {
  return type in POD_SPEC_PATHS || isRayType(type);
}

function isRayType(type: string): boolean {
  return type === K8S_TYPES.rayCluster || type === K8S_TYPES.rayJob || type === K8S_TYPES.rayService;
}

export function getPath(obj: unknown, path: (string | number)[]): unknown {
  let cur: unknown = obj;
  for (const key of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Json)[key as string];
  }
  return cur;
}

/** `spec.template.spec.containers[0]` style rendering of a property path. */
export function formatPath(path: (string | number)[]): string {
  return path.map((k, i) => (typeof k === "number" ? `[${k}]` : i === 0 ? k : `.${k}`)).join("");
}

/** The RayCluster spec inside a RayCluster, RayJob or RayService, with its path. */
export function rayClusterSpec(type: string, props: Json): { path: string[]; spec: Json } | undefined {
  const path =
    type === K8S_TYPES.rayCluster ? ["spec"]
    : type === K8S_TYPES.rayJob ? ["spec", "rayClusterSpec"]
    : type === K8S_TYPES.rayService ? ["spec", "rayClusterConfig"]
    : undefined;
  if (!path) return undefined;
  const spec = getPath(props, path);
  return spec && typeof spec === "object" ? { path, spec: spec as Json } : undefined;
}

/** Every pod spec a resource carries: one for Deployments and friends, head plus workers for Ray. */
export function podSpecs(type: string, props: Json): PodSpecRef[] {
  const fixed = POD_SPEC_PATHS[type];
  if (fixed) {
    const spec = getPath(props, fixed);
    return spec && typeof spec === "object" ? [{ path: fixed, spec: spec as Json, label: "pod template" }] : [];
  }
  const ray = rayClusterSpec(type, props);
  if (!ray) return [];
  const refs: PodSpecRef[] = [];
  const head = getPath(ray.spec, ["headGroupSpec", "template", "spec"]);
  if (head && typeof head === "object") {
    refs.push({ path: [...ray.path, "headGroupSpec", "template", "spec"], spec: head as Json, label: "headGroupSpec" });
  }
  const workers: Json[] = Array.isArray(ray.spec.workerGroupSpecs) ? ray.spec.workerGroupSpecs : [];
  workers.forEach((group, i) => {
    const spec = getPath(group, ["template", "spec"]);
    if (spec && typeof spec === "object") {
      refs.push({
        path: [...ray.path, "workerGroupSpecs", i, "template", "spec"],
        spec: spec as Json,
        label: `workerGroupSpecs[${i}] "${group.groupName ?? i}"`,
      });
    }
  });
  return refs;
}

export interface ContainerRef {
  container: Json;
  /** `containers`, `initContainers` or `ephemeralContainers`. */
  list: string;
  index: number;
}

export function containersOf(spec: Json): ContainerRef[] {
  const out: ContainerRef[] = [];
  for (const list of ["initContainers", "containers", "ephemeralContainers"]) {
    const items: unknown = spec[list];
    if (!Array.isArray(items)) continue;
    items.forEach((container, index) => {
      if (container && typeof container === "object") out.push({ container, list, index });
    });
  }
  return out;
}

/**
 * A Kubernetes quantity as a number of whole units. GPUs are integers; anything we cannot
 * read as one returns NaN so callers report it instead of treating it as zero.
 */
export function quantity(value: unknown): number {
  if (typeof value === "number") return value;
  if (typeof value !== "string") return NaN;
  const trimmed = value.trim();
  return /^\d+(\.\d+)?$/.test(trimmed) ? Number(trimmed) : NaN;
}

/** GPUs a container requests and is limited to (`undefined` where the key is absent). */
export function containerGpus(container: Json): { request?: number; limit?: number } {
  const requests = container.resources?.requests ?? {};
  const limits = container.resources?.limits ?? {};
  return {
    request: GPU_RESOURCE in requests ? quantity(requests[GPU_RESOURCE]) : undefined,
    limit: GPU_RESOURCE in limits ? quantity(limits[GPU_RESOURCE]) : undefined,
  };
}

/** True when any container of the pod asks for GPUs or MIG devices (`nvidia.com/mig-<profile>`; request or limit above zero). */
export function podUsesGpus(spec: Json): boolean {
  return containersOf(spec).some(({ container }) => {
    const { request, limit } = containerGpus(container);
    if ((request ?? 0) > 0 || (limit ?? 0) > 0 || Number.isNaN(request) || Number.isNaN(limit)) return true;
    const asked = { ...(container.resources?.requests ?? {}), ...(container.resources?.limits ?? {}) };
    return Object.entries(asked).some(([resource, value]) => migProfileOfResource(resource) !== undefined && !(quantity(value) <= 0));
  });
}

/** GPUs one pod of this spec holds: the sum of app containers' limits (requests where no limit). */
export function podGpuCount(spec: Json): number {
  let total = 0;
  for (const { container, list } of containersOf(spec)) {
    if (list !== "containers") continue;
    const { request, limit } = containerGpus(container);
    const n = limit ?? request ?? 0;
    if (Number.isFinite(n)) total += n;
  }
  return total;
}

export interface Taint {
  key: string;
  value?: string;
  effect: string;
}

export function podTolerates(spec: Json, taint: Taint): boolean {
  const tolerations: unknown = spec.tolerations;
  return Array.isArray(tolerations) && tolerations.some((t) => t && toleratesTaint(t, taint));
}

/** Node labels a pod selects on: nodeSelector keys and required node-affinity expressions. */
export function nodeSelection(spec: Json): Map<string, string[] | undefined> {
  const keys = new Map<string, string[] | undefined>();
  for (const [k, v] of Object.entries(spec.nodeSelector ?? {})) keys.set(k, [String(v)]);
  const terms: unknown =
    spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  if (Array.isArray(terms)) {
    for (const term of terms) {
      for (const expr of term?.matchExpressions ?? []) {
        if (!expr?.key) continue;
        const values = expr.operator === "In" && Array.isArray(expr.values) ? expr.values.map(String) : undefined;
        if (expr.operator === "In" || expr.operator === "Exists" || expr.operator === "Gt") keys.set(expr.key, values);
      }
    }
  }
  return keys;
}

/** Node labels that identify GPU nodes: the kit's pool label and GFD's product/count labels. */
export const GPU_NODE_LABELS: readonly string[] = [
  KIT_LABELS.pool,
  GFD_LABELS.product,
  GFD_LABELS.count,
  GFD_LABELS.memory,
  GFD_LABELS.present,
];

/** The pools a pod pins itself to through `gpk.dev/pool`, or undefined if it does not. */
export function selectedPools(spec: Json): string[] | undefined {
  return nodeSelection(spec).get(KIT_LABELS.pool);
}

export function namespaceOf(props: Json): string {
  const ns = props.metadata?.namespace;
  return typeof ns === "string" && ns !== "" ? ns : "default";
}

export function labelsOf(props: Json): Record<string, string> {
  const labels = props.metadata?.labels;
  return labels && typeof labels === "object" ? labels : {};
}

/** The object's Kubernetes name: `metadata.name`, else the Pulumi resource name. */
export function objectName(props: Json, resourceName: string): string {
  const name = props.metadata?.name;
  return typeof name === "string" && name !== "" ? name : resourceName;
}

export function isServingDeployment(type: string, props: Json): boolean {
  if (type !== K8S_TYPES.deployment) return false;
  const value = SERVING_COMPONENT_LABEL.value;
  const key = SERVING_COMPONENT_LABEL.key;
  return labelsOf(props)[key] === value || props.spec?.template?.metadata?.labels?.[key] === value;
}

/** Kubernetes label-selector matching (`matchLabels` and `matchExpressions`). */
export function selectorMatches(selector: Json | undefined, labels: Record<string, string>): boolean {
  if (!selector) return false;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const expr of selector.matchExpressions ?? []) {
    const has = expr.key in labels;
    const values: string[] = expr.values ?? [];
    switch (expr.operator) {
      case "In": if (!has || !values.includes(labels[expr.key])) return false; break;
      case "NotIn": if (has && values.includes(labels[expr.key])) return false; break;
      case "Exists": if (!has) return false; break;
      case "DoesNotExist": if (has) return false; break;
      default: return false;
    }
  }
  return true;
}
