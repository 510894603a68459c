/**
 * The kind cluster of a kind stack: one control plane plus one worker per simulated GPU
 * node, each worker labelled and tainted exactly as its pool's summary says (the same
 * labels and taints GpuNodeGroup puts on EKS nodes).
 */
import { stringify } from "yaml";
import { poolSummary } from "../../components/gpu-node-group";
import { IMAGES, imageRef } from "../../components/pins";
import type { StackConfig } from "../../stacks/config";

export interface KindNode {
  role: "control-plane" | "worker";
  image: string;
  labels?: Record<string, string>;
  kubeadmConfigPatches?: string[];
}

export interface KindClusterConfig {
  kind: "Cluster";
  apiVersion: "kind.x-k8s.io/v1alpha4";
  name: string;
  nodes: KindNode[];
}

/** kind sets node labels itself, but taints only through kubeadm's JoinConfiguration. */
function joinTaintsPatch(taints: { key: string; value: string; effect: string }[]): string {
  return stringify({ kind: "JoinConfiguration", nodeRegistration: { taints } });
}

/**
 * Every worker carries the GPU taint, so the platform's own pods (operators, Ray head,
 * scheduler extender, Redis) need somewhere else to run: an explicit empty taint list makes
 * kubeadm leave the control plane schedulable (a nil list would add its NoSchedule taint).
 */
const UNTAINTED_CONTROL_PLANE_PATCH = stringify({ kind: "InitConfiguration", nodeRegistration: { taints: [] } });

export function kindClusterConfig(config: Extract<StackConfig, { target: "kind" }>): KindClusterConfig {
  const image = imageRef(IMAGES.kindNode);
  const workers = config.nodePools.flatMap((pool) => {
    const summary = poolSummary("kind", pool);
    return Array.from({ length: summary.desiredNodes }, (): KindNode => ({
      role: "worker",
      image,
      labels: summary.nodeLabels,
      kubeadmConfigPatches: [joinTaintsPatch(summary.nodeTaints)],
    }));
  });
  return {
    kind: "Cluster",
    apiVersion: "kind.x-k8s.io/v1alpha4",
    name: config.cluster.name,
    nodes: [{ role: "control-plane", image, kubeadmConfigPatches: [UNTAINTED_CONTROL_PLANE_PATCH] }, ...workers],
  };
}
