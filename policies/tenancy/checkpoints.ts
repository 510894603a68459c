/**
 * Tenant checkpoint buckets (components/checkpoint-store.ts) on eks: private, TLS-only and
 * encrypted; reachable by the tenant's own role alone; and durable: every version kept for
 * `checkpointRetentionDays`, torn multipart uploads aborted. A store the tenant runs itself
 * (kind, `managed: false`) is outside the stack and not checked.
 */
import type { StackValidationPolicy } from "@pulumi/policy";
import { configSchema, readConfig } from "../lib/config";
import type { Json } from "../lib/k8s";
import { components, ofTypes, type Found } from "../lib/stack";

const S3 = {
  publicAccessBlock: "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
  encryption: "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
  policy: "aws:s3/bucketPolicy:BucketPolicy",
  versioning: "aws:s3/bucketVersioning:BucketVersioning",
  lifecycle: "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
} as const;
const GRANTS = ["aws:iam/rolePolicy:RolePolicy", "aws:iam/policy:Policy", "aws:iam/userPolicy:UserPolicy", "aws:iam/groupPolicy:GroupPolicy"];
const PUBLIC_ACCESS_KEYS = ["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"] as const;

type Statement = { Effect?: string; Action?: string | string[]; Condition?: Record<string, Record<string, unknown>> };

/** A policy document's statements; undefined while the document is not known yet (an output at preview). */
function statements(doc: unknown): Statement[] | undefined {
  if (doc === undefined || doc === null) return undefined;
  try {
    const parsed = typeof doc === "string" ? JSON.parse(doc) : doc;
    const list = (parsed as { Statement?: Statement | Statement[] }).Statement;
    return Array.isArray(list) ? list : list ? [list] : [];
  } catch {
    return [];
  }
}

const actions = (s: Statement) => (Array.isArray(s.Action) ? s.Action : s.Action ? [s.Action] : []);

function managedStores(args: { resources: Parameters<typeof components>[0] }) {
  return components(args.resources, "checkpointStore").filter((s) => s.props.managed);
}

/** The resources of one S3 type that configure the bucket. */
function forBucket(args: { resources: Parameters<typeof ofTypes>[0] }, type: string, bucket: string): Found<Json>[] {
  return ofTypes(args.resources, type).filter((r) => r.props.bucket === bucket);
}

export const checkpointBucketPrivate: StackValidationPolicy = {
  name: "checkpoint-bucket-private",
  description: "Checks whether every tenant checkpoint bucket blocks all public access, refuses requests without TLS, and encrypts with SSE-KMS.",
  enforcementLevel: "mandatory",
  validateStack: (args, reportViolation) => {
    for (const store of managedStores(args)) {
      const { bucket, tenant } = store.props;
      const where = `Checkpoint bucket "${bucket}" of tenant "${tenant}"`;
      const blocks = forBucket(args, S3.publicAccessBlock, bucket);
      const open = PUBLIC_ACCESS_KEYS.filter((k) => !blocks.some((b) => b.props[k] === true));
      if (open.length > 0) reportViolation(`${where} has no public-access block setting ${open.join(", ")} to true; add an aws.s3.BucketPublicAccessBlock with all four on.`, store.urn);
      const kms = forBucket(args, S3.encryption, bucket).some((e) => (e.props.rules ?? []).some((r: Json) => r.applyServerSideEncryptionByDefault?.sseAlgorithm === "aws:kms"));
      if (!kms) reportViolation(`${where} is not encrypted with SSE-KMS; add a server-side encryption configuration with sseAlgorithm "aws:kms".`, store.urn);
      const policies = forBucket(args, S3.policy, bucket).map((p) => statements(p.props.policy));
      if (policies.some((p) => p === undefined)) continue; // not known until the role exists
      const tlsOnly = policies.some((p) => p!.some((s) => s.Effect === "Deny" && actions(s).includes("s3:*") && String(s.Condition?.Bool?.["aws:SecureTransport"]) === "false"));
      if (!tlsOnly) reportViolation(`${where} accepts requests without TLS; its bucket policy must deny s3:* when aws:SecureTransport is false.`, store.urn);
    }
  },
};

