/**
 * The real prod stack, rendered in this process, with one setting removed at a time:
 * checkStack (what gpk check and gpk preview call) names the one rule that guards it. The
 * checkpoint-bucket settings come from CheckpointStore, the serving autoscaler's metric source
 * from Platform; removing one stands for a component bug or a hand-edited program.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { checkStack, hasMandatory } from "../../cli/check";
import { renderStack, type RenderedStack } from "../../cli/render";

let original: RenderedStack;
beforeAll(async () => {
  original = await renderStack("prod");
}, 180_000);
const copy = (): RenderedStack => structuredClone(original);
const CHECKPOINT_RULES = ["checkpoint-bucket-private", "checkpoint-bucket-tenant-only", "checkpoint-bucket-durable"];

async function checkpointViolations(rendered: RenderedStack): Promise<string[]> {
  const violations = await checkStack(rendered, { packs: ["tenancy"] });
  return violations.filter((v) => CHECKPOINT_RULES.includes(v.policy)).map((v) => v.policy);
}

describe("the checkpoint rules on the rendered prod stack", () => {
  it("pass the stack as rendered", async () => {
    expect(hasMandatory(await checkStack(copy(), { packs: ["tenancy"] }))).toBe(false);
  }, 180_000);

  it("each refuse a copy with its setting removed", async () => {
    const withoutBlock = copy();
    withoutBlock.resources = withoutBlock.resources.filter((r) => r.type !== "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock");
    expect(await checkpointViolations(withoutBlock)).toEqual(["checkpoint-bucket-private"]);

    const unversioned = copy();
    (unversioned.resources.find((r) => r.type === "aws:s3/bucketVersioning:BucketVersioning")!.inputs as any).versioningConfiguration.status = "Suspended";
    expect(await checkpointViolations(unversioned)).toEqual(["checkpoint-bucket-durable"]);

    const opened = copy();
    const policy = opened.resources.find((r) => r.type === "aws:s3/bucketPolicy:BucketPolicy")!.inputs as any;
    const doc = JSON.parse(policy.policy);
    doc.Statement = doc.Statement.filter((s: any) => s.Sid !== "DenyDataToOtherPrincipals");
    policy.policy = JSON.stringify(doc);
    expect(await checkpointViolations(opened)).toEqual(["checkpoint-bucket-tenant-only"]);
  }, 180_000);
});

describe("the serving autoscaler's metric source on the rendered prod stack", () => {
  it("is present as rendered, and its removal is refused by the thermal pack", async () => {
    const source = async (rendered: RenderedStack) =>
      (await checkStack(rendered, { packs: ["thermal"] })).filter((v) => v.policy === "serving-autoscaler-metrics-source");
    expect(await source(copy())).toEqual([]);
    const bare = copy();
    bare.resources = bare.resources.filter((r) => !(r.type === "kubernetes:helm.sh/v3:Release" && (r.inputs as any).chart === "prometheus-adapter"));
    const found = await source(bare);
    expect(found.length).toBeGreaterThan(0);
    expect(found.every((v) => v.enforcementLevel === "mandatory" && /scales on vllm:num_requests_waiting from the custom metrics API/.test(v.message))).toBe(true);
  }, 180_000);
});
