/**
 * On-demand prices of the EC2 GPU instance types the kit knows (EC2_GPU_INSTANCES), in US
 * dollars per hour, us-east-1, Linux. Source: the price table Karpenter ships for its offline
 * start, aws/karpenter-provider-aws `pkg/providers/pricing/zz_generated.pricing_aws.go` at
 * commit 6fc13b5 (2026-07-20, "generated at 2026-07-20T13:44:30Z for us-east-1"), which is
 * generated from the AWS Pricing API. `gpk plan serving` and the `serving-capacity` policy
 * price a deployment with them; prices change, so re-source them from a newer commit of that
 * file rather than editing single figures.
 */
import { EC2_GPU_INSTANCES, type GpuProduct } from "./index";

export const PRICING_SOURCE = {
  repo: "aws/karpenter-provider-aws",
  file: "pkg/providers/pricing/zz_generated.pricing_aws.go",
  commit: "6fc13b5236fd04fd16ff3f9dc7490d0813994099",
  date: "2026-07-20",
  region: "us-east-1",
} as const;

export const ON_DEMAND_USD_PER_HOUR: Readonly<Record<string, number>> = {
  "p5.4xlarge": 6.88,
  "p5.48xlarge": 55.04,
  "p4de.24xlarge": 27.44705,
  "g6e.xlarge": 1.861,
  "g6e.2xlarge": 2.24208,
  "g6e.4xlarge": 3.00424,
  "g6e.8xlarge": 4.52856,
  "g6e.16xlarge": 7.57719,
  "g6e.12xlarge": 10.49264,
  "g6e.24xlarge": 15.06559,
  "g6e.48xlarge": 30.13118,
  "g5.xlarge": 1.006,
  "g5.2xlarge": 1.212,
  "g5.4xlarge": 1.624,
  "g5.8xlarge": 2.448,
  "g5.16xlarge": 4.096,
  "g5.12xlarge": 5.672,
  "g5.24xlarge": 8.144,
  "g5.48xlarge": 16.288,
  "g6.xlarge": 0.8048,
  "g6.2xlarge": 0.9776,
  "g6.4xlarge": 1.3232,
  "g6.8xlarge": 2.0144,
  "g6.16xlarge": 3.3968,
  "g6.12xlarge": 4.6016,
  "g6.24xlarge": 6.6752,
  "g6.48xlarge": 13.3504,
};

/** Hours in a month as AWS bills them (730 = 8,760 / 12). */
export const HOURS_PER_MONTH = 730;

export interface PricedInstance {
  instanceType: string;
  product: GpuProduct;
  gpus: number;
  dollarsPerHour: number;
}

/**
 * For each GPU count a product comes in, the cheapest instance type carrying it, by GPU count
 * (the larger sizes of a count differ in CPU and memory only, which serving does not need).
 */
export function cheapestInstancesOf(product: GpuProduct): PricedInstance[] {
  const byCount = new Map<number, PricedInstance>();
  for (const [instanceType, spec] of Object.entries(EC2_GPU_INSTANCES)) {
    if (spec.product !== product) continue;
    const dollarsPerHour = ON_DEMAND_USD_PER_HOUR[instanceType];
    if (dollarsPerHour === undefined) continue;
    const seen = byCount.get(spec.gpus);
    if (!seen || dollarsPerHour < seen.dollarsPerHour) byCount.set(spec.gpus, { instanceType, product, gpus: spec.gpus, dollarsPerHour });
  }
  return [...byCount.values()].sort((a, b) => a.gpus - b.gpus);
}

/**
 * How a node of `gpusPerNode` GPUs of `product` is priced when it is no EC2 instance (a kind
 * pool): per GPU as the product's cheapest instance type per GPU, times the node's GPUs.
 */
export function pricedAs(product: GpuProduct, gpusPerNode: number): PricedInstance | undefined {
  const perGpu = cheapestInstancesOf(product).sort((a, b) => a.dollarsPerHour / a.gpus - b.dollarsPerHour / b.gpus)[0];
  if (!perGpu) return undefined;
  const dollarsPerHour = Math.round((perGpu.dollarsPerHour / perGpu.gpus) * gpusPerNode * 1e5) / 1e5;
  return { instanceType: `${gpusPerNode}×${product} (priced as ${perGpu.instanceType})`, product, gpus: gpusPerNode, dollarsPerHour };
}
