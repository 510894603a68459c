/**
 * bench:scheduler — the real kube-scheduler on a real API server with 1,000 and 5,000 KWOK
 * GPU nodes (8 × H100 each, tainted and labelled as the kit's GPU pools), two profiles in the
 * same run on the same cluster:
 * - `gpk-scheduler`: kube-scheduler on the KubeSchedulerConfiguration the SchedulerExtender
 *   component renders (defaults: percentageOfNodesToScore 100, extender weight 100), calling
 *   `gpk extender --kubeconfig` over loopback for filter, prioritize and bind;
 * - `default-scheduler`: the stock kube-scheduler, no extender.
 * For each, PODS pods of a seeded mix of 1, 2, 4 and 8 whole GPUs are created while that
 * profile's scheduler is stopped, then the scheduler starts on the full queue: pods/s is the
 * drain rate (start to last bind), and latency is read from the scheduler's own metrics:
 * `scheduler_pod_scheduling_sli_duration_seconds` (queue entry to bound) and
 * `scheduler_scheduling_attempt_duration_seconds` (one scheduling attempt, binding included).
 *
 * Flags: --sizes 1000,5000 --pods 1000 [--percentage N: gpk-scheduler's percentageOfNodesToScore,
 * default the kit's 100] [--keep]. Writes docs/scheduler-bench.json (docs/scheduler-bench-p<N>.json
 * for another percentage) and prints a table.
 * Needs the tools (`npm run tools`). Everything listens on 127.0.0.1.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as https from "node:https";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { stringify } from "yaml";
import { apiRequest, waitFor, type ApiEndpoint } from "../cli/local/binaries/kube-api";
import { kwokNode, type KwokNode } from "../cli/local/binaries/nodes";
import { extenderSpec, gpkSchedulerSpec, kubeconfigFile, layoutOf, localSchedulerConfig, tlsDir, type ProcessName } from "../cli/local/binaries/plan";
import { startProcess, stopProcesses } from "../cli/local/binaries/processes";
import { adminEndpoint, downCluster, inParallel, upControlPlane, writeState, writeTlsFolder, type BinariesCluster } from "../cli/local/binaries/runtime";
import { readPins } from "../cli/tools/recipes";
import { resolveTools } from "../cli/tools/resolve";
import { issueCertificate } from "../components/kit-pki";
import { EXTENDER_NAME, SCHEDULER_CLIENT_NAME, SCHEDULER_EXTENDER_DEFAULTS, extenderDnsNames, kubeSchedulerConfiguration } from "../components/scheduler-extender";
import { GFD_LABELS, GPK_SCHEDULER_NAME, GPU_PRODUCTS, GPU_RESOURCE, GPU_TAINT, tolerationFor } from "../gpu";
import { mulberry32 } from "../runtime/scheduling";

const ROOT = path.resolve(__dirname, "..");
const { values } = parseArgs({ options: { sizes: { type: "string" }, pods: { type: "string" }, keep: { type: "boolean" }, percentage: { type: "string" } } });
const SIZES = (values.sizes ?? "1000,5000").split(",").map(Number);
const PODS = Number(values.pods ?? 1000);
/** gpk-scheduler's percentageOfNodesToScore (default: what the kit renders, 100). */
const PERCENTAGE = Number(values.percentage ?? SCHEDULER_EXTENDER_DEFAULTS.percentageOfNodesToScore);
const SHAPES = [
  { gpus: 1, weight: 0.55 },
  { gpus: 2, weight: 0.2 },
  { gpus: 4, weight: 0.15 },
  { gpus: 8, weight: 0.1 },
];
const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

function benchNodes(count: number): KwokNode[] {
  const h100 = GPU_PRODUCTS.h100;
  return Array.from({ length: count }, (_, i) => {
    const labels = { [GFD_LABELS.product]: h100.gfdProduct, [GFD_LABELS.count]: "8", [GFD_LABELS.memory]: String(h100.memoryMiB) };
    return kwokNode(`bench-gpu-${String(i).padStart(5, "0")}`, labels, [{ ...GPU_TAINT }], { cpu: "192", memory: "2048Gi", pods: "110", [GPU_RESOURCE]: "8" });
  });
}

