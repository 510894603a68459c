/**
 * Pure functions that render a KubeRay `ray.io/v1` RayJob against the tenant's RayCluster
 * (`clusterSelector`), fields as in data/schemas/kuberay-v1.7.0/ray.io_rayjobs.yaml. The
 * rules are KubeRay v1.7.0's own (ray-operator/controllers/ray/utils/validation.go,
 * `ValidateRayJobSpec`; constant.go `MaxRayJobNameLength` = 47): on an existing cluster it
 * refuses `backoffLimit` > 0 and SidecarMode, and a job whose cluster it does not shut down
 * takes no `ttlSecondsAfterFinished`. The operator would refuse such a job at reconcile time,
 * after `pulumi up` succeeded; the kit refuses it in the stack config.
 */
import { stringify } from "yaml";
import { KIT_LABELS, MANAGED_BY } from "../gpu";

export const RAY_JOB_DEFAULTS = {
  /**
   * The operator submits the job to the head's dashboard itself, from its own namespace:
   * the one path the head's NetworkPolicy admits (port 8265 from the operator). K8sJobMode's
   * submitter pod would need its own way through the tenant's default-deny policies and a
   * `restricted` pod template; it is not offered.
   */
  submissionMode: "HTTPMode",
  /**
   * Seconds a job may run before KubeRay stops it. A job without a deadline holds the
   * tenant's GPUs until someone notices; a day is long enough for a batch job and short
   * enough that a hung one is reclaimed. Set it per job for longer runs.
   */
  activeDeadlineSeconds: 86_400,
  backoffLimit: 0,
} as const;

/** `MaxRayJobNameLength` (KubeRay v1.7.0 utils/constant.go). */
export const MAX_RAY_JOB_NAME_LENGTH = 47;
/** Submission modes offered (SidecarMode needs a cluster of its own; K8sJobMode: see the default). */
export const RAY_JOB_SUBMISSION_MODES = ["HTTPMode", "InteractiveMode"] as const;
export type RayJobSubmissionMode = (typeof RAY_JOB_SUBMISSION_MODES)[number];

/** One job submitted to the tenant's RayCluster. */
export interface RayJobArgs {
  /** RayJob name, a DNS-1035 label of at most 47 characters. */
  name: string;
  /** Command the submitter runs on the cluster, e.g. `python train.py`. */
  entrypoint: string;
  /** Ray runtime environment (`working_dir`, `env_vars`, `pip`, …), rendered as `runtimeEnvYAML`. Default: none. */
  runtimeEnv?: Record<string, unknown>;
  /** How KubeRay submits the job: `HTTPMode` (the operator) or `InteractiveMode` (you, with `ray job submit`). Default `HTTPMode`. */
  submissionMode?: RayJobSubmissionMode;
  /** Seconds before KubeRay stops the job. Default 86400. */
  activeDeadlineSeconds?: number;
  /** Resubmissions after a failure; KubeRay allows only 0 on an existing cluster. Default 0. */
  backoffLimit?: number;
}

export interface RayJobProblem {
  /** Key below the job, e.g. `backoffLimit`. */
  key: string;
  message: string;
}

/** What KubeRay's validation would refuse in a job against an existing cluster. */
export function rayJobProblems(job: RayJobArgs): RayJobProblem[] {
  const problems: RayJobProblem[] = [];
  if (job.name.length > MAX_RAY_JOB_NAME_LENGTH || !/^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(job.name)) {
    problems.push({ key: "name", message: `expected a DNS-1035 label of at most ${MAX_RAY_JOB_NAME_LENGTH} characters (KubeRay's limit), got "${job.name}"` });
  }
  if ((job.backoffLimit ?? 0) > 0) {
    problems.push({ key: "backoffLimit", message: `expected 0: KubeRay refuses backoffLimit > 0 for a job on an existing RayCluster (clusterSelector), got ${job.backoffLimit}` });
  }
  if (!(RAY_JOB_SUBMISSION_MODES as readonly string[]).includes(job.submissionMode ?? RAY_JOB_DEFAULTS.submissionMode)) {
    problems.push({ key: "submissionMode", message: `expected one of ${RAY_JOB_SUBMISSION_MODES.join(", ")} (SidecarMode needs a cluster of its own; K8sJobMode's submitter pod has no path to the head through the tenant's network policies), got "${job.submissionMode}"` });
  }
  if (job.activeDeadlineSeconds !== undefined && !(Number.isInteger(job.activeDeadlineSeconds) && job.activeDeadlineSeconds > 0)) {
    problems.push({ key: "activeDeadlineSeconds", message: `expected a positive integer, got ${job.activeDeadlineSeconds}` });
  }
  return problems;
}

/** The RayJob `spec` of one job on the named cluster. */
export function rayJobSpec(clusterName: string, job: RayJobArgs): Record<string, unknown> {
  return {
    entrypoint: job.entrypoint,
    ...(job.runtimeEnv && Object.keys(job.runtimeEnv).length > 0 ? { runtimeEnvYAML: stringify(job.runtimeEnv) } : {}),
    submissionMode: job.submissionMode ?? RAY_JOB_DEFAULTS.submissionMode,
    clusterSelector: { "ray.io/cluster": clusterName },
    activeDeadlineSeconds: job.activeDeadlineSeconds ?? RAY_JOB_DEFAULTS.activeDeadlineSeconds,
    backoffLimit: job.backoffLimit ?? RAY_JOB_DEFAULTS.backoffLimit,
    // The cluster is the tenant's and outlives the job: KubeRay must not delete it.
    shutdownAfterJobFinishes: false,
  };
}

/** The whole RayJob object. */
export function rayJobObject(clusterName: string, namespace: string, job: RayJobArgs) {
  return {
    apiVersion: "ray.io/v1",
    kind: "RayJob",
    metadata: { name: job.name, namespace, labels: { [KIT_LABELS.tenant]: namespace, [KIT_LABELS.managedBy]: MANAGED_BY } },
    spec: rayJobSpec(clusterName, job),
  };
}
