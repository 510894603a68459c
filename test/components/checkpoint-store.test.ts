import { describe, expect, it } from "vitest";
import {
  CHECKPOINT_DATA_ACTIONS, checkpointBucketPolicy, checkpointRolePolicy, checkpointStorageUri, checkpointStoreSummary, defaultCheckpointBucket,
} from "../../components/checkpoint-store";

describe("CheckpointStore's pure parts", () => {
  it("gives Ray an s3 URI, with pyarrow's endpoint_override and scheme for a store the tenant runs", () => {
    expect(checkpointStorageUri({ bucket: "ckpt" })).toBe("s3://ckpt/ray/");
    expect(checkpointStorageUri({ bucket: "ckpt", prefix: "runs/", endpoint: "http://minio.storage:9000" })).toBe("s3://ckpt/runs/?endpoint_override=minio.storage:9000&scheme=http");
    expect(checkpointStoreSummary({ target: "kind", tenant: "team-a", bucket: "ckpt", endpoint: "https://s3.lab:443/", noncurrentVersionDays: 30 })).toMatchObject({ managed: false, storageUri: "s3://ckpt/ray/?endpoint_override=s3.lab&scheme=https", noncurrentVersionDays: 30, objectLockDays: null });
  });

  it("names the default bucket within S3's 63 characters", () => {
    expect(defaultCheckpointBucket("gpk-prod", "research")).toBe("gpk-gpk-prod-research-checkpoints");
    expect(defaultCheckpointBucket("c".repeat(40), "t".repeat(40))).toHaveLength(63);
  });

  it("fences data to the role, denies plain HTTP, and grants the role its bucket alone", () => {
    const policy = checkpointBucketPolicy("ckpt", "arn:aws:iam::1:role/r");
    expect(policy.Statement.every((s) => s.Effect === "Deny")).toBe(true);
    expect(policy.Statement[1]).toMatchObject({ Action: [...CHECKPOINT_DATA_ACTIONS], Condition: { StringNotEquals: { "aws:PrincipalArn": "arn:aws:iam::1:role/r" } } });
    const resources = checkpointRolePolicy("ckpt").Statement.flatMap((s) => s.Resource);
    expect(resources).toEqual(["arn:aws:s3:::ckpt", "arn:aws:s3:::ckpt/*"]);
    expect(checkpointRolePolicy("ckpt", "arn:aws:kms:us-east-1:1:key/k").Statement.at(-1)).toEqual({ Sid: "Kms", Effect: "Allow", Action: ["kms:Decrypt", "kms:GenerateDataKey"], Resource: ["arn:aws:kms:us-east-1:1:key/k"] });
  });
});
