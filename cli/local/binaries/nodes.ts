/**
 * The KWOK nodes of a kind stack: one per simulated GPU node of its pools, labelled and
 * tainted exactly as the kind runtime's workers (the pool summary's labels and taints, the
 * same GpuNodeGroup puts on EKS nodes), with the extended resources the device plugin would
 * advertise (`nvidia.com/gpu`: GPUs × time-slicing replicas; a MIG pool's devices as
 * `nvidia.com/gpu` or `nvidia.com/mig-<profile>`), plus one untainted node without GPUs
 * for the platform's own pods, as kind's control plane is.
 */
import { poolSummary } from "../../../components/gpu-node-group";
import type { StackConfig } from "../../../stacks/config";
import { KWOK_NODE_ANNOTATION } from "./plan";
import type { RealNodeSpec } from "./real-node-plan";

/** Shape of a simulated GPU node's host: per GPU, as on a p5.48xlarge (192 vCPU, 2 TiB for 8 H100s). */
export const HOST_PER_GPU = { cpu: 24, memoryGi: 256 };
/** The node for non-GPU pods. */
export const SYSTEM_NODE = { cpu: 32, memoryGi: 128 };
export const PODS_PER_NODE = 110;

export interface KwokNode {
  apiVersion: "v1";
  kind: "Node";
  metadata: { name: string; labels: Record<string, string>; annotations: Record<string, string> };
  spec: { taints?: { key: string; value: string; effect: string }[] };
  status: {
    capacity: Record<string, string>;
    allocatable: Record<string, string>;
    nodeInfo: Record<string, string>;
  };
}

/** A node KWOK manages (its annotation), with the labels, taints and resources given as both capacity and allocatable. */
export function kwokNode(name: string, labels: Record<string, string>, taints: KwokNode["spec"]["taints"], resources: Record<string, string>): KwokNode {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name,
      labels: { "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", type: "kwok", ...labels },
      annotations: { [KWOK_NODE_ANNOTATION.key]: KWOK_NODE_ANNOTATION.value },
    },
    spec: taints && taints.length > 0 ? { taints } : {},
    status: {
      capacity: resources,
      allocatable: resources,
      nodeInfo: { architecture: "amd64", operatingSystem: "linux", kubeletVersion: "kwok", containerRuntimeVersion: "kwok" },
    },
  };
}

export function kwokNodes(config: Extract<StackConfig, { target: "kind" }>): KwokNode[] {
  const cluster = config.cluster.name;
  const nodes = [kwokNode(`${cluster}-control-plane`, { "node-role.kubernetes.io/control-plane": "" }, [], {
    cpu: String(SYSTEM_NODE.cpu),
    memory: `${SYSTEM_NODE.memoryGi}Gi`,
    pods: String(PODS_PER_NODE),
  })];
  for (const pool of config.nodePools) {
    const summary = poolSummary("kind", pool);
    for (let i = 0; i < summary.desiredNodes; i++) {
      nodes.push(kwokNode(`${cluster}-${summary.poolName}-${i}`, summary.nodeLabels, summary.nodeTaints, {
        cpu: String(HOST_PER_GPU.cpu * summary.gpusPerNode),
        memory: `${HOST_PER_GPU.memoryGi * summary.gpusPerNode}Gi`,
        pods: String(PODS_PER_NODE),
        ...Object.fromEntries(Object.entries(summary.nodeResources).map(([resource, n]) => [resource, String(n)])),
      }));
    }
  }
  return nodes;
}

/**
 * How many of the stack's nodes run a real kubelet instead of KWOK. The first is the first node
 * of the first GPU pool: the one the device plugin, the GPU pods and serving need for real.
 */
export const MAX_REAL_GPU_NODES = 1;

export interface NodePlan {
  kwok: KwokNode[];
  real: RealNodeSpec[];
}

/**
 * The stack's nodes, `realNodes` of them real (labels and taints from the same pool summary as
 * the KWOK nodes, less the labels the kubelet sets itself), the rest KWOK.
 */
export function planNodes(config: Extract<StackConfig, { target: "kind" }>, realNodes: number): NodePlan {
  if (!Number.isInteger(realNodes) || realNodes < 0 || realNodes > MAX_REAL_GPU_NODES) {
    throw new RangeError(`--real-nodes: expected 0 to ${MAX_REAL_GPU_NODES} (the first node of the first GPU pool), got ${realNodes}`);
  }
  const all = kwokNodes(config);
  const firstPool = config.nodePools[0];
  if (realNodes === 0 || !firstPool) return { kwok: all, real: [] };
  const summary = poolSummary("kind", firstPool);
  const name = `${config.cluster.name}-${summary.poolName}-0`;
  return {
    kwok: all.filter((n) => n.metadata.name !== name),
    real: [{ name, index: 0, labels: { ...summary.nodeLabels }, taints: summary.nodeTaints.map((t) => ({ ...t })) }],
  };
}
