/**
 * The stack configuration: every `gpk:*` key of `stacks/Pulumi.<stack>.yaml`, parsed once
 * at program start and validated with zod. A bad value fails the run with one line per
 * problem naming the full key path, e.g.
 * `gpk:nodePools[1].gpusPerNode: expected a positive integer, got "8x"`.
 */
import * as fs from "node:fs";
import { z } from "zod";
import { dnsLabel, expect, nonNegativeInt, oneOf, positiveInt, quantity } from "./config-parts";
import { migDevicesPerGpu } from "../gpu/mig";
import { ADMISSION_DEFAULTS, EC2_GPU_INSTANCES, GPU_PRODUCT_IDS, SYSTEM_NAMESPACES, TENANT_ISOLATION, strictTenantPoolProblem, type GpuProduct, type TenantIsolation } from "../gpu";
import { CONFIG as POLICY_CONFIG } from "../policies/lib/config";
import { findModel } from "../runtime/serving/engine/models";
import { checkServingReferences } from "./config-serving";
import { checkRayConfig } from "./config-ray-checks";
import { workloadsSchema } from "./config-workloads";

/** Config namespace of every key the kit reads (`gpk:target`, `gpk:nodePools`, ...). */
export const CONFIG_NAMESPACE = "gpk";

/** The Pulumi project (Pulumi.yaml's `name`): Pulumi files a config key without a namespace under it. */
export const PROJECT_NAME = "gpu-platform-kit";

export { dnsLabel, expect, nonNegativeInt, oneOf, positiveInt, quantity } from "./config-parts";

const kindClusterSchema = z
  .object({
    /** kind cluster name; the kubeconfig context is `kind-<name>`. Default `gpk-local`. */
    name: dnsLabel().default("gpk-local"),
    /**
     * A kubeconfig file to reach the cluster with, instead of kind's context `kind-<name>`:
     * `gpk local up --runtime binaries` sets it to the local control plane's. Default unset.
     */
    kubeconfig: z
      .string(expect("a kubeconfig file path"))
      .min(1, expect("a kubeconfig file path"))
      .superRefine((file, ctx) => {
        try {
          fs.accessSync(file, fs.constants.R_OK);
        } catch (err) {
          ctx.addIssue({ code: "custom", message: `expected a readable kubeconfig file, got ${JSON.stringify(file)} (${(err as NodeJS.ErrnoException).code})` });
        }
      })
      .optional(),
  })
  .strict();

const eksClusterSchema = z
  .discriminatedUnion(
    "mode",
    [
      z
        .object({
          /** Create a new EKS cluster with its IAM role in the given subnets. */
          mode: z.literal("create"),
          name: dnsLabel(),
          /** Kubernetes minor version, e.g. "1.33". */
          kubernetesVersion: z.string().regex(/^1\.[0-9]+$/, expect('a Kubernetes minor version such as "1.33"')).default("1.33"),
          subnetIds: z.array(z.string().min(1, expect("a subnet id")), expect("a list of subnet ids")).min(2, expect("at least two subnet ids (EKS needs two AZs)")),
          /** Whether the API endpoint is reachable from the internet. Default false (private only). */
          endpointPublicAccess: z.boolean(expect("true or false")).default(false),
        })
        .strict(),
      z
        .object({
          /** Adopt an existing EKS cluster by name; node groups join it. */
          mode: z.literal("adopt"),
          name: dnsLabel(),
          subnetIds: z.array(z.string().min(1), expect("a list of subnet ids")).min(1, expect("at least one subnet id for the node groups")),
        })
        .strict(),
    ],
    expect('"create" or "adopt"'),
  );

