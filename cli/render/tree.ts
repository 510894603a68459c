/** The human view of a rendered stack: the parent/child tree with one key fact per resource. */
import { GPU_RESOURCE } from "../../gpu";
import type { RenderedResource } from "./types";

type Inputs = Record<string, any>;

/** "8 GPUs", "14 mig-1g.10gb", or both joined by " + " (MIG resources only where non-zero). */
function devices(byResource: Record<string, number>): string {
  return Object.entries(byResource)
    .filter(([resource, n]) => resource === GPU_RESOURCE || n > 0)
    .map(([resource, n]) => (resource === GPU_RESOURCE ? `${n} GPUs` : `${n} ${resource.slice("nvidia.com/".length)}`))
    .join(" + ");
}

/** The one fact a platform engineer wants to see next to each resource. */
export function resourceDetail(r: RenderedResource): string {
  const i = r.inputs as Inputs;
  switch (r.type) {
    case "gpk:index:GpuNodeGroup":
      return `${i.maxNodes} × ${i.gpusPerNode} ${i.gfdProduct}${i.timeSlicingReplicas > 1 ? ` × ${i.timeSlicingReplicas} slices` : ""}${i.mig ? ` as MIG ${i.mig.configName} (${i.mig.strategy})` : ""} = ${devices(i.migStrategy === "mixed" ? i.migCapacity : { [GPU_RESOURCE]: i.gpuCapacity })} max${i.dedicatedTenant ? `, dedicated to ${i.dedicatedTenant}` : ""}`;
    case "gpk:index:Tenant":
      return `namespace ${i.namespace}, ${devices({ [GPU_RESOURCE]: i.gpuQuota, ...i.migQuota })} quota on ${(i.allowedPools ?? []).join(", ")}`;
    case "aws:eks/nodeGroup:NodeGroup":
      return `${i.amiType} ${(i.instanceTypes ?? []).join(",")} ${i.scalingConfig?.minSize}..${i.scalingConfig?.maxSize} nodes, taints ${(i.taints ?? []).map((t: Inputs) => `${t.key}=${t.value}:${t.effect}`).join(" ")}`;
    case "kubernetes:helm.sh/v3:Release":
      return `chart ${i.chart}@${i.version} in ${i.namespace}`;
    case "kubernetes:core/v1:Namespace":
      return `pod-security ${i.metadata?.labels?.["pod-security.kubernetes.io/enforce"] ?? "unset"}`;
    case "kubernetes:core/v1:ResourceQuota":
      return Object.entries(i.spec?.hard ?? {}).map(([k, v]) => `${k}=${v}`).join(" ");
    case "kubernetes:apps/v1:Deployment":
    case "kubernetes:apps/v1:DaemonSet":
    case "kubernetes:apps/v1:StatefulSet":
      return (i.spec?.template?.spec?.containers ?? []).map((c: Inputs) => String(c.image).replace(/@sha256:[0-9a-f]{64}$/, "@sha256:…")).join(", ");
    case "kubernetes:core/v1:ConfigMap":
      return Object.entries(i.data ?? {}).map(([k, v]) => `${k} (${Math.ceil(String(v).length / 1024)} KiB)`).join(", ");
    default:
      return "";
  }
}

export function formatTree(resources: RenderedResource[]): string {
  const children = new Map<string | undefined, RenderedResource[]>();
  for (const r of resources) children.set(r.parent, [...(children.get(r.parent) ?? []), r]);
  const lines: string[] = [];
  const walk = (r: RenderedResource, prefix: string, last: boolean, root: boolean) => {
    const detail = resourceDetail(r);
    lines.push(`${prefix}${root ? "" : last ? "└─ " : "├─ "}${r.name} (${r.type})${detail ? `  ${detail}` : ""}`);
    const kids = children.get(r.urn) ?? [];
    kids.forEach((k, idx) => walk(k, root ? prefix : `${prefix}${last ? "   " : "│  "}`, idx === kids.length - 1, false));
  };
  for (const root of children.get(undefined) ?? []) walk(root, "", true, true);
  const counts = new Map<string, number>();
  for (const r of resources) counts.set(r.type, (counts.get(r.type) ?? 0) + 1);
  const components = resources.filter((r) => !r.custom).length;
  lines.push("", `${resources.length} resources (${components} components, ${resources.length - components} custom):`);
  for (const [type, n] of [...counts].sort((a, b) => a[0].localeCompare(b[0]))) lines.push(`  ${String(n).padStart(3)}  ${type}`);
  return lines.join("\n");
}
