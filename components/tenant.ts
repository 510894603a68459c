/**
 * `gpk:index:Tenant`: one team's slice of the platform — a namespace under Pod Security
 * `restricted`, quotas (GPUs included), default container limits, default-deny networking
 * with DNS and same-namespace traffic allowed, and a namespaced Role for the team's group.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { migProfileOfResource } from "../gpu/mig";
import { GPU_RESOURCE, KIT_LABELS, MANAGED_BY, dedicatedPoolTaint, tolerationFor, type TenantIsolation } from "../gpu";
import type { TenantSummary } from "./summaries";

export const TENANT_DEFAULTS = {
  cpuQuota: "64",
  memoryQuota: "256Gi",
  /** Requests and limits a container gets when it states none (LimitRange). */
  containerDefaults: { requestCpu: "250m", requestMemory: "512Mi", limitCpu: "1", limitMemory: "1Gi" },
} as const;

export interface TenantArgs {
  /** Tenant name; also the namespace name. */
  name: string;
  /** Identity-provider group bound to the tenant's Role. Default `gpk:<name>`. */
  group?: string;
  /** `requests.nvidia.com/gpu` cap. */
  gpuQuota: number;
  /** CPU requests cap. Default "64". */
  cpuQuota?: string;
  /** Memory requests cap. Default "256Gi". */
  memoryQuota?: string;
  /** Caps on MIG devices per profile (`mixed` strategy), e.g. `{"1g.10gb": 14}`. Default none. */
  migQuota?: Record<string, number>;
  /**
   * Every MIG resource the platform's pools advertise (`nvidia.com/mig-<profile>`). The quota
   * caps each, at `migQuota` or 0, so a tenant gets no MIG device it was not granted. Default none.
   */
  migResources?: string[];
  /** Pools the tenant may use. */
  allowedPools: string[];
  /** Allowed pools that are dedicated to this tenant (their nodes carry the tenant taint). Default none. */
  dedicatedPools?: string[];
  /** `strict`: shares no GPU with other tenants (admission-guards.ts enforces its pools). Default `shared`. */
  isolation?: TenantIsolation;
}

export function tenantGroup(args: Pick<TenantArgs, "name" | "group">): string {
  return args.group ?? `gpk:${args.name}`;
}

/** Namespace labels: tenant ownership and Pod Security Admission `restricted` in all three modes. */
export function tenantNamespaceLabels(name: string): Record<string, string> {
  return {
    [KIT_LABELS.tenant]: name,
    [KIT_LABELS.managedBy]: MANAGED_BY,
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
    "pod-security.kubernetes.io/audit": "restricted",
    "pod-security.kubernetes.io/warn": "restricted",
  };
}

/** The tenant's cap on every MIG resource of the platform, by resource name: its `migQuota`, or 0. */
export function tenantMigQuota(args: Pick<TenantArgs, "migQuota" | "migResources">): Record<string, number> {
  const quota: Record<string, number> = {};
  for (const resource of [...(args.migResources ?? [])].sort()) quota[resource] = args.migQuota?.[migProfileOfResource(resource)!] ?? 0;
  return quota;
}

export function tenantQuotaHard(args: TenantArgs): Record<string, string> {
  const cpu = args.cpuQuota ?? TENANT_DEFAULTS.cpuQuota;
  const memory = args.memoryQuota ?? TENANT_DEFAULTS.memoryQuota;
  // Extended resources take only the `requests.` form in a ResourceQuota (they are never overcommitted).
  const devices = { [GPU_RESOURCE]: args.gpuQuota, ...tenantMigQuota(args) };
  return {
    ...Object.fromEntries(Object.entries(devices).map(([resource, n]) => [`requests.${resource}`, String(n)])),
    "requests.cpu": cpu,
    "requests.memory": memory,
    "limits.cpu": cpu,
    "limits.memory": memory,
  };
}

/**
 * The tenant's Role: run and observe workloads in its namespace. Explicit verbs and
 * resources only (no wildcards), nothing cluster-scoped, no RBAC or quota editing.
 */