function pods(namespace: string, schedulerName: string, seed: number): object[] {
  const rng = mulberry32(seed);
  return Array.from({ length: PODS }, (_, i) => {
    let r = rng.next();
    const shape = SHAPES.find((s) => (r -= s.weight) < 0) ?? SHAPES[0]!;
    const resources = { cpu: String(shape.gpus * 8), memory: `${shape.gpus * 64}Gi`, [GPU_RESOURCE]: String(shape.gpus) };
    return {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: `p-${i}`, namespace },
      spec: {
        schedulerName,
        tolerations: [tolerationFor(GPU_TAINT)],
        containers: [{ name: "main", image: "bench", resources: { requests: resources, limits: resources } }],
      },
    };
  });
}

/** GET /metrics of a component on loopback (its self-signed serving certificate), as the admin. */
function scrape(port: number, token: string): Promise<string> {
  return new Promise((resolve, reject) => {
    https.get({ host: "127.0.0.1", port, path: "/metrics", headers: { authorization: `Bearer ${token}` }, rejectUnauthorized: false }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`/metrics on ${port}: ${res.statusCode} ${body.slice(0, 200)}`))));
    }).on("error", reject);
  });
}

/** Cumulative bucket counts of one histogram, summed over the series that match `filter`. */
function histogram(text: string, name: string, filter: (labels: string) => boolean): Map<number, number> {
  const buckets = new Map<number, number>();
  const re = new RegExp(`^${name}_bucket\\{([^}]*)\\} (\\S+)$`, "gm");
  for (const m of text.matchAll(re)) {
    if (!filter(m[1]!)) continue;
    const le = /(?:^|,)le="([^"]+)"/.exec(m[1]!)![1]!;
    const bound = le === "+Inf" ? Infinity : Number(le);
    buckets.set(bound, (buckets.get(bound) ?? 0) + Number(m[2]));
  }
  return buckets;
}

/** The q-quantile of the observations between two scrapes, interpolated linearly inside its bucket (as histogram_quantile does). */
function quantile(before: Map<number, number>, after: Map<number, number>, q: number): number {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const counts = bounds.map((b) => (after.get(b) ?? 0) - (before.get(b) ?? 0));
  const total = counts[counts.length - 1] ?? 0;
  if (total === 0) return NaN;
  const rank = q * total;
  for (let i = 0; i < bounds.length; i++) {
    if (counts[i]! >= rank) {
      const lower = i === 0 ? 0 : bounds[i - 1]!;
      const upper = bounds[i]!;
      if (upper === Infinity) return lower;
      const below = i === 0 ? 0 : counts[i - 1]!;
      return lower + ((upper - lower) * (rank - below)) / (counts[i]! - below || 1);
    }
  }
  return NaN;
}

interface ProfileResult {
  profile: string;
  pods: number;
  seconds: number;
  podsPerSecond: number;
  sliP50Ms: number;
  sliP99Ms: number;
  attemptP50Ms: number;
  attemptP99Ms: number;
}

/**
 * One profile: its scheduler is stopped while the pods are created (so API write speed does
 * not pace it), then started on a full queue; pods/s is the drain rate from its start to the
 * last bind. A fresh scheduler process starts its metrics at zero.
 */
