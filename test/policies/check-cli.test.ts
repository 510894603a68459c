/**
 * `gpk check` on the shipped stacks and on a stack made unsafe, as CI runs it: the real
 * program rendered under mocks, the three packs over the analyzer protocol, exit codes and
 * the `--json` document.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse, stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listStacks } from "../../cli/render/stack-files";

const REPO = path.resolve(__dirname, "../..");

interface CheckDocument {
  stack: string;
  violations: { pack: string; policy: string; enforcementLevel: string; urn: string; message: string }[];
}

async function gpkCheck(...args: string[]) {
  const { execa } = await import("execa");
  const r = await execa("node", [path.join(REPO, "bin/gpk.js"), "check", ...args], { reject: false, cwd: REPO });
  return { code: r.exitCode, stdout: r.stdout, stderr: r.stderr };
}

describe("gpk check on the shipped stacks", () => {
  const stacks = listStacks();
  it("finds the three shipped stacks", () => expect(stacks).toEqual(["local", "prod", "staging"]));

  for (const stack of stacks) {
    it(`${stack}: no mandatory violations, one JSON document on stdout`, async () => {
      const r = await gpkCheck(stack, "--json");
      const doc = JSON.parse(r.stdout) as CheckDocument;
      expect(doc.stack).toBe(stack);
      expect(doc.violations.filter((v) => v.enforcementLevel === "mandatory")).toEqual([]);
      expect(r.code).toBe(0);
    }, 180_000);
  }
});

describe("gpk check on a stack made unsafe", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gpk-check-"));
  // Every test here reads the same unsafe stack: written once, before any of them, whatever their order.
  beforeAll(() => {
    const doc = parse(fs.readFileSync(path.join(REPO, "stacks/Pulumi.local.yaml"), "utf8"));
    // Pool sim-h100: 2 nodes × 4 GPUs = 8; with 20% headroom the tenants may hold 6.
    doc.config["gpk:tenants"][0].gpuQuota = 6;
    fs.writeFileSync(path.join(dir, "Pulumi.unsafe.yaml"), stringify(doc));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("exits 1 naming gpu-pool-quota-headroom and the pool when tenant quotas eat the headroom", async () => {
    const r = await gpkCheck("unsafe", "--json", "--stacks-dir", dir);
    expect(r.code).toBe(1);
    const found = (JSON.parse(r.stdout) as CheckDocument).violations.filter((v) => v.policy === "gpu-pool-quota-headroom");
    expect(found).toEqual([{
      pack: "gpu-capacity",
      policy: "gpu-pool-quota-headroom",
      enforcementLevel: "mandatory",
      urn: expect.stringMatching(/gpk:index:GpuNodeGroup::[\w-]*sim-h100$/),
      message: expect.stringMatching(/^GPU pool "sim-h100" has 8 GPUs at max scale but its tenants' quotas add up to 8 /),
    }]);
  }, 180_000);

  it("prints the findings grouped by pack and policy without --json", async () => {
    const r = await gpkCheck("unsafe", "--stacks-dir", dir, "--pack", "gpu-capacity");
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^gpu-capacity: 1 finding\(s\)\n  gpu-pool-quota-headroom \[mandatory\]\n    urn:pulumi:unsafe::/);
    expect(r.stdout).toMatch(/Stack unsafe: 1 mandatory, 0 advisory, 0 remediated\.$/);
  }, 180_000);

  it("exits 2 with one line for an unknown stack or pack", async () => {
    const r = await gpkCheck("nope");
    expect([r.code, r.stderr.trim()]).toEqual([2, 'gpk check: unknown stack "nope"; stacks in stacks: local, prod, staging']);
    const p = await gpkCheck("local", "--pack", "nope");
    expect([p.code, p.stderr.trim()]).toEqual([2, 'gpk check: --pack: unknown pack "nope"; packs: gpu-capacity, thermal, tenancy']);
  }, 60_000);
});