export const checkpointBucketTenantOnly: StackValidationPolicy = {
  name: "checkpoint-bucket-tenant-only",
  description: "Checks whether a tenant checkpoint bucket's policy grants nothing and denies data access to every principal but the tenant's role, and whether no IAM policy outside the tenant's store names the bucket.",
  enforcementLevel: "mandatory",
  validateStack: (args, reportViolation) => {
    const stores = managedStores(args);
    for (const store of stores) {
      const { bucket, tenant } = store.props;
      const where = `Checkpoint bucket "${bucket}" of tenant "${tenant}"`;
      const policies = forBucket(args, S3.policy, bucket);
      for (const p of policies) {
        const list = statements(p.props.policy);
        if (list === undefined) continue;
        if (list.some((s) => s.Effect === "Allow")) reportViolation(`${where} has a bucket policy with an Allow statement; grants belong in the tenant role's own policy, the bucket policy only denies.`, p.urn);
        const fenced = list.some((s) => s.Effect === "Deny" && actions(s).includes("s3:GetObject") && s.Condition?.StringNotEquals?.["aws:PrincipalArn"] !== undefined);
        if (!fenced) reportViolation(`${where} does not deny data access to principals other than the tenant's role; deny s3:GetObject, s3:PutObject, … unless aws:PrincipalArn is that role.`, p.urn);
      }
      if (policies.length === 0) reportViolation(`${where} has no bucket policy; add one that denies non-TLS requests and other principals' data access.`, store.urn);
      // IAM grants naming the bucket: only the ones the tenant's store creates for its own role.
      const arn = `arn:aws:s3:::${bucket}`;
      for (const grant of ofTypes(args.resources, ...GRANTS)) {
        const text = typeof grant.props.policy === "string" ? grant.props.policy : JSON.stringify(grant.props.policy ?? "");
        if (!text.includes(`"${arn}"`) && !text.includes(`"${arn}/*"`)) continue;
        const ownedByStore = grant.urn.includes(`gpk:index:CheckpointStore$`) && grant.name.startsWith(`${store.name}-`);
        if (!ownedByStore) reportViolation(`IAM policy "${grant.name}" grants access to checkpoint bucket "${bucket}" of tenant "${tenant}"; only that tenant's store role may.`, grant.urn);
      }
    }
  },
};

export const checkpointBucketDurable: StackValidationPolicy = {
  name: "checkpoint-bucket-durable",
  description: "Checks whether every tenant checkpoint bucket keeps versions, keeps noncurrent versions at least `checkpointRetentionDays`, and aborts incomplete multipart uploads.",
  enforcementLevel: "mandatory",
  configSchema: configSchema("checkpointRetentionDays"),
  validateStack: (args, reportViolation) => {
    const { checkpointRetentionDays } = readConfig(args, "checkpointRetentionDays");
    for (const store of managedStores(args)) {
      const { bucket, tenant } = store.props;
      const where = `Checkpoint bucket "${bucket}" of tenant "${tenant}"`;
      const versioned = forBucket(args, S3.versioning, bucket).some((v) => v.props.versioningConfiguration?.status === "Enabled");
      if (!versioned) reportViolation(`${where} does not keep versions, so an overwrite or delete cannot be undone; enable versioning.`, store.urn);
      const rules: Json[] = forBucket(args, S3.lifecycle, bucket).flatMap((l) => (l.props.rules ?? []).filter((r: Json) => r.status === "Enabled"));
      const expiries = rules.map((r) => r.noncurrentVersionExpiration?.noncurrentDays).filter((d): d is number => typeof d === "number");
      const shortest = expiries.length > 0 ? Math.min(...expiries) : undefined;
      if (shortest !== undefined && shortest < checkpointRetentionDays) {
        reportViolation(`${where} expires noncurrent versions after ${shortest} days, less than checkpointRetentionDays (${checkpointRetentionDays}); raise noncurrentVersionDays.`, store.urn);
      } else if (shortest === undefined) {
        reportViolation(`${where} has no rule expiring noncurrent versions, so replaced checkpoints pile up unbounded; add one after ${checkpointRetentionDays} days or more.`, store.urn);
      }
      if (!rules.some((r) => typeof r.abortIncompleteMultipartUpload?.daysAfterInitiation === "number")) {
        reportViolation(`${where} keeps the parts of multipart uploads that never completed (torn checkpoint writes); add a rule aborting them after a day.`, store.urn);
      }
    }
  },
};

export const checkpointPolicies = [checkpointBucketPrivate, checkpointBucketTenantOnly, checkpointBucketDurable];