const nodePoolSchema = z
  .object({
    name: dnsLabel(),
    /** GPU product id (kind: the simulated GPU; eks: derived from `instanceType`). */
    product: oneOf(GPU_PRODUCT_IDS as [GpuProduct, ...GpuProduct[]]).optional(),
    /** EC2 instance type (eks only), e.g. `p5.48xlarge`. */
    instanceType: z.string(expect("an EC2 instance type")).optional(),
    /** GPUs per node; on eks derived from `instanceType` when omitted. */
    gpusPerNode: positiveInt().optional(),
    minNodes: nonNegativeInt().default(0),
    desiredNodes: nonNegativeInt(),
    maxNodes: positiveInt(),
    /** Time-slicing replicas per physical GPU. Default 1 (no sharing). */
    timeSlicingReplicas: positiveInt().default(1),
    /**
     * MIG partitioning of every GPU (H100 and A100 only). `strategy`: `single` advertises the MIG
     * devices as `nvidia.com/gpu` (one profile per node), `mixed` as `nvidia.com/mig-<profile>`.
     * `profile`: `all-<profile>` such as `all-1g.10gb`, or instances per GPU such as
     * `{"3g.40gb": 1, "2g.20gb": 1, "1g.10gb": 2}`. Default: whole GPUs.
     */
    mig: z
      .object({
        strategy: oneOf(["single", "mixed"]),
        profile: z.union([z.string(), z.record(z.string(), positiveInt())], expect('"all-<profile>" or instances per profile such as {"1g.10gb": 7}')),
      }, expect("{strategy, profile}"))
      .strict()
      .optional(),
    /** Replaced by `mig.strategy`; named here so an old config gets a pointed error. */
    migStrategy: z.undefined(expect("no migStrategy: MIG is now `mig: {strategy: single|mixed, profile: all-1g.10gb}`")).optional(),
    /** Tenant the pool is dedicated to; its nodes get the `gpk.dev/tenant=<tenant>:NoSchedule` taint. */
    dedicatedTenant: dnsLabel().optional(),
    /** EKS capacity type. Default ON_DEMAND. */
    capacityType: oneOf(["ON_DEMAND", "SPOT"]).default("ON_DEMAND"),
    /** Root volume size in GiB (eks). Default 200. */
    diskSizeGiB: positiveInt().default(200),
  })
  .strict();

