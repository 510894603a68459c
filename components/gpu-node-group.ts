/**
 * `gpk:index:GpuNodeGroup`: one GPU node pool. On eks an `aws.eks.NodeGroup` on the NVIDIA
 * AL2023 AMI with its own least-privilege node role; on kind the labels and taints the
 * simulated worker nodes get from the kind cluster config. The class is thin: the
 * labels, taints and capacity come from the pure functions below.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import {
  DEVICE_PLUGIN_CONFIG_LABEL,
  GPU_RESOURCE,
  EC2_GPU_INSTANCES,
  GFD_LABELS,
  GPU_PRODUCTS,
  GPU_TAINT,
  KIT_LABELS,
  MANAGED_BY,
  dedicatedPoolTaint,
  type GpuProduct,
} from "../gpu";
import { MIG_LABELS, MIG_PROFILES, migConfigName, migDevicesPerGpu, migProfileLabel, migResourceName, singleStrategyProduct, type MigSpec } from "../gpu/mig";
import type { GpuPoolSummary, Target } from "./summaries";

/** Defaults of the optional pool fields; stacks/config.ts applies the same ones. */
export const POOL_DEFAULTS = {
  minNodes: 0,
  timeSlicingReplicas: 1,
  capacityType: "ON_DEMAND",
  diskSizeGiB: 200,
} as const;

/** EKS AMI type with the NVIDIA driver and container toolkit preinstalled. */
export const NVIDIA_AMI_TYPE = "AL2023_x86_64_NVIDIA";

/**
 * The managed policies a worker node needs, and no more: join the cluster, pull images from
 * ECR, and let the VPC CNI manage pod ENIs (EKS docs, "Amazon EKS node IAM role").
 */
export const NODE_ROLE_POLICY_ARNS = [
  "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
  "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
  "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
] as const;

/** A GPU pool as the component takes it. */
export interface GpuPoolSpec {
  /** Pool name; becomes the `gpk.dev/pool` label. */
  name: string;
  /** GPU product. Required on kind; on eks derived from `instanceType` when omitted. */
  product?: GpuProduct;
  /** EC2 instance type. Required on eks, ignored on kind. */
  instanceType?: string;
  /** GPUs per node. On eks derived from `instanceType` when omitted; required on kind. */
  gpusPerNode?: number;
  /** Minimum nodes. Default 0. */
  minNodes?: number;
  /** Nodes to start with. */
  desiredNodes: number;
  /** Maximum nodes the pool may scale to. */
  maxNodes: number;
  /** Time-slicing replicas per physical GPU. Default 1 (no sharing). */
  timeSlicingReplicas?: number;
  /**
   * MIG partitioning of every GPU (H100, A100 only): strategy and profile. Default: none, whole
   * GPUs. Its nodes get `nvidia.com/mig.config` for NVIDIA's MIG manager.
   */
  mig?: MigSpec;
  /** Tenant the pool is dedicated to; adds the `gpk.dev/tenant=<tenant>:NoSchedule` taint. Default: shared. */
  dedicatedTenant?: string;
  /** EKS capacity type. Default `ON_DEMAND`. */
  capacityType?: "ON_DEMAND" | "SPOT";
  /** Root volume in GiB (eks). Default 200. */
  diskSizeGiB?: number;
}

export interface GpuNodeGroupArgs {
  /** Where the pool runs. */
  target: Target;
  /** The pool from stack config (`gpk:nodePools[]`): name, hardware, scaling, time-slicing, tenant. Required. */
  pool: GpuPoolSpec;
  /** EKS cluster the node group joins. Required when `target` is eks. */
  clusterName?: pulumi.Input<string>;
  /** Subnets of the node group. Required when `target` is eks. */
  subnetIds?: pulumi.Input<pulumi.Input<string>[]>;
}

/** Product and GPUs per node, from the instance type on eks or from the pool on kind. */
export function resolvePoolHardware(target: Target, pool: GpuPoolSpec): { product: GpuProduct; gpusPerNode: number } {
  if (target === "eks") {
    const instance = pool.instanceType ? EC2_GPU_INSTANCES[pool.instanceType] : undefined;
    if (!instance) {
      throw new pulumi.InputPropertyError({ propertyPath: "pool.instanceType", reason: `\`pool.instanceType\` must be a known EC2 GPU instance type, got ${JSON.stringify(pool.instanceType)}.` });
    }
    return { product: instance.product, gpusPerNode: instance.gpus };
  }
  if (!pool.product || !pool.gpusPerNode) {
    throw new pulumi.InputPropertyError({ propertyPath: "pool.product", reason: "`pool.product` and `pool.gpusPerNode` are required on kind." });
  }
  return { product: pool.product, gpusPerNode: pool.gpusPerNode };
}

