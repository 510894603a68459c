/**
 * `gpk:index:CheckpointStore`: one tenant's checkpoint storage (`gpk:tenants[].checkpoints`).
 *
 * On eks an S3 bucket that keeps every version (so an overwrite or delete can be undone),
 * optionally under Object Lock (governance mode; S3 allows it only at bucket creation), SSE-KMS
 * with a bucket key, all four public-access blocks, a bucket policy that refuses plain HTTP
 * and data access by any principal but the tenant's role, and lifecycle rules that expire
 * noncurrent versions after N days and abort multipart uploads left open for a day (the torn
 * uploads). The tenant's Ray pods get that role through EKS Pod Identity.
 *
 * On kind the kit runs no object store: the tenant names an S3-compatible one it runs (MinIO,
 * Ceph RGW …) with `endpoint` and `bucket`, and only the Ray wiring is rendered.
 *
 * Ray 2.55 has no cluster-wide storage setting any more (`ray.init(storage=)` is gone after 2.47;
 * Train V2's RunConfig ignores `RAY_STORAGE`: ray 2.55.1 python/ray/train/v2/api/config.py), so
 * the URI reaches the Ray pods as `GPK_CHECKPOINT_STORAGE`, for
 * `RunConfig(storage_path=os.environ["GPK_CHECKPOINT_STORAGE"])`.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { KIT_LABELS, MANAGED_BY } from "../gpu";
import type { CheckpointStoreSummary, Target } from "./summaries";

/** The environment variable that carries a tenant's checkpoint URI into its Ray pods. */
export const CHECKPOINT_STORAGE_ENV = "GPK_CHECKPOINT_STORAGE";

/** Multipart uploads left open this long are aborted: their parts are a torn write. */
export const ABORT_INCOMPLETE_UPLOAD_DAYS = 1;

export interface CheckpointStoreArgs {
  /** Where the stack runs. Required. */
  target: Target;
  /** Tenant (and namespace) the store belongs to. Required. */
  tenant: string;
  /** Bucket name. Required (config defaults it on eks to `gpk-<cluster>-<tenant>-checkpoints`). */
  bucket: string;
  /** Key prefix of the tenant's runs inside the bucket. Default `ray/`. */
  prefix?: string;
  /** kind: the S3-compatible endpoint of the store the tenant runs. Required on kind, refused on eks. */
  endpoint?: string;
  /** Days a replaced or deleted version is kept. Required: Platform passes `gpk:policy.checkpointRetentionDays` unless the tenant names more. */
  noncurrentVersionDays: number;
  /** Object Lock governance retention in days (eks; set at bucket creation only). Default: no Object Lock. */
  objectLockDays?: number;
  /** KMS key for SSE-KMS (eks). Default: the AWS-managed key `aws/s3`. */
  kmsKeyArn?: string;
  /** eks: the EKS cluster, for the Pod Identity associations. Required on eks. */
  clusterName?: pulumi.Input<string>;
  /** Service accounts of the tenant's Ray pods that get the role (eks). Default none. */
  serviceAccounts?: string[];
}

export const CHECKPOINT_DEFAULTS = { prefix: "ray/" } as const;

/** The bucket a tenant's checkpoints go to on eks when the config names none. */
export function defaultCheckpointBucket(clusterName: string, tenant: string): string {
  return `gpk-${clusterName}-${tenant}-checkpoints`.slice(0, 63);
}

/**
 * The URI Ray's RunConfig(storage_path) takes: `s3://bucket/prefix`, with the endpoint of an
 * S3-compatible store in pyarrow's query form (`endpoint_override`, `scheme`: apache/arrow
 * cpp/src/arrow/filesystem/s3fs.cc S3Options::FromUri), which Ray hands to pyarrow unchanged.
 */
export function checkpointStorageUri(args: Pick<CheckpointStoreArgs, "bucket" | "prefix" | "endpoint">): string {
  const base = `s3://${args.bucket}/${args.prefix ?? CHECKPOINT_DEFAULTS.prefix}`;
  if (!args.endpoint) return base;
  const url = new URL(args.endpoint);
  return `${base}?endpoint_override=${url.host}&scheme=${url.protocol.replace(":", "")}`;
}

