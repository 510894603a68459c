/**
 * `gpk:ray`: one KubeRay cluster for a tenant, with a GPU worker group per pool it uses.
 * Defaults come from components/ray-spec.ts (RAY_DEFAULTS); the rules that span sections
 * are in ./config-ray-checks.ts.
 */
import { z } from "zod";
import { RAY_OPERATOR_INSTALLS } from "../components/ray-crds";
import { RAY_JOB_DEFAULTS, RAY_JOB_SUBMISSION_MODES } from "../components/ray-job";
import { RAY_DEFAULTS } from "../components/ray-spec";
import * as base from "./config-parts";

const secretKeyRef = () =>
  z.object({
    /** Secret name, in the cluster's namespace. */
    name: base.dnsLabel(),
    /** Key of the password inside the Secret. */
    key: z.string(base.expect("a Secret key")).regex(/^[-._a-zA-Z0-9]+$/, base.expect("a Secret key (letters, digits, '-', '_', '.')")),
  }).strict();

function buildRaySchema() {
  const workerGroup = z.object({
    /** Pool the group runs on; the tenant must be allowed on it. */
    pool: base.dnsLabel(),
    /** Worker group name. Default: the pool name. */
    groupName: base.dnsLabel().optional(),
    /** GPUs per worker pod. Default: the pool's GPUs per node (one worker per node). */
    gpusPerWorker: base.positiveInt().optional(),
    /** CPU per worker (requests = limits). */
    cpu: base.quantity(),
    /** Memory per worker (requests = limits). */
    memory: base.quantity(),
    /** Fewest workers kept. Default 0. */
    minReplicas: base.nonNegativeInt().default(RAY_DEFAULTS.worker.minReplicas),
    /** Most workers the autoscaler may create. */
    maxReplicas: base.positiveInt(),
    /** Idle seconds before a worker is removed. Default 600. */
    idleTimeoutSeconds: base.positiveInt().default(RAY_DEFAULTS.worker.idleTimeoutSeconds),
  }).strict();

  const redis = z.object({
    /** Deploy a Redis StatefulSet beside the cluster. Default false. */
    deploy: z.boolean(base.expect("true or false")).default(false),
    /** `host:port` of an existing Redis (when `deploy` is false). */
    address: z.string(base.expect("a host:port")).regex(/^[^\s:]+:[0-9]{1,5}$/, base.expect("a host:port such as \"redis.example:6379\"")).optional(),
    /** Secret holding the Redis password; create it in the tenant namespace before `pulumi up`. */
    passwordSecret: secretKeyRef(),
    /** Volume of the deployed Redis. Default "8Gi". */
    storage: base.quantity().default(RAY_DEFAULTS.redis.storage),
    /** StorageClass of that volume. Default: the cluster's default class. */
    storageClassName: base.dnsLabel().optional(),
  }).strict();

  const job = z.object({
    /** RayJob name (DNS-1035 label, at most 47 characters). */
    name: base.dnsLabel(),
    /** Command run on the cluster, e.g. `python train.py`. */
    entrypoint: z.string(base.expect("a command")).min(1, base.expect("a command")),
    /** Ray runtime environment (`working_dir`, `env_vars`, `pip`, …). Default: none. */
    runtimeEnv: z.record(z.string(), z.unknown(), base.expect("a runtime environment object")).optional(),
    /** `HTTPMode` (the operator submits) or `InteractiveMode`. Default "HTTPMode". */
    submissionMode: base.oneOf([...RAY_JOB_SUBMISSION_MODES]).default(RAY_JOB_DEFAULTS.submissionMode),
    /** Seconds before KubeRay stops the job. Default 86400. */
    activeDeadlineSeconds: base.positiveInt().default(RAY_JOB_DEFAULTS.activeDeadlineSeconds),
    /** Resubmissions after a failure; 0 on the tenant's shared cluster. Default 0. */
    backoffLimit: base.nonNegativeInt().default(RAY_JOB_DEFAULTS.backoffLimit),
  }).strict();

  return z.object({
    /** Deploy the cluster. Default true. */
    enabled: z.boolean(base.expect("true or false")).default(true),
    /** RayCluster name. Default "ray". */
    name: base.dnsLabel().default(RAY_DEFAULTS.name),
    /** Tenant whose namespace the cluster runs in. */
    tenant: base.dnsLabel(),
    /** Head pod; it runs no Ray work. Default cpu "4", memory "16Gi". */
    head: z.object({
      cpu: base.quantity().default(RAY_DEFAULTS.head.cpu),
      memory: base.quantity().default(RAY_DEFAULTS.head.memory),
    }).strict().prefault({}),
    workerGroups: z.array(workerGroup, base.expect("a list of worker groups")).min(1, base.expect("at least one worker group")),
    /** Autoscaler v2. Default upscalingMode "Conservative", idleTimeoutSeconds 300. */
    autoscaler: z.object({
      upscalingMode: base.oneOf(["Conservative", "Default", "Aggressive"]).default(RAY_DEFAULTS.autoscaler.upscalingMode),
      idleTimeoutSeconds: base.positiveInt().default(RAY_DEFAULTS.autoscaler.idleTimeoutSeconds),
    }).strict().prefault({}),
    /** GCS fault tolerance on Redis. Default off. */
    gcsFaultTolerance: z.object({
      enabled: z.boolean(base.expect("true or false")).default(false),
      redis: redis.optional(),
      /** Key prefix of this cluster in Redis. Default: the RayCluster's UID (set by KubeRay). */
      externalStorageNamespace: z.string().min(1).optional(),
    }).strict().prefault({}),
    /**
     * How KubeRay gets to the cluster: "chart" (the pinned operator chart), "crds-only" (the
     * pinned CRDs alone; nothing reconciles RayClusters) or "none". Default "chart".
     */
    operator: base.oneOf(RAY_OPERATOR_INSTALLS as ["chart", "crds-only", "none"]).default("chart"),
    /** Pause before Ray retries a failed task (`RAY_task_retry_delay_ms`). Default 5000. */
    taskRetryDelayMs: base.nonNegativeInt().default(RAY_DEFAULTS.taskRetryDelayMs),
    /** RayJobs submitted to this cluster. Default none. */
    jobs: z.array(job, base.expect("a list of jobs")).default([]),
  }).strict();
}

/** The `gpk:ray` section; optional (no key, no Ray cluster). */
export const raySchema = buildRaySchema().optional();

export type RayConfig = z.output<ReturnType<typeof buildRaySchema>>;
