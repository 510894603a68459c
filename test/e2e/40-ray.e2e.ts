/**
 * The local stack's RayCluster as real Ray (the release of the kit's Ray image pin, from
 * PyPI), each node started with the arguments and environment `gpk ray start-args` prints
 * (KubeRay's derivation; see ray-local.ts for the few substitutions one machine needs):
 * the resources Ray sees, how concurrent GPU tasks spread with and without the kit's
 * node-slot bundle, bounded retries with the kit's retry delay, and GCS fault tolerance on a
 * real Redis against the same head loss without it.
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import type { RayClusterStart } from "../../components/kuberay-start";
import { NODE_SLOT_RESOURCE, RAY_DEFAULTS } from "../../components/ray-spec";
import { REPO_ROOT, gpk } from "./cluster";
import { LocalRay, startRedis, type LocalRedis } from "./ray-local";

const AUTH = { "ray/auth_token": randomBytes(16).toString("hex") };
const report = (line: string) => process.stderr.write(`[ray] ${line}\n`);

/**
 * A copy of the local stack with room for more workers: the sim-h100 pool at 4 nodes, team-a's
 * quotas raised to match, and the Ray group at its default of one 4-GPU worker per node.
 */
function stackCopy(edit: (ray: any) => void): string {
  const doc = parse(fs.readFileSync(path.join(REPO_ROOT, "stacks", "Pulumi.local.yaml"), "utf8"));
  const config = doc.config;
  const pool = config["gpk:nodePools"].find((p: any) => p.name === "sim-h100");
  Object.assign(pool, { minNodes: 4, desiredNodes: 4, maxNodes: 4 });
  Object.assign(config["gpk:tenants"].find((t: any) => t.name === "team-a"), { gpuQuota: 16, cpuQuota: "16", memoryQuota: "32Gi" });
  const group = config["gpk:ray"].workerGroups[0];
  delete group.gpusPerWorker;
  edit(config["gpk:ray"]);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gpk-e2e-ray-stack-"));
  fs.writeFileSync(path.join(dir, "Pulumi.local.yaml"), stringify(doc));
  return dir;
}

function startArgs(stacksDir: string): RayClusterStart & { stack: string } {
  const run = gpk(["ray", "start-args", "local", "--json", "--stacks-dir", stacksDir]);
  expect(run.status, run.stderr).toBe(0);
  return JSON.parse(run.stdout);
}

function flag(args: string[], name: string): string | undefined {
  return args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
}