/** The four public-access blocks, all on. */
export const PUBLIC_ACCESS_BLOCK = { blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true } as const;

/** Object-level actions: only the tenant's role may perform them (the bucket policy denies the rest). */
export const CHECKPOINT_DATA_ACTIONS = [
  "s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion",
  "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts", "s3:ListBucket", "s3:ListBucketVersions", "s3:ListBucketMultipartUploads",
] as const;

/**
 * The bucket policy: deny any request not over TLS (aws:SecureTransport), and deny data access
 * to every principal but the tenant's role. Bucket configuration stays with IAM, so the
 * deployer can still manage the bucket. No Allow: grants live in the role's own policy.
 */
export function checkpointBucketPolicy(bucket: string, roleArn: string) {
  const resources = [`arn:aws:s3:::${bucket}`, `arn:aws:s3:::${bucket}/*`];
  return {
    Version: "2012-10-17",
    Statement: [
      { Sid: "DenyInsecureTransport", Effect: "Deny", Principal: "*", Action: "s3:*", Resource: resources, Condition: { Bool: { "aws:SecureTransport": "false" } } },
      { Sid: "DenyDataToOtherPrincipals", Effect: "Deny", Principal: "*", Action: [...CHECKPOINT_DATA_ACTIONS], Resource: resources, Condition: { StringNotEquals: { "aws:PrincipalArn": roleArn } } },
    ],
  };
}