/** Taints of the pool's nodes: the GPU taint, plus the tenant taint of a dedicated pool. */
export function poolNodeTaints(pool: GpuPoolSpec): { key: string; value: string; effect: string }[] {
  const taints: { key: string; value: string; effect: string }[] = [{ ...GPU_TAINT }];
  if (pool.dedicatedTenant) taints.push({ ...dedicatedPoolTaint(pool.dedicatedTenant) });
  return taints;
}

/** A pool's MIG layout: strategy, mig-parted config name and instances of each profile per GPU. */
export type PoolMig = NonNullable<GpuPoolSummary["mig"]>;

/**
 * The pool's MIG layout, or undefined for whole GPUs. Config validation refuses a layout that
 * does not fit; a program that builds the component itself gets the same problem as an error.
 */
export function poolMig(pool: GpuPoolSpec, product: GpuProduct): PoolMig | undefined {
  if (!pool.mig) return undefined;
  const layout = migDevicesPerGpu(product, pool.mig.profile);
  if ("problem" in layout) throw new pulumi.InputPropertyError({ propertyPath: "pool.mig.profile", reason: layout.problem });
  return { strategy: pool.mig.strategy, configName: migConfigName(pool.name, pool.mig.profile), devicesPerGpu: layout.devices };
}

/**
 * Extended resources one node of the pool advertises, as the NVIDIA device plugin does:
 * whole GPUs × time-slicing replicas as `nvidia.com/gpu`; under MIG `single` the MIG devices
 * as `nvidia.com/gpu`; under `mixed` one `nvidia.com/mig-<profile>` per profile.
 */
export function poolNodeResources(gpusPerNode: number, replicas: number, mig: PoolMig | undefined): Record<string, number> {
  if (!mig) return { [GPU_RESOURCE]: gpusPerNode * replicas };
  const perGpu = Object.entries(mig.devicesPerGpu);
  if (mig.strategy === "single") return { [GPU_RESOURCE]: gpusPerNode * replicas * perGpu.reduce((s, [, n]) => s + n, 0) };
  return Object.fromEntries(perGpu.map(([profile, n]) => [migResourceName(profile), gpusPerNode * replicas * n]));
}

/**
 * GFD-style labels plus the kit's pool/tenant labels, the device-plugin config selector and the
 * MIG labels. Under MIG `single` GFD describes the MIG devices in the `nvidia.com/gpu.*` labels
 * (product `<product>-MIG-<profile>`, count and memory of the devices); under `mixed` those keep
 * describing the GPUs and each profile gets `nvidia.com/mig-<profile>.count|.memory`
 * (k8s-device-plugin v0.20.0 docs/gpu-feature-discovery/README.md).
 */
export function poolNodeLabels(pool: GpuPoolSpec, product: GpuProduct, gpusPerNode: number, mig?: PoolMig): Record<string, string> {
  const replicas = pool.timeSlicingReplicas ?? POOL_DEFAULTS.timeSlicingReplicas;
  const gpu = GPU_PRODUCTS[product];
  const labels: Record<string, string> = {
    [KIT_LABELS.pool]: pool.name,
    [GFD_LABELS.product]: gpu.gfdProduct,
    [GFD_LABELS.count]: String(gpusPerNode),
    [GFD_LABELS.memory]: String(gpu.memoryMiB),
    [GFD_LABELS.replicas]: String(replicas),
    [DEVICE_PLUGIN_CONFIG_LABEL]: pool.name,
  };
  if (mig) {
    labels[MIG_LABELS.config] = mig.configName;
    labels[MIG_LABELS.strategy] = mig.strategy;
    for (const [profile, perGpu] of Object.entries(mig.devicesPerGpu)) {
      const memory = MIG_PROFILES[product]?.[profile]?.memoryMiB;
      if (mig.strategy === "single") {
        labels[GFD_LABELS.product] = singleStrategyProduct(gpu.gfdProduct, profile);
        labels[GFD_LABELS.count] = String(gpusPerNode * perGpu);
        if (memory === undefined) delete labels[GFD_LABELS.memory];
        else labels[GFD_LABELS.memory] = String(memory);
      } else {
        labels[migProfileLabel(profile, "count")] = String(gpusPerNode * perGpu);
        if (memory !== undefined) labels[migProfileLabel(profile, "memory")] = String(memory);
      }
    }
  }
  if (pool.dedicatedTenant) labels[KIT_LABELS.tenant] = pool.dedicatedTenant;
  return labels;
}

