/**
 * The serving-capacity policies through `gpk check` on copies of the prod stack: maxReplicas
 * below what the entry's traffic needs is a mandatory finding with the numbers, minReplicas at
 * 4× the need is an advisory one, and a bad traffic or slo key is one line naming its key path.
 * The replicas needed are derived here from the simulator (the entry's own configuration
 * searched as the policy searches it), not written down.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { evaluateTask } from "../../runtime/serving/capacity/search";
import { shapeRequests } from "../../runtime/serving/capacity/workload";
import { REPO_ROOT, runGpk } from "../cli/run-gpk";

const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), "gpk-capacity-cache-"));

function prodCopy(edit: (entry: any, config: any) => void): string {
  const doc = parse(fs.readFileSync(path.join(REPO_ROOT, "stacks", "Pulumi.prod.yaml"), "utf8"));
  edit(doc.config["gpk:serving"][0], doc.config);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gpk-capacity-stack-"));
  fs.writeFileSync(path.join(dir, "Pulumi.prod.yaml"), stringify(doc));
  return dir;
}

const entry = parse(fs.readFileSync(path.join(REPO_ROOT, "stacks", "Pulumi.prod.yaml"), "utf8")).config["gpk:serving"][0];
const headroom = parse(fs.readFileSync(path.join(REPO_ROOT, "stacks", "Pulumi.prod.yaml"), "utf8")).config["gpk:policy"].headroomPercent;

/** What one replica of the prod entry sustains and how many the peak needs (l40s: the pool's g6e.12xlarge). */
const own = evaluateTask({
  id: "prod", seed: 0, requests: shapeRequests(entry.traffic.workload, 0), slo: entry.slo, peakRequestsPerSecond: entry.traffic.peakRequestsPerSecond, headroomPercent: headroom,
  engine: { model: entry.model, gpu: "l40s", tensorParallelSize: 1, maxNumSeqs: entry.maxNumSeqs, maxModelLen: entry.maxModelLen, gpuMemoryUtilization: 0.9, blockSize: 16, kvCacheDtype: "auto", enablePrefixCaching: true },
});

function check(stacksDir: string) {
  const run = runGpk(["check", "prod", "--stacks-dir", stacksDir, "--pack", "gpu-capacity", "--json"], { env: { GPK_CACHE_DIR: cacheDir } });
  return { ...run, doc: run.stdout ? JSON.parse(run.stdout) : undefined };
}

describe("serving-capacity through gpk check", () => {
  it("derives a need the shipped prod entry meets", () => {
    expect(own.replicas).not.toBeNull();
    expect(own.replicas!).toBeLessThanOrEqual(entry.maxReplicas);
    expect(own.replicas!).toBeGreaterThan(1);
  });

  it("fails a copy whose maxReplicas is below the need, naming the key path, the rate per replica and the replicas needed", () => {
    const need = own.replicas!;
    const run = check(prodCopy((e) => Object.assign(e, { minReplicas: 1, maxReplicas: need - 1 })));
    expect(run.status, run.stderr).toBe(1);
    const found = run.doc.violations.filter((v: any) => v.policy === "serving-capacity");
    expect(found).toHaveLength(1);
    expect(found[0].enforcementLevel).toBe("mandatory");
    expect(found[0].message).toContain(`at maxReplicas ${need - 1}: one replica of its configuration`);
    expect(found[0].message).toContain(`sustains ${own.maxRatePerReplica} req/s, so the peak with ${headroom}% headroom needs ${need} replicas`);
    expect(found[0].message).toContain(`raise \`gpk:serving[0].maxReplicas\` to at least ${need}`);
  });

  it("advises on a copy that keeps 4× the replicas it needs, with the monthly difference in dollars", () => {
    const need = own.replicas!;
    const run = check(prodCopy((e, config) => {
      Object.assign(e, { minReplicas: 4 * need, maxReplicas: 4 * need });
      config["gpk:tenants"].find((t: any) => t.name === e.tenant).gpuQuota = 4 * need;
      config["gpk:nodePools"].find((p: any) => p.name === e.pool).maxNodes = 4 * need;
    }));
    expect(run.status, run.stderr).not.toBe(2);
    const serving = run.doc.violations.filter((v: any) => v.policy.startsWith("serving-capacity"));
    expect(serving.map((v: any) => v.policy)).toContain("serving-capacity-cost");
    const advice = serving.find((v: any) => v.message.includes(`keeps minReplicas ${4 * need}`));
    expect(advice.enforcementLevel).toBe("advisory");
    expect(advice.message).toContain(`lowering \`gpk:serving[0].minReplicas\` to ${need} saves about $`);
    expect(advice.message).toMatch(/saves about \$[\d,]+ a month on g6e\.12xlarge/);
    expect(serving.filter((v: any) => v.enforcementLevel === "mandatory")).toEqual([]);
  });

  it.each([
    [(e: any) => delete e.slo, "gpk:serving[0].slo: expected slo beside traffic (capacity is sized from both)"],
    [(e: any) => (e.traffic.workload = "gossip"), 'gpk:serving[0].traffic.workload: expected a workload shape (chat, rag, summarize) or a .jsonl file, got "gossip"'],
    [(e: any) => (e.traffic.workload = "missing/none.jsonl"), "gpk:serving[0].traffic.workload: expected a readable workload in gpk serve --replay's format: cannot read missing/none.jsonl (ENOENT)"],
    [(e: any) => (e.slo = {}), "gpk:serving[0].slo: expected at least one of ttftP99Ms, tpotP99Ms, e2eP99Ms"],
    [(e: any) => (e.traffic.peakRequestsPerSecond = 0), "gpk:serving[0].traffic.peakRequestsPerSecond: expected a positive number of requests per second"],
  ])("refuses a bad traffic or slo with its key path (%#)", (edit, line) => {
    const run = runGpk(["plan", "serving", "prod", "--stacks-dir", prodCopy(edit)]);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain(line);
  });
});