/** What the tenant's role may do: its bucket's data, and the KMS key's data keys when a customer key is named. */
export function checkpointRolePolicy(bucket: string, kmsKeyArn?: string) {
  return {
    Version: "2012-10-17",
    Statement: [
      { Sid: "Bucket", Effect: "Allow", Action: ["s3:ListBucket", "s3:ListBucketVersions", "s3:ListBucketMultipartUploads", "s3:GetBucketLocation"], Resource: [`arn:aws:s3:::${bucket}`] },
      { Sid: "Objects", Effect: "Allow", Action: ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"], Resource: [`arn:aws:s3:::${bucket}/*`] },
      ...(kmsKeyArn ? [{ Sid: "Kms", Effect: "Allow", Action: ["kms:Decrypt", "kms:GenerateDataKey"], Resource: [kmsKeyArn] }] : []),
    ],
  };
}

/** Trust policy of a role EKS Pod Identity hands to pods (AWS EKS user guide, "pod-id-role"). */
export function podIdentityTrustPolicy() {
  return {
    Version: "2012-10-17",
    Statement: [{ Effect: "Allow", Principal: { Service: "pods.eks.amazonaws.com" }, Action: ["sts:AssumeRole", "sts:TagSession"] }],
  };
}

/** Lifecycle: expire noncurrent versions after N days; abort multipart uploads open for a day. */
export function checkpointLifecycleRules(noncurrentVersionDays: number) {
  return [
    { id: "expire-noncurrent-versions", status: "Enabled", filter: {}, noncurrentVersionExpiration: { noncurrentDays: noncurrentVersionDays } },
    { id: "abort-incomplete-multipart-uploads", status: "Enabled", filter: {}, abortIncompleteMultipartUpload: { daysAfterInitiation: ABORT_INCOMPLETE_UPLOAD_DAYS } },
  ];
}

/** SSE-KMS by default, with an S3 bucket key (fewer KMS calls); the AWS-managed key unless one is named. */
export function checkpointEncryptionRule(kmsKeyArn?: string) {
  return { applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms", ...(kmsKeyArn ? { kmsMasterKeyId: kmsKeyArn } : {}) }, bucketKeyEnabled: true };
}

export function checkpointStoreSummary(args: CheckpointStoreArgs): CheckpointStoreSummary {
  return {
    target: args.target,
    tenant: args.tenant,
    bucket: args.bucket,
    storageUri: checkpointStorageUri(args),
    managed: args.target === "eks",
    noncurrentVersionDays: args.noncurrentVersionDays,
    objectLockDays: args.objectLockDays ?? null,
  };
}

export class CheckpointStore extends pulumi.ComponentResource {
  public readonly summary: CheckpointStoreSummary;
  /** The tenant's role (eks). */
  public readonly role?: aws.iam.Role;

  constructor(name: string, args: CheckpointStoreArgs, opts?: pulumi.ComponentResourceOptions) {
    super("gpk:index:CheckpointStore", name, {}, opts);
    this.summary = checkpointStoreSummary(args);
    if (args.target === "kind") {
      if (!args.endpoint) throw new pulumi.InputPropertyError({ propertyPath: "endpoint", reason: "`endpoint` is required on kind: the kit runs no object store there." });
      this.registerOutputs({ ...this.summary });
      return;
    }
    if (args.endpoint) throw new pulumi.InputPropertyError({ propertyPath: "endpoint", reason: "`endpoint` is for kind; on eks the store is an S3 bucket the kit creates." });
    if (args.clusterName === undefined) throw new pulumi.InputPropertyError({ propertyPath: "clusterName", reason: "`clusterName` is required on eks (Pod Identity)." });
    const child = { parent: this };
    const tags = { [KIT_LABELS.tenant]: args.tenant, [KIT_LABELS.managedBy]: MANAGED_BY };
    const bucket = new aws.s3.Bucket(name, {
      bucket: args.bucket,
      // Object Lock can only be switched on when the bucket is created (S3 user guide, "Object Lock").
      objectLockEnabled: args.objectLockDays !== undefined,
      tags,
    }, child);
    // The name as a plain string (known at preview, so the policy packs can match these to it),
    // with the dependency on the bucket kept explicitly.
    const bucketName = args.bucket;
    const onBucket = { ...child, dependsOn: [bucket] };
    new aws.s3.BucketPublicAccessBlock(`${name}-public-access`, { bucket: bucketName, ...PUBLIC_ACCESS_BLOCK }, onBucket);
    new aws.s3.BucketVersioning(`${name}-versioning`, { bucket: bucketName, versioningConfiguration: { status: "Enabled" } }, onBucket);
    new aws.s3.BucketServerSideEncryptionConfiguration(`${name}-encryption`, { bucket: bucketName, rules: [checkpointEncryptionRule(args.kmsKeyArn)] }, onBucket);
    new aws.s3.BucketLifecycleConfiguration(`${name}-lifecycle`, { bucket: bucketName, rules: checkpointLifecycleRules(this.summary.noncurrentVersionDays) }, onBucket);
    if (args.objectLockDays !== undefined) {
      new aws.s3.BucketObjectLockConfiguration(`${name}-object-lock`, {
        bucket: bucketName,
        objectLockEnabled: "Enabled",
        rule: { defaultRetention: { mode: "GOVERNANCE", days: args.objectLockDays } },
      }, onBucket);
    }
    this.role = new aws.iam.Role(`${name}-role`, {
      assumeRolePolicy: JSON.stringify(podIdentityTrustPolicy()),
      description: `Checkpoint store of tenant ${args.tenant}: bucket ${args.bucket} only`,
      tags,
    }, child);
    new aws.iam.RolePolicy(`${name}-role`, { role: this.role.id, policy: JSON.stringify(checkpointRolePolicy(args.bucket, args.kmsKeyArn)) }, child);
    new aws.s3.BucketPolicy(`${name}-policy`, { bucket: bucketName, policy: this.role.arn.apply((arn) => JSON.stringify(checkpointBucketPolicy(args.bucket, arn))) }, onBucket);
    for (const serviceAccount of args.serviceAccounts ?? []) {
      new aws.eks.PodIdentityAssociation(`${name}-${serviceAccount}`, {
        clusterName: args.clusterName,
        namespace: args.tenant,
        serviceAccount,
        roleArn: this.role.arn,
        tags,
      }, child);
    }
    this.registerOutputs({ ...this.summary });
  }
}