export function tenantRoleRules() {
  const manage = ["get", "list", "watch", "create", "update", "patch", "delete"];
  return [
    { apiGroups: [""], resources: ["pods", "services", "configmaps", "secrets", "persistentvolumeclaims", "serviceaccounts"], verbs: manage },
    { apiGroups: [""], resources: ["pods/log", "events", "resourcequotas", "limitranges"], verbs: ["get", "list", "watch"] },
    { apiGroups: ["apps"], resources: ["deployments", "statefulsets", "replicasets"], verbs: manage },
    { apiGroups: ["batch"], resources: ["jobs", "cronjobs"], verbs: manage },
    { apiGroups: ["autoscaling"], resources: ["horizontalpodautoscalers"], verbs: manage },
    { apiGroups: ["policy"], resources: ["poddisruptionbudgets"], verbs: manage },
    { apiGroups: ["ray.io"], resources: ["rayclusters", "rayjobs", "rayservices"], verbs: manage },
  ];
}

/** Default-deny for both directions, then DNS to kube-system and traffic inside the namespace. */
export function tenantNetworkPolicySpecs(): Record<string, k8s.types.input.networking.v1.NetworkPolicySpec> {
  return {
    "default-deny": { podSelector: {}, policyTypes: ["Ingress", "Egress"] },
    "allow-dns": {
      podSelector: {},
      policyTypes: ["Egress"],
      egress: [{
        to: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } }, podSelector: { matchLabels: { "k8s-app": "kube-dns" } } }],
        ports: [{ protocol: "UDP", port: 53 }, { protocol: "TCP", port: 53 }],
      }],
    },
    "allow-same-namespace": {
      podSelector: {},
      policyTypes: ["Ingress", "Egress"],
      ingress: [{ from: [{ podSelector: {} }] }],
      egress: [{ to: [{ podSelector: {} }] }],
    },
  };
}

export class Tenant extends pulumi.ComponentResource {
  public readonly summary: TenantSummary;
  public readonly namespace: k8s.core.v1.Namespace;
  /** What a pod of this tenant adds to land on a pool dedicated to it. */
  public readonly dedicatedScheduling: Record<string, { nodeSelector: Record<string, string>; tolerations: ReturnType<typeof tolerationFor>[] }>;

  constructor(name: string, args: TenantArgs, opts?: pulumi.ComponentResourceOptions) {
    super("gpk:index:Tenant", name, {}, opts);
    const group = tenantGroup(args);
    const labels = { [KIT_LABELS.tenant]: args.name, [KIT_LABELS.managedBy]: MANAGED_BY };
    const child = { parent: this };
    this.namespace = new k8s.core.v1.Namespace(name, { metadata: { name: args.name, labels: tenantNamespaceLabels(args.name) } }, child);
    const namespace = this.namespace.metadata.name;
    const meta = (objectName: string) => ({ name: objectName, namespace, labels });

    new k8s.core.v1.ResourceQuota(`${name}-quota`, { metadata: meta("tenant-quota"), spec: { hard: tenantQuotaHard(args) } }, child);
    const d = TENANT_DEFAULTS.containerDefaults;
    new k8s.core.v1.LimitRange(`${name}-limits`, {
      metadata: meta("tenant-defaults"),
      spec: { limits: [{ type: "Container", defaultRequest: { cpu: d.requestCpu, memory: d.requestMemory }, default: { cpu: d.limitCpu, memory: d.limitMemory } }] },
    }, child);
    for (const [policyName, spec] of Object.entries(tenantNetworkPolicySpecs())) {
      new k8s.networking.v1.NetworkPolicy(`${name}-${policyName}`, { metadata: meta(policyName), spec }, child);
    }
    const role = new k8s.rbac.v1.Role(`${name}-developer`, { metadata: meta("tenant-developer"), rules: tenantRoleRules() }, child);
    new k8s.rbac.v1.RoleBinding(`${name}-developer`, {
      metadata: meta("tenant-developer"),
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role.metadata.name },
      subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: group }],
    }, child);

    this.dedicatedScheduling = Object.fromEntries((args.dedicatedPools ?? []).map((pool) => [pool, {
      nodeSelector: { [KIT_LABELS.pool]: pool },
      tolerations: [tolerationFor(dedicatedPoolTaint(args.name))],
    }]));
    this.summary = { tenantName: args.name, namespace: args.name, gpuQuota: args.gpuQuota, migQuota: tenantMigQuota(args), allowedPools: [...args.allowedPools], group, isolation: args.isolation ?? "shared" };
    this.registerOutputs({ ...this.summary, dedicatedScheduling: this.dedicatedScheduling });
  }
}