async function runProfile(api: ApiEndpoint, cluster: BinariesCluster, stack: string, name: ProcessName, profile: string, seed: number): Promise<ProfileResult> {
  const namespace = `bench-${profile}`;
  const old = cluster.processes.find((p) => p.name === name)!;
  await stopProcesses([old]);
  await apiRequest(api, "POST", "/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } });
  // The ServiceAccount admission plugin refuses pods until the controller manager has made the namespace's default account.
  await waitFor(`${namespace}/default service account`, async () => (await apiRequest(api, "GET", `/api/v1/namespaces/${namespace}/serviceaccounts/default`)) !== undefined, 30_000);
  await inParallel(pods(namespace, profile, seed), 32, (pod) => apiRequest(api, "POST", `/api/v1/namespaces/${namespace}/pods`, pod));
  const restarted = await startProcess({ name: old.name as ProcessName, command: old.command, args: old.args, port: old.port, ready: { kind: "tcp" } }, { logDir: layoutOf(ROOT, stack).logs });
  cluster.processes = [...cluster.processes.filter((p) => p !== old), restarted];
  writeState(layoutOf(ROOT, stack), cluster);
  const started = Date.now();
  await waitFor(`${profile}: ${PODS} pods bound`, async () => {
    const list = (await apiRequest(api, "GET", `/api/v1/namespaces/${namespace}/pods?fieldSelector=spec.nodeName%3D`)) as { items: unknown[] };
    return list.items.length === 0;
  }, 900_000, 100);
  const seconds = (Date.now() - started) / 1000;
  const text = await scrape(old.port, api.token);
  const metric = (metricName: string) => histogram(text, metricName, (labels) => !labels.includes("profile=") || labels.includes(`profile="${profile}"`));
  const none = new Map<number, number>();
  const sli = metric("scheduler_pod_scheduling_sli_duration_seconds");
  const attempt = metric("scheduler_scheduling_attempt_duration_seconds");
  const ms = (v: number) => Math.round(v * 10_000) / 10;
  const result: ProfileResult = {
    profile,
    pods: PODS,
    seconds: Math.round(seconds * 10) / 10,
    podsPerSecond: Math.round((PODS / seconds) * 10) / 10,
    sliP50Ms: ms(quantile(none, sli, 0.5)),
    sliP99Ms: ms(quantile(none, sli, 0.99)),
    attemptP50Ms: ms(quantile(none, attempt, 0.5)),
    attemptP99Ms: ms(quantile(none, attempt, 0.99)),
  };
  log(`${profile}: ${JSON.stringify(result)}`);
  // Empty the cluster for the other profile (KWOK deletes the pods' objects).
  await apiRequest(api, "DELETE", `/api/v1/namespaces/${namespace}`);
  await waitFor(`${namespace} deleted`, async () => {
    try {
      await apiRequest(api, "GET", `/api/v1/namespaces/${namespace}`);
      return false;
    } catch {
      return true;
    }
  }, 600_000, 500);
  return result;
}

async function startGpkScheduler(cluster: BinariesCluster, stack: string, tools: ReturnType<typeof resolveTools>): Promise<void> {
  const layout = layoutOf(ROOT, stack);
  // Both run as the admin here: the bench measures scheduling, not RBAC (the e2e covers that).
  fs.copyFileSync(layout.kubeconfig, kubeconfigFile(layout, "gpk-extender"));
  fs.copyFileSync(layout.kubeconfig, kubeconfigFile(layout, "gpk-scheduler"));
  const defaults = SCHEDULER_EXTENDER_DEFAULTS;
  const rendered = kubeSchedulerConfiguration({ namespace: "kube-system", weight: defaults.weight, percentageOfNodesToScore: PERCENTAGE, httpTimeout: defaults.httpTimeout });
  // Mutual TLS as the component renders it, with certificates the kit's PKI issues here.
  const ca = issueCertificate({ commonName: "gpk-kit-ca", usage: "ca", validityHours: 24 });
  const serving = issueCertificate({ commonName: EXTENDER_NAME, dnsNames: extenderDnsNames("kube-system"), usage: "server", validityHours: 24 }, ca);
  const client = issueCertificate({ commonName: SCHEDULER_CLIENT_NAME, usage: "client", validityHours: 24 }, ca);
  writeTlsFolder(tlsDir(layout, "gpk-extender"), { cert: serving.certPem, key: serving.keyPem, ca: ca.certPem });
  writeTlsFolder(tlsDir(layout, "gpk-scheduler"), { cert: client.certPem, key: client.keyPem, ca: ca.certPem });
  const local = localSchedulerConfig(rendered as unknown as Record<string, unknown>, `127.0.0.1:${cluster.ports["gpk-extender"]}`, kubeconfigFile(layout, "gpk-scheduler"), tlsDir(layout, "gpk-scheduler"));
  fs.writeFileSync(layout.schedulerConfig, stringify(local));
  for (const spec of [extenderSpec(process.execPath, path.join(ROOT, "bin", "gpk.js"), layout, cluster.ports, defaults.policy, SCHEDULER_CLIENT_NAME), gpkSchedulerSpec(tools.bin["kube-scheduler"]!, layout, cluster.ports)]) {
    cluster.processes.push(await startProcess(spec, { logDir: layout.logs }));
    writeState(layout, cluster);
  }
}

async function main(): Promise<void> {
  const tools = resolveTools(readPins(), process.env, ["kubernetes", "kine", "kwok"]);
  const rows: { nodes: number; results: ProfileResult[]; onOffRatio: number }[] = [];
  for (const [i, size] of SIZES.entries()) {
    const stack = `bench-scheduler-${size}`;
    await downCluster(ROOT, stack, log);
    const started = Date.now();
    const cluster = await upControlPlane({ repoRoot: ROOT, stack, nodes: benchNodes(size), realNodes: [], tools, log });
    try {
      await startGpkScheduler(cluster, stack, tools);
      log(`${size} nodes ready in ${((Date.now() - started) / 1000).toFixed(0)} s`);
      const api = adminEndpoint(layoutOf(ROOT, stack), cluster);
      const on = await runProfile(api, cluster, stack, "gpk-scheduler", GPK_SCHEDULER_NAME, 42 + i);
      const off = await runProfile(api, cluster, stack, "kube-scheduler", "default-scheduler", 42 + i);
      rows.push({ nodes: size, results: [on, off], onOffRatio: Math.round((on.podsPerSecond / off.podsPerSecond) * 100) / 100 });
    } finally {
      // --keep leaves the last cluster running to look at (.gpk/binaries/<stack>; `gpk local down --stack <stack>` stops it).
      if (!(values.keep && i === SIZES.length - 1)) await downCluster(ROOT, stack, log);
    }
  }
  const kubeVersion = spawnSync(tools.bin["kube-scheduler"]!, ["--version"], { encoding: "utf8" }).stdout.trim();
  const custom = PERCENTAGE !== SCHEDULER_EXTENDER_DEFAULTS.percentageOfNodesToScore;
  const command = `npm run bench:scheduler -- --sizes ${SIZES.join(",")} --pods ${PODS}${custom ? ` --percentage ${PERCENTAGE}` : ""}`;
  const doc = { command, kubeScheduler: kubeVersion, cpu: os.cpus()[0]?.model, cores: os.cpus().length, podsPerProfile: PODS, gpkSchedulerPercentageOfNodesToScore: PERCENTAGE, rows };
  fs.writeFileSync(path.join(ROOT, "docs", custom ? `scheduler-bench-p${PERCENTAGE}.json` : "scheduler-bench.json"), `${JSON.stringify(doc, null, 2)}\n`);
  console.log("| nodes | profile | pods/s | SLI p50 ms | SLI p99 ms | attempt p50 ms | attempt p99 ms |");
  console.log("|---|---|---|---|---|---|---|");
  for (const row of rows) {
    for (const r of row.results) console.log(`| ${row.nodes} | ${r.profile} | ${r.podsPerSecond} | ${r.sliP50Ms} | ${r.sliP99Ms} | ${r.attemptP50Ms} | ${r.attemptP99Ms} |`);
    console.log(`| ${row.nodes} | extender on ÷ off | ${row.onOffRatio} | | | | |`);
  }
}

main().catch((err) => {
  process.stderr.write(`bench:scheduler: ${(err as Error).message}\n`);
  process.exitCode = 1;
});