/** Everything the rest of the kit (policies, device plugin, kind config) needs to know about a pool. */
export function poolSummary(target: Target, pool: GpuPoolSpec): GpuPoolSummary {
  const { product, gpusPerNode } = resolvePoolHardware(target, pool);
  const timeSlicingReplicas = pool.timeSlicingReplicas ?? POOL_DEFAULTS.timeSlicingReplicas;
  const mig = poolMig(pool, product);
  const nodeResources = poolNodeResources(gpusPerNode, timeSlicingReplicas, mig);
  const summary: GpuPoolSummary = {
    poolName: pool.name,
    target,
    product,
    gfdProduct: GPU_PRODUCTS[product].gfdProduct,
    gpusPerNode,
    timeSlicingReplicas,
    migStrategy: mig?.strategy ?? "none",
    minNodes: pool.minNodes ?? POOL_DEFAULTS.minNodes,
    desiredNodes: pool.desiredNodes,
    maxNodes: pool.maxNodes,
    nodeResources,
    migCapacity: Object.fromEntries(Object.entries(nodeResources).filter(([r]) => r !== GPU_RESOURCE).map(([r, n]) => [r, n * pool.maxNodes])),
    gpuCapacity: pool.maxNodes * (nodeResources[GPU_RESOURCE] ?? 0),
    nodeLabels: poolNodeLabels(pool, product, gpusPerNode, mig),
    nodeTaints: poolNodeTaints(pool),
  };
  if (mig) summary.mig = mig;
  if (pool.dedicatedTenant) summary.dedicatedTenant = pool.dedicatedTenant;
  return summary;
}

/** EKS spells taint effects in upper snake case. */
export function eksTaintEffect(effect: string): string {
  return effect.replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}

export class GpuNodeGroup extends pulumi.ComponentResource {
  /** The pool as the rest of the kit sees it (also the registered outputs). */
  public readonly summary: GpuPoolSummary;
  /** The EKS node group (eks only). */
  public readonly nodeGroup?: aws.eks.NodeGroup;
  /** The node IAM role (eks only). */
  public readonly nodeRole?: aws.iam.Role;

  constructor(name: string, args: GpuNodeGroupArgs, opts?: pulumi.ComponentResourceOptions) {
    super("gpk:index:GpuNodeGroup", name, {}, opts);
    this.summary = poolSummary(args.target, args.pool);
    if (args.target === "eks") {
      if (args.clusterName === undefined || args.subnetIds === undefined) {
        throw new pulumi.InputPropertiesError({
          message: "An eks GpuNodeGroup needs its cluster.",
          errors: [
            ...(args.clusterName === undefined ? [{ propertyPath: "clusterName", reason: "`clusterName` is required when `target` is eks." }] : []),
            ...(args.subnetIds === undefined ? [{ propertyPath: "subnetIds", reason: "`subnetIds` is required when `target` is eks." }] : []),
          ],
        });
      }
      this.nodeRole = new aws.iam.Role(`${name}-node`, {
        assumeRolePolicy: JSON.stringify({
          Version: "2012-10-17",
          Statement: [{ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }],
        }),
        description: `Node role of GPU pool ${args.pool.name}`,
      }, { parent: this });
      const attachments = NODE_ROLE_POLICY_ARNS.map((policyArn) =>
        new aws.iam.RolePolicyAttachment(`${name}-${policyArn.split("/").pop()}`, { role: this.nodeRole!.name, policyArn }, { parent: this }),
      );
      const pool = this.summary;
      this.nodeGroup = new aws.eks.NodeGroup(name, {
        clusterName: args.clusterName,
        nodeRoleArn: this.nodeRole.arn,
        subnetIds: args.subnetIds,
        amiType: NVIDIA_AMI_TYPE,
        instanceTypes: [args.pool.instanceType!],
        capacityType: args.pool.capacityType ?? POOL_DEFAULTS.capacityType,
        diskSize: args.pool.diskSizeGiB ?? POOL_DEFAULTS.diskSizeGiB,
        scalingConfig: { minSize: pool.minNodes, desiredSize: pool.desiredNodes, maxSize: pool.maxNodes },
        // One node at a time: a GPU node drains long-running training and serving pods.
        updateConfig: { maxUnavailable: 1 },
        labels: pool.nodeLabels,
        taints: pool.nodeTaints.map((t) => ({ key: t.key, value: t.value, effect: eksTaintEffect(t.effect) })),
        tags: { [KIT_LABELS.pool]: pool.poolName, [KIT_LABELS.managedBy]: MANAGED_BY },
      }, {
        parent: this,
        dependsOn: attachments,
        // The cluster autoscaler owns the current size once the pool exists.
        ignoreChanges: ["scalingConfig.desiredSize"],
      });
    }
    this.registerOutputs({ ...this.summary });
  }
}