describe("the local stack's RayCluster as real Ray processes", () => {
  let ray: LocalRay;
  let start: RayClusterStart;
  const WORKERS = 4;

  beforeAll(async () => {
    start = startArgs(stackCopy((r) => Object.assign(r.workerGroups[0], { minReplicas: WORKERS, maxReplicas: WORKERS })));
    ray = new LocalRay(start, { secrets: AUTH });
    await ray.up();
  });
  afterAll(async () => ray?.stop());

  it("shows the rendered GPUs, GPU product and node slots in ray.cluster_resources(), and the pool as each worker's label", () => {
    const worker = start.workerGroups[0]!;
    const gpus = Number(flag(worker.args, "num-gpus"));
    expect(gpus).toBe(4); // the container's nvidia.com/gpu limit: one worker per 4-GPU node
    const custom = JSON.parse(flag(worker.args, "resources")!);
    const seen = ray.probe(["resources"]);
    expect(seen.resources.GPU).toBe(gpus * WORKERS);
    expect(seen.resources["NVIDIA-H100-80GB-HBM3"]).toBe(custom["NVIDIA-H100-80GB-HBM3"] * WORKERS);
    expect(seen.resources[NODE_SLOT_RESOURCE]).toBe(WORKERS);
    expect(seen.resources.CPU).toBe(Number(flag(worker.args, "num-cpus")) * WORKERS); // the head runs no Ray work
    const workers = seen.nodes.filter((n: any) => (n.resources.GPU ?? 0) > 0);
    expect(workers).toHaveLength(WORKERS);
    for (const node of workers) expect(node.labels["gpk.dev/pool"]).toBe("sim-h100");
  });

  it("spreads concurrent one-GPU tasks one per worker with the kit's node-slot bundle, and piles them up without it", () => {
    const rounds = "10";
    const plain = ray.probe(["spread", "--plain", "--rounds", rounds]);
    const kit = ray.probe(["spread", "--kit", "--rounds", rounds]);
    const line = (r: any) => `counts ${JSON.stringify(r.counts)} (max÷mean ${r.maxOverMean.toFixed(2)}, at most ${r.peakTasksOnOneNode} at once on one node)`;
    report(`spread, ${WORKERS} tasks at once × ${rounds} rounds on ${WORKERS} workers of 4 GPUs: plain ${line(plain)}; kit ${line(kit)}`);
    expect(kit.tasks).toBe(WORKERS * Number(rounds));
    expect(kit.maxOverMean).toBeLessThanOrEqual(1.1);
    expect(kit.peakTasksOnOneNode).toBe(1);
    // Ray's default (hybrid) policy puts a task on any node below half its GPUs, so some
    // node runs two or more of the four while another runs none.
    expect(plain.peakTasksOnOneNode).toBeGreaterThanOrEqual(2);
  });

  it("retries a task whose worker dies max_retries times, the kit's retry delay apart, then fails cleanly", () => {
    const delaySeconds = Number(start.head.env.RAY_task_retry_delay_ms) / 1000;
    expect(delaySeconds).toBe(RAY_DEFAULTS.taskRetryDelayMs / 1000);
    const attempts = (extra: string[], env: Record<string, string> = {}) => {
      const dir = fs.mkdtempSync(path.join(ray.dir, "retries-"));
      return ray.probe(["retries", "--dir", dir, ...extra], env);
    };
    const byDefault = attempts([]); // Ray's default max_retries for tasks: 3
    report(`retries with the kit's delay: ${byDefault.attempts} attempts, gaps ${JSON.stringify(byDefault.gapsSeconds)} s, failed after ${byDefault.seconds} s with ${byDefault.outcome}`);
    expect(byDefault.outcome).toBe("WorkerCrashedError");
    expect(byDefault.attempts).toBe(4);
    for (const gap of byDefault.gapsSeconds) expect(gap).toBeGreaterThanOrEqual(delaySeconds - 0.05);
    const once = attempts(["--max-retries", "1"]);
    expect(once).toMatchObject({ outcome: "WorkerCrashedError", attempts: 2 });
    const noDelay = attempts([], { RAY_task_retry_delay_ms: "0" });
    report(`retries without the kit's delay (RAY_task_retry_delay_ms=0): ${noDelay.attempts} attempts, gaps ${JSON.stringify(noDelay.gapsSeconds)} s`);
    expect(noDelay).toMatchObject({ outcome: "WorkerCrashedError", attempts: 4 });
  });
});

describe("GCS fault tolerance: a head restart with and without Redis", () => {
  let redis: LocalRedis;
  const redisDir = fs.mkdtempSync(path.join(os.tmpdir(), "gpk-e2e-redis-"));
  beforeAll(async () => {
    redis = await startRedis(redisDir);
  });
  afterAll(async () => redis?.stop());

  async function headLoss(withRedis: boolean) {
    const start = startArgs(stackCopy((r) => {
      r.workerGroups[0].minReplicas = 1;
      if (withRedis) r.gcsFaultTolerance = { enabled: true, redis: { address: "redis.team-a.svc:6379", passwordSecret: { name: "redis", key: "password" } } };
    }));
    const ray = new LocalRay(start, { secrets: { ...AUTH, "redis/password": redis.password }, redis: withRedis ? redis : undefined });
    try {
      await ray.up();
      const name = `counter-${randomBytes(4).toString("hex")}`;
      const created = ray.probe(["actor-create", name]);
      expect(created.value).toBe(1);
      await ray.killHead();
      const restarted = Date.now();
      await ray.startHead();
      const after = ray.probe(["actor-call", name]);
      const seconds = (Date.now() - restarted) / 1000;
      return { start, created, after, seconds, nodes: withRedis ? ray.probe(["resources"]).nodes : [] };
    } finally {
      await ray.stop();
    }
  }

  it("keeps a detached actor across a head restart on Redis, and the worker reconnects", async () => {
    const { start, created, after, seconds, nodes } = await headLoss(true);
    expect(start.head.args).toContain("--redis-password=$REDIS_PASSWORD");
    expect(start.workerGroups[0]!.env.RAY_gcs_rpc_server_reconnect_timeout_s).toBe("600");
    report(`head restart on Redis: actor reachable again ${seconds.toFixed(1)} s after the new head was started`);
    expect(after).toMatchObject({ found: true, value: 2, node: created.node });
    expect(nodes.map((n: any) => n.nodeId)).toContain(created.node);
  });

  it("loses the same actor when the GCS state lived only in the head", async () => {
    const { after } = await headLoss(false);
    report(`head restart without Redis: ${JSON.stringify(after)}`);
    expect(after.found).toBe(false);
  });
});