/** `gpk:tenants[].checkpoints`: the tenant's checkpoint store (components/checkpoint-store.ts). */
const checkpointsSchema = z
  .object({
    /** Bucket. Default on eks: `gpk-<cluster>-<tenant>-checkpoints`. Required on kind (a store the tenant runs). */
    bucket: z.string(expect("an S3 bucket name")).regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, expect("an S3 bucket name (3-63 lowercase letters, digits, '.', '-')")).optional(),
    /** Key prefix of the tenant's runs. Default `ray/`. */
    prefix: z.string(expect("a key prefix")).regex(/^([A-Za-z0-9!_.*'()-]+\/)*$/, expect("a key prefix ending in '/' such as ray/")).default("ray/"),
    /** kind only: the S3-compatible endpoint of the store, e.g. http://minio.storage:9000. */
    endpoint: z.string(expect("an http(s) URL")).regex(/^https?:\/\/[^/\s]+\/?$/, expect("an http(s) URL such as http://minio.storage:9000")).optional(),
    /** Days a replaced or deleted checkpoint version is kept. Default: `gpk:policy.checkpointRetentionDays`. */
    noncurrentVersionDays: positiveInt().optional(),
    /** eks: Object Lock in governance mode with this default retention, days. Only at bucket creation. Default: off. */
    objectLockDays: positiveInt().optional(),
    /** eks: KMS key ARN for SSE-KMS. Default: the AWS-managed key aws/s3. */
    kmsKeyArn: z.string(expect("a KMS key ARN")).regex(/^arn:aws[a-z-]*:kms:/, expect("a KMS key ARN (arn:aws:kms:…)")).optional(),
  }, expect("{bucket, prefix, endpoint, noncurrentVersionDays, objectLockDays, kmsKeyArn}"))
  .strict();

const tenantSchema = z
  .object({
    name: dnsLabel().refine((n) => !(SYSTEM_NAMESPACES as readonly string[]).includes(n), expect("a name that is not a system namespace")),
    /** Identity-provider group bound to the tenant's Role. Default `gpk:<tenant>`. */
    group: z.string(expect("a group name")).min(1).optional(),
    /** Cap on the tenant's `requests.nvidia.com/gpu`. */
    gpuQuota: nonNegativeInt(),
    /** Cap on the tenant's CPU requests. Default "64". */
    cpuQuota: quantity().default("64"),
    /** Cap on the tenant's memory requests. Default "256Gi". */
    memoryQuota: quantity().default("256Gi"),
    /**
     * Caps on the tenant's MIG devices under the `mixed` strategy, per profile:
     * `{"1g.10gb": 14}` becomes `requests.nvidia.com/mig-1g.10gb: 14`. Default none (a tenant
     * without a cap on a profile its pools advertise is refused by the headroom policy's quota rule).
     */
    migQuota: z.record(z.string(), nonNegativeInt(), expect("MIG devices per profile such as {\"1g.10gb\": 14}")).default(() => ({})),
    /** Pools the tenant may use. */
    allowedPools: z.array(dnsLabel(), expect("a list of pool names")).min(1, expect("at least one pool")),
    /**
     * `strict`: never share a GPU with another tenant: only pools dedicated to it, MIG pools and
     * whole-GPU pools (no time-slicing). Default `shared`.
     */
    isolation: oneOf(TENANT_ISOLATION as unknown as [TenantIsolation, ...TenantIsolation[]]).default("shared"),
    /** A versioned, private checkpoint store for the tenant, wired into its Ray pods. Default: none. */
    checkpoints: checkpointsSchema.optional(),
  })
  .strict();

const policySchema = z
  .object({
    /** GPUs of a pool's max capacity that tenant quotas must leave free, in percent. Default 20. */
    headroomPercent: z.number(expect("a percentage")).min(0, expect("a percentage")).max(100, expect("a percentage")).default(POLICY_CONFIG.headroomPercent.default),
    /** GPU temperature that raises an alert, °C. Default 85. */
    maxGpuTempC: positiveInt().default(POLICY_CONFIG.maxGpuTempC.default),
    /** Pools with more GPUs than this must schedule GPU work through the thermal-aware gpk-scheduler. Default 16. */
    thermalAwareAboveGpus: nonNegativeInt().default(POLICY_CONFIG.thermalAwareAboveGpus.default),
    /** Highest vLLM `--gpu-memory-utilization` allowed. Default 0.9. */
    maxGpuMemoryUtilization: z.number(expect("a fraction")).gt(0, expect("a fraction")).max(1, expect("a fraction")).default(POLICY_CONFIG.maxGpuMemoryUtilization.default),
    /** Registries tenant images may come from. Default: the tenancy pack's `allowedRegistries` default. */
    allowedRegistries: z
      .array(z.string().min(1), expect("a list of registry prefixes"))
      // One default with the pack's, so `gpk check` (which passes these) and a bare pack agree.
      .default(() => [...POLICY_CONFIG.allowedRegistries.default]),
    /** Days a checkpoint bucket keeps replaced or deleted versions, at least. Default 30. */
    checkpointRetentionDays: positiveInt().default(POLICY_CONFIG.checkpointRetentionDays.default),
    /** Largest `maxReplicas` a Ray worker group may declare. Default 64. */
    maxRayWorkerReplicas: positiveInt().default(POLICY_CONFIG.maxRayWorkerReplicas.default),
    /** Most resubmissions (`backoffLimit`) a RayJob may declare before ray-job-bounded flags it. Default 3. */
    maxRayJobBackoffLimit: nonNegativeInt().default(POLICY_CONFIG.maxRayJobBackoffLimit.default),
    /** Namespaces that belong to the platform rather than to a tenant. Default: the kit's system namespaces. */
    systemNamespaces: z.array(z.string().min(1), expect("a list of namespaces")).default(() => [...POLICY_CONFIG.systemNamespaces.default]),
    /** Namespaces whose node agents may run privileged or use host paths. Default: `gpk-node`, `kube-system`. */
    privilegedNamespaces: z.array(z.string().min(1), expect("a list of namespaces")).default(() => [...POLICY_CONFIG.privilegedNamespaces.default]),
  })
  .strict()
  .prefault({});

const devicePluginSchema = z
  .object({
    /** Fail the plugin pod when NVML cannot initialise. Default true. */
    failOnInitError: z.boolean(expect("true or false")).default(true),
    /** How the plugin passes devices to containers. Default `envvar`. */
    deviceListStrategy: oneOf(["envvar", "volume-mounts", "cdi-annotations", "cdi-cri"]).default("envvar"),
    /** Advertise time-sliced GPUs as `nvidia.com/gpu.shared`. Default false. */
    renameByDefault: z.boolean(expect("true or false")).default(false),
  })
  .strict()
  .prefault({});

/**
 * `gpk:admission`: the kit's ValidatingAdmissionPolicies (components/admission-guards.ts), which
 * the API server applies to every pod whoever creates it.
 */
const admissionSchema = z
  .object({
    /** What the API server does when a policy cannot be evaluated: `Fail` (refuse the pod) or `Ignore`. Default `Fail`. */
    failurePolicy: oneOf(["Fail", "Ignore"]).default(ADMISSION_DEFAULTS.failurePolicy),
    /**
     * What a violation does: `Deny` refuses the pod, `Warn` admits it with a warning to the
     * client, `Audit` records it in the audit log. Deny and Warn exclude each other. Default [Deny].
     */
    validationActions: z
      .array(oneOf(["Deny", "Warn", "Audit"]), expect("a list of Deny, Warn, Audit"))
      .min(1, expect("at least one of Deny, Warn, Audit"))
      .refine((a) => new Set(a).size === a.length, expect("each action once"))
      .refine((a) => !(a.includes("Deny") && a.includes("Warn")), expect("Deny or Warn, not both (the API server refuses the pair)"))
      .default(() => [...ADMISSION_DEFAULTS.validationActions]),
  })
  .strict()
  .prefault({});

const runtimeSchema = z
  .object({
    /**
     * Image that already contains the runtime bundles at /opt/gpk/<pkg>.js. When unset the
     * bundles ship in ConfigMaps and run on the pinned Node image.
     */
    image: z.string(expect("an image reference")).min(1).optional(),
  })
  .strict()
  .prefault({});

const baseShape = {
  nodePools: z.array(nodePoolSchema, expect("a list of GPU node pools")).min(1, expect("at least one GPU node pool")),
  tenants: z.array(tenantSchema, expect("a list of tenants")).min(1, expect("at least one tenant")),
  policy: policySchema,
  devicePlugin: devicePluginSchema,
  admission: admissionSchema,
  runtime: runtimeSchema,
  ...workloadsSchema,
};

/**
 * Every key and value on its own, without the rules that span keys: a config that fails here
 * is reported without those rules' findings, which would mostly follow from its mistakes.
 */
export const stackConfigShape = z.discriminatedUnion(
  "target",
  [
    z.object({ target: z.literal("kind"), cluster: kindClusterSchema.prefault({}), ...baseShape }).strict(),
    z.object({ target: z.literal("eks"), cluster: eksClusterSchema, ...baseShape }).strict(),
  ],
  expect('"kind" or "eks"'),
);

export const stackConfigSchema = stackConfigShape.superRefine(checkCrossReferences);

export type StackConfig = z.output<typeof stackConfigSchema>;
export type NodePoolConfig = StackConfig["nodePools"][number];
export type TenantConfig = StackConfig["tenants"][number];
export type PolicyConfig = StackConfig["policy"];
export type AdmissionConfig = StackConfig["admission"];

/** A pool's MIG layout exists on its GPU; `single` needs one profile on every GPU. */
function checkPoolMig(pool: NodePoolConfig, i: number, product: GpuProduct, ctx: z.RefinementCtx): void {
  if (!pool.mig) return;
  const layout = migDevicesPerGpu(product, pool.mig.profile);
  if ("problem" in layout) {
    ctx.addIssue({ code: "custom", path: ["nodePools", i, "mig", "profile"], message: layout.problem });
  } else if (pool.mig.strategy === "single" && Object.keys(layout.devices).length > 1) {
    ctx.addIssue({ code: "custom", path: ["nodePools", i, "mig", "profile"], message: `expected one profile under the single strategy (every MIG device is an "nvidia.com/gpu"), got ${Object.keys(layout.devices).join(" + ")}; use strategy mixed` });
  }
}

/** A tenant's MIG quota names profiles one of its pools advertises as their own resource (`mixed`). */
function checkMigQuotas(config: StackConfig, ctx: z.RefinementCtx): void {
  const byName = new Map(config.nodePools.map((p) => [p.name, p]));
  config.tenants.forEach((tenant, i) => {
    const offered = new Set<string>();
    for (const name of tenant.allowedPools) {
      const pool = byName.get(name);
      const product = pool?.product ?? (pool?.instanceType ? EC2_GPU_INSTANCES[pool.instanceType]?.product : undefined);
      if (pool?.mig?.strategy !== "mixed" || !product) continue;
      const layout = migDevicesPerGpu(product, pool.mig.profile);
      if ("devices" in layout) for (const profile of Object.keys(layout.devices)) offered.add(profile);
    }
    for (const profile of Object.keys(tenant.migQuota)) {
      if (!offered.has(profile)) {
        ctx.addIssue({ code: "custom", path: ["tenants", i, "migQuota", profile], message: `expected a MIG profile one of the tenant's pools advertises under the mixed strategy (${[...offered].join(", ") || "none"}), got "${profile}"` });
      }
    }
  });
}

/** kind stores are the tenant's own (endpoint and bucket); eks ones the kit creates (no endpoint). */
function checkCheckpointStores(config: StackConfig, ctx: z.RefinementCtx): void {
  config.tenants.forEach((tenant, i) => {
    const store = tenant.checkpoints;
    if (!store) return;
    const at = (key: string) => ["tenants", i, "checkpoints", key];
    if (config.target === "kind") {
      if (!store.endpoint) ctx.addIssue({ code: "custom", path: at("endpoint"), message: "expected the S3-compatible endpoint of a store you run (required on kind: the kit runs no object store)" });
      if (!store.bucket) ctx.addIssue({ code: "custom", path: at("bucket"), message: "expected the bucket of that store (required on kind)" });
      if (store.objectLockDays !== undefined) ctx.addIssue({ code: "custom", path: at("objectLockDays"), message: "expected no objectLockDays on kind (set it on the store you run)" });
      if (store.kmsKeyArn !== undefined) ctx.addIssue({ code: "custom", path: at("kmsKeyArn"), message: "expected no kmsKeyArn on kind" });
    } else if (store.endpoint !== undefined) {
      ctx.addIssue({ code: "custom", path: at("endpoint"), message: "expected no endpoint on eks (the kit creates an S3 bucket)" });
    }
    const days = store.noncurrentVersionDays;
    if (days !== undefined && days < config.policy.checkpointRetentionDays) {
      ctx.addIssue({ code: "custom", path: at("noncurrentVersionDays"), message: `expected at least gpk:policy.checkpointRetentionDays (${config.policy.checkpointRetentionDays}), got ${days}` });
    }
  });
}

/** Rules that span keys: pool sizes, instance types, references between pools and tenants. */
function checkCrossReferences(cfg: z.output<z.ZodDiscriminatedUnion<any>>, ctx: z.RefinementCtx): void {
  const config = cfg as StackConfig;
  const poolNames = new Set<string>();
  config.nodePools.forEach((pool, i) => {
    const at = (key: string) => ["nodePools", i, key];
    if (poolNames.has(pool.name)) ctx.addIssue({ code: "custom", path: at("name"), message: `expected a unique pool name, got "${pool.name}" twice` });
    poolNames.add(pool.name);
    if (!(pool.minNodes <= pool.desiredNodes && pool.desiredNodes <= pool.maxNodes)) {
      ctx.addIssue({ code: "custom", path: at("desiredNodes"), message: `expected minNodes ≤ desiredNodes ≤ maxNodes, got ${pool.minNodes} ≤ ${pool.desiredNodes} ≤ ${pool.maxNodes}` });
    }
    if (config.target === "eks") {
      if (pool.instanceType === undefined) {
        ctx.addIssue({ code: "custom", path: at("instanceType"), message: "expected an EC2 GPU instance type (required on eks)" });
        return;
      }
      const instance = EC2_GPU_INSTANCES[pool.instanceType];
      if (!instance) {
        ctx.addIssue({ code: "custom", path: at("instanceType"), message: `expected a known EC2 GPU instance type (${Object.keys(EC2_GPU_INSTANCES).join(", ")}), got "${pool.instanceType}"` });
        return;
      }
      if (pool.product !== undefined && pool.product !== instance.product) {
        ctx.addIssue({ code: "custom", path: at("product"), message: `expected "${instance.product}" (the GPU of ${pool.instanceType}), got "${pool.product}"` });
      }
      if (pool.gpusPerNode !== undefined && pool.gpusPerNode !== instance.gpus) {
        ctx.addIssue({ code: "custom", path: at("gpusPerNode"), message: `expected ${instance.gpus} (the GPUs of ${pool.instanceType}), got ${pool.gpusPerNode}` });
      }
      checkPoolMig(pool, i, instance.product, ctx);
    } else {
      if (pool.product !== undefined) checkPoolMig(pool, i, pool.product, ctx);
      if (pool.product === undefined) ctx.addIssue({ code: "custom", path: at("product"), message: "expected a simulated GPU product (required on kind)" });
      if (pool.gpusPerNode === undefined) ctx.addIssue({ code: "custom", path: at("gpusPerNode"), message: "expected a positive integer (required on kind)" });
      if (pool.instanceType !== undefined) ctx.addIssue({ code: "custom", path: at("instanceType"), message: "expected no instance type on kind (pools are simulated)" });
    }
  });
  const tenantNames = new Set<string>();
  config.tenants.forEach((tenant, i) => {
    if (tenantNames.has(tenant.name)) ctx.addIssue({ code: "custom", path: ["tenants", i, "name"], message: `expected a unique tenant name, got "${tenant.name}" twice` });
    tenantNames.add(tenant.name);
    tenant.allowedPools.forEach((pool, j) => {
      if (!poolNames.has(pool)) ctx.addIssue({ code: "custom", path: ["tenants", i, "allowedPools", j], message: `expected one of the pools ${[...poolNames].join(", ")}, got "${pool}"` });
    });
  });
  const poolByName = new Map(config.nodePools.map((p) => [p.name, p]));
  config.tenants.forEach((tenant, i) => {
    if (tenant.isolation !== "strict") return;
    tenant.allowedPools.forEach((name, j) => {
      const pool = poolByName.get(name);
      const problem = pool && strictTenantPoolProblem(pool, tenant.name);
      if (problem) ctx.addIssue({ code: "custom", path: ["tenants", i, "allowedPools", j], message: `expected a pool a strict tenant may use (dedicated to it, or whole GPUs or MIG devices without time-slicing), got "${name}": ${problem}` });
    });
  });
  config.nodePools.forEach((pool, i) => {
    if (pool.dedicatedTenant === undefined) return;
    if (!tenantNames.has(pool.dedicatedTenant)) {
      ctx.addIssue({ code: "custom", path: ["nodePools", i, "dedicatedTenant"], message: `expected one of the tenants ${[...tenantNames].join(", ")}, got "${pool.dedicatedTenant}"` });
      return;
    }
    config.tenants.forEach((tenant, t) => {
      const j = tenant.allowedPools.indexOf(pool.name);
      if (j >= 0 && tenant.name !== pool.dedicatedTenant) {
        ctx.addIssue({ code: "custom", path: ["tenants", t, "allowedPools", j], message: `expected a pool not dedicated to another tenant, got "${pool.name}" (dedicated to "${pool.dedicatedTenant}")` });
      }
    });
  });
  checkMigQuotas(config, ctx);
  checkCheckpointStores(config, ctx);
  checkServingReferences(
    config,
    ctx,
    (pool) => pool.gpusPerNode ?? (pool.instanceType ? EC2_GPU_INSTANCES[pool.instanceType]?.gpus : undefined),
    (model) => findModel(model) !== undefined,
  );
  checkRayConfig(config, ctx);
}
