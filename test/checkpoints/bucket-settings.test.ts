/**
 * The checkpoint bucket settings the prod stack renders (CheckpointStore, under Pulumi's mock
 * runtime), applied through the AWS SDK to a real S3-protocol server (moto) and read back:
 * Object Lock at creation, versioning, the public-access block, SSE-KMS with a bucket key,
 * the lifecycle rules and the bucket policy. moto stores encryption and policies without
 * enforcing them (test/checkpoints/s3-peer.ts), so this checks that S3 accepts the shapes.
 */
import {
  CreateBucketCommand, GetBucketEncryptionCommand, GetBucketLifecycleConfigurationCommand, GetBucketPolicyCommand, GetBucketVersioningCommand,
  GetObjectLockConfigurationCommand, GetPublicAccessBlockCommand, PutBucketEncryptionCommand, PutBucketLifecycleConfigurationCommand,
  PutBucketPolicyCommand, PutBucketVersioningCommand, PutObjectLockConfigurationCommand, PutPublicAccessBlockCommand, S3Client,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderStack, type RenderedStack } from "../../cli/render";
import { one } from "../render/helpers";
import { startS3Peer, TEST_CREDENTIALS, type S3Peer } from "./s3-peer";

let peer: S3Peer;
let s3: S3Client;
let stack: RenderedStack;
const input = (type: string, name: string) => one(stack, type, name).inputs as any;

beforeAll(async () => {
  [peer, stack] = await Promise.all([startS3Peer(), renderStack("prod")]);
  s3 = new S3Client({ endpoint: peer.endpoint, forcePathStyle: true, region: "us-east-1", credentials: { accessKeyId: TEST_CREDENTIALS.AWS_ACCESS_KEY_ID, secretAccessKey: TEST_CREDENTIALS.AWS_SECRET_ACCESS_KEY } });
}, 240_000);

afterAll(async () => {
  s3?.destroy();
  await peer?.close();
});

describe("the rendered checkpoint bucket on a real S3-protocol server", () => {
  it("takes every setting and reads each back as rendered", async () => {
    const name = "gpk-checkpoints-research";
    const bucket = input("aws:s3/bucket:Bucket", name);
    const Bucket = bucket.bucket as string;
    await s3.send(new CreateBucketCommand({ Bucket, ObjectLockEnabledForBucket: bucket.objectLockEnabled }));

    const block = input("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", `${name}-public-access`);
    const PublicAccessBlockConfiguration = { BlockPublicAcls: block.blockPublicAcls, BlockPublicPolicy: block.blockPublicPolicy, IgnorePublicAcls: block.ignorePublicAcls, RestrictPublicBuckets: block.restrictPublicBuckets };
    await s3.send(new PutPublicAccessBlockCommand({ Bucket, PublicAccessBlockConfiguration }));
    expect((await s3.send(new GetPublicAccessBlockCommand({ Bucket }))).PublicAccessBlockConfiguration).toEqual(PublicAccessBlockConfiguration);

    const versioning = input("aws:s3/bucketVersioning:BucketVersioning", `${name}-versioning`);
    await s3.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: versioning.versioningConfiguration.status } }));
    expect((await s3.send(new GetBucketVersioningCommand({ Bucket }))).Status).toBe("Enabled");

    const encryption = input("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", `${name}-encryption`);
    const Rules = encryption.rules.map((r: any) => ({ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: r.applyServerSideEncryptionByDefault.sseAlgorithm }, BucketKeyEnabled: r.bucketKeyEnabled }));
    await s3.send(new PutBucketEncryptionCommand({ Bucket, ServerSideEncryptionConfiguration: { Rules } }));
    expect((await s3.send(new GetBucketEncryptionCommand({ Bucket }))).ServerSideEncryptionConfiguration!.Rules).toEqual(Rules);

    const lifecycle = input("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", `${name}-lifecycle`);
    const lifecycleRules = lifecycle.rules.map((r: any) => ({
      ID: r.id, Status: r.status, Filter: { Prefix: "" },
      ...(r.noncurrentVersionExpiration ? { NoncurrentVersionExpiration: { NoncurrentDays: r.noncurrentVersionExpiration.noncurrentDays } } : {}),
      ...(r.abortIncompleteMultipartUpload ? { AbortIncompleteMultipartUpload: { DaysAfterInitiation: r.abortIncompleteMultipartUpload.daysAfterInitiation } } : {}),
    }));
    await s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket, LifecycleConfiguration: { Rules: lifecycleRules } }));
    const readRules = (await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket }))).Rules!;
    expect(readRules.map((r) => [r.ID, r.Status, r.NoncurrentVersionExpiration?.NoncurrentDays, r.AbortIncompleteMultipartUpload?.DaysAfterInitiation])).toEqual([
      ["expire-noncurrent-versions", "Enabled", 30, undefined],
      ["abort-incomplete-multipart-uploads", "Enabled", undefined, 1],
    ]);

    const lock = input("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration", `${name}-object-lock`);
    const ObjectLockConfiguration = { ObjectLockEnabled: lock.objectLockEnabled, Rule: { DefaultRetention: { Mode: lock.rule.defaultRetention.mode, Days: lock.rule.defaultRetention.days } } };
    await s3.send(new PutObjectLockConfigurationCommand({ Bucket, ObjectLockConfiguration }));
    // moto answers `Years: 0` beside the days; S3 returns only the unit that was set.
    expect((await s3.send(new GetObjectLockConfigurationCommand({ Bucket }))).ObjectLockConfiguration).toMatchObject(ObjectLockConfiguration);

    const policy = input("aws:s3/bucketPolicy:BucketPolicy", `${name}-policy`).policy as string;
    await s3.send(new PutBucketPolicyCommand({ Bucket, Policy: policy }));
    expect(JSON.parse((await s3.send(new GetBucketPolicyCommand({ Bucket }))).Policy!)).toEqual(JSON.parse(policy));
  });
});
