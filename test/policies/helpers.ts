/**
 * Runs one policy the way @pulumi/policy's server would, on args built here: a collecting
 * `reportViolation`, `getConfig` returning the given config. Unit tests change one field of
 * the happy-path fixture and assert on the exact violations.
 */
import type {
  PolicyResource, ResourceValidationArgs, ResourceValidationPolicy, StackValidationArgs, StackValidationPolicy,
} from "@pulumi/policy";
import { alertPolicies } from "../../policies/thermal/alerts";
import { checkpointPolicies } from "../../policies/tenancy/checkpoints";
import { crossTenantPolicies } from "../../policies/tenancy/cross-tenant";
import { dedicatedPoolPolicies } from "../../policies/tenancy/dedicated-pools";
import { devicePluginPolicies } from "../../policies/gpu-capacity/device-plugin";
import { gpuPodPolicies } from "../../policies/gpu-capacity/gpu-pods";
import { imagePolicies } from "../../policies/tenancy/images";
import { isolationPolicies } from "../../policies/tenancy/isolation";
import { namespacePolicies } from "../../policies/tenancy/namespaces";
import { nodeGroupScalingPolicies } from "../../policies/gpu-capacity/node-group-scaling";
import { podSecurityPolicies } from "../../policies/tenancy/pod-security";
import { quotaHeadroomPolicies } from "../../policies/gpu-capacity/quota-headroom";
import { rayPolicies } from "../../policies/thermal/ray";
import { rbacPolicies } from "../../policies/tenancy/rbac";
import { schedulingPolicies } from "../../policies/thermal/scheduling";
import { serviceAccountTokenPolicies } from "../../policies/tenancy/service-account-token";
import { servingCapacityPolicies } from "../../policies/gpu-capacity/serving-capacity";
import { servingMemoryPolicies } from "../../policies/gpu-capacity/serving-memory";
import { servingPolicies } from "../../policies/thermal/serving";
import { telemetryPolicies } from "../../policies/thermal/telemetry";
import type { FixtureResource } from "./fixtures";

/**
 * Every policy of the three packs, by pack: a copy of each pack's index.ts list (importing an
 * index.ts would construct its PolicyPack in the test process). shipped-packs.test.ts holds this
 * copy, and the packs themselves, to the names the shipped entries serve over gRPC.
 */
export const PACK_POLICIES = {
  "gpu-capacity": [...quotaHeadroomPolicies, ...nodeGroupScalingPolicies, ...servingMemoryPolicies, ...servingCapacityPolicies, ...gpuPodPolicies, ...devicePluginPolicies],
  thermal: [...telemetryPolicies, ...alertPolicies, ...servingPolicies, ...schedulingPolicies, ...rayPolicies],
  tenancy: [
    ...namespacePolicies, ...podSecurityPolicies, ...crossTenantPolicies, ...dedicatedPoolPolicies, ...isolationPolicies, ...rbacPolicies,
    ...imagePolicies, ...serviceAccountTokenPolicies, ...checkpointPolicies,
  ],
} as const;

type Config = Record<string, unknown>;

function common(config: Config) {
  return {
    stackTags: new Map<string, string>(),
    getConfig: <T extends object>() => config as T,
    notApplicable: (reason?: string): never => {
      throw new Error(`not applicable: ${reason}`);
    },
  };
}

const opts = { protect: false, ignoreChanges: [], aliases: [], customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 }, additionalSecretOutputs: [] };

export function resourceArgs(r: FixtureResource, config: Config = {}): ResourceValidationArgs {
  return {
    type: r.type, props: r.props, urn: r.urn, name: r.name, opts,
    isType: () => false, asType: () => undefined,
    ...common(config),
  } as ResourceValidationArgs;
}

export function stackArgs(resources: FixtureResource[], config: Config = {}): StackValidationArgs {
  const byUrn = new Map<string, PolicyResource>();
  const list = resources.map((r) => {
    const pr = { type: r.type, props: r.props, urn: r.urn, name: r.name, opts, dependencies: [], propertyDependencies: {}, isType: () => false, asType: () => undefined } as unknown as PolicyResource;
    byUrn.set(r.urn, pr);
    return pr;
  });
  resources.forEach((r, i) => {
    if (r.parent) list[i].parent = byUrn.get(r.parent);
  });
  return { resources: list, ...common(config) } as StackValidationArgs;
}

export interface Reported {
  message: string;
  urn?: string;
}

/** Violations of a resource policy over each given resource. */
export async function runResourcePolicy(policy: ResourceValidationPolicy, resources: FixtureResource[], config: Config = {}): Promise<Reported[]> {
  const out: Reported[] = [];
  for (const r of resources) {
    const validations = Array.isArray(policy.validateResource) ? policy.validateResource : [policy.validateResource!];
    for (const v of validations) await v(resourceArgs(r, config), (message, urn) => out.push({ message, urn: urn ?? r.urn }));
  }
  return out;
}

export async function runStackPolicy(policy: StackValidationPolicy, resources: FixtureResource[], config: Config = {}): Promise<Reported[]> {
  const out: Reported[] = [];
  await policy.validateStack(stackArgs(resources, config), (message, urn) => out.push({ message, urn }));
  return out;
}

/** Runs any policy over the stack: resource policies per resource, stack policies once. */
export async function runPolicy(policy: ResourceValidationPolicy | StackValidationPolicy, resources: FixtureResource[], config: Config = {}): Promise<Reported[]> {
  return "validateStack" in policy
    ? runStackPolicy(policy as StackValidationPolicy, resources, config)
    : runResourcePolicy(policy as ResourceValidationPolicy, resources, config);
}

/** What the policy's remediation returns for the resource (undefined: nothing to fix). */
export async function remediate(policy: ResourceValidationPolicy, r: FixtureResource, config: Config = {}) {
  return (await policy.remediateResource!(resourceArgs(r, config))) as Record<string, unknown> | undefined;
}
