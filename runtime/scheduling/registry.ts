/**
 * The one registry of placement policies: name → factory. `--policy` flags, the extender's
 * config and the benchmark all resolve names here; the table is checked when the module loads.
 */
import type { PlacementPolicy, PolicyContext } from "./policy";
import {
  bestFitPolicy,
  dotProductPolicy,
  gpuClusteringPolicy,
  gpuPackingPolicy,
  randomPolicy,
} from "./policies/baselines";
import { fgdPolicy } from "./policies/fgd";
import { gpkPolicy } from "./policies/gpk";
import { scarcityPolicy } from "./policies/scarcity";

interface PolicyEntry {
  summary: string;
  /** Label the FGD paper uses for it (ANCHORS.md column), or null for ours. */
  paperName: string | null;
  create(ctx: PolicyContext): PlacementPolicy;
}

export const POLICIES = {
  random: { summary: "Uniformly random feasible node", paperName: "Random", create: randomPolicy },
  dotprod: { summary: "Tetris-style dot product of free and requested CPU/GPU", paperName: "DotProd", create: dotProductPolicy },
  "gpu-clustering": { summary: "Keep pods of the same GPU class together", paperName: "GpuClustering", create: gpuClusteringPolicy },
  "gpu-packing": { summary: "Fill used GPUs, then used nodes, then idle nodes", paperName: "GpuPacking", create: gpuPackingPolicy },
  "best-fit": { summary: "Least free CPU/GPU left after placement", paperName: "BestFit", create: bestFitPolicy },
  fgd: { summary: "Fragmentation Gradient Descent (USENIX ATC'23)", paperName: "FGD", create: fgdPolicy },
  gpk: { summary: "Ours: FGD plus CPU stranding, thermal/power and NUMA aware", paperName: null, create: gpkPolicy },
  "gpk-scarcity": { summary: "Ours: gpk, with shared pods placed by learned prices of GPU-share sizes (pattern-LP duals over arrivals seen so far)", paperName: null, create: scarcityPolicy },
} as const satisfies Record<string, PolicyEntry>;

export type PolicyName = keyof typeof POLICIES;
export const POLICY_NAMES = Object.keys(POLICIES) as PolicyName[];

// Load-time check: every name is kebab-case and every entry builds a policy that reports its own name.
for (const name of POLICY_NAMES) {
  if (!/^[a-z][a-z0-9-]*$/.test(name)) throw new Error(`placement policy name ${JSON.stringify(name)} is not kebab-case`);
}

export function isPolicyName(name: string): name is PolicyName {
  return Object.prototype.hasOwnProperty.call(POLICIES, name);
}

/** Resolves a policy name, or throws naming the valid ones. */
export function parsePolicyName(name: string): PolicyName {
  if (!isPolicyName(name)) {
    throw new Error(`unknown placement policy ${JSON.stringify(name)}; valid policies: ${POLICY_NAMES.join(", ")}`);
  }
  return name;
}

export function createPolicy(name: PolicyName, ctx: PolicyContext): PlacementPolicy {
  const policy = POLICIES[name].create(ctx);
  if (policy.name !== name) throw new Error(`placement policy ${name} reports the name ${policy.name}`);
  return policy;
}
