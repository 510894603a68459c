/**
 * bench:scheduler — the real kube-scheduler on a real API server with 1,000 and 5,000 KWOK GPU
 * nodes (8 × H100 each, tainted and labelled as the kit's GPU pools), profiles compared like for
 * like on the same settled cluster:
 * - `gpk-scheduler`: kube-scheduler on the KubeSchedulerConfiguration the SchedulerExtender
 *   component renders (the kit's percentageOfNodesToScore, extender weight), calling `gpk
 *   extender --kubeconfig` over loopback mTLS for filter (the pick alone, by default) and bind;
 * - `default-scheduler`: the same kube-scheduler binary, stock profile, no extender.
 * Fair by construction: both run from a KubeSchedulerConfiguration with the same client QPS and
 * burst (--qps, --burst; the extender's bind client gets the same), no leader election, one
 * process per profile; each run creates PODS pods of a seeded mix of 1, 2, 4 and 8 whole GPUs
 * while that profile's scheduler is stopped, starts it on the full queue, and times from its
 * first scheduling attempt (its scheduler_schedule_attempts_total leaving 0) to the last bind.
 * Profiles alternate which goes first, --runs times per size; the median and spread go in the
 * ratio. Per run, from the scheduler's own metrics: attempt p50/p99
 * (scheduler_scheduling_attempt_duration_seconds), algorithm p50/p99
 * (scheduler_scheduling_algorithm_duration_seconds), mean ms per pod of each extension point
 * (scheduler_framework_extension_point_duration_seconds); the extender's own request histogram
 * per verb; and CPU seconds of every process over the run (/proc/<pid>/stat).
 *
 * Flags: --sizes 1000,5000 --pods 1000 --runs 3 [--qps 5000 --burst 5000] [--percentage N:
 * gpk-scheduler's percentageOfNodesToScore, default the kit's] [--hami: HAMi's scheduler
 * extender as a third profile, bench/hami-profile.ts] [--json] [--keep] [--from <json>: print
 * the tables of an earlier run].
 * --json prints {"runs":[{nodes,profile,podsPerSecond,attemptP50Ms,attemptP99Ms,...}],"ratio":{"<nodes>":...}}
 * on stdout; progress goes to stderr. Writes docs/scheduler-bench.json.
 * Needs the tools (`npm run tools`). Everything listens on 127.0.0.1.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { stringify } from "yaml";
import { apiRequest, waitFor, type ApiEndpoint } from "../cli/local/binaries/kube-api";
import { kwokNode, type KwokNode } from "../cli/local/binaries/nodes";
import { extenderSpec, gpkSchedulerSpec, kubeconfigFile, layoutOf, localSchedulerConfig, schedulerSpec, tlsDir, type ProcessSpec } from "../cli/local/binaries/plan";
import { startProcess, stopProcesses } from "../cli/local/binaries/processes";
import { adminEndpoint, downCluster, inParallel, upControlPlane, writeState, writeTlsFolder, type BinariesCluster } from "../cli/local/binaries/runtime";
import { readPins } from "../cli/tools/recipes";
import { resolveTools } from "../cli/tools/resolve";
import { issueCertificate } from "../components/kit-pki";
import { EXTENDER_NAME, SCHEDULER_CLIENT_NAME, SCHEDULER_EXTENDER_DEFAULTS, extenderDnsNames, kubeSchedulerConfiguration } from "../components/scheduler-extender";
import { GFD_LABELS, GPK_SCHEDULER_NAME, GPU_PRODUCTS, GPU_RESOURCE, GPU_TAINT, tolerationFor } from "../gpu";
import { EXTENDER_METRICS } from "../gpu/metrics";
import { mulberry32 } from "../runtime/scheduling";
import { HAMI_SCHEDULER_NAME } from "./hami";
import { startHamiProfile, withHamiAnnotations, type HamiProfile } from "./hami-profile";

const ROOT = path.resolve(__dirname, "..");
const { values } = parseArgs({
  options: {
    sizes: { type: "string" }, pods: { type: "string" }, runs: { type: "string" }, keep: { type: "boolean" }, percentage: { type: "string" },
    qps: { type: "string" }, burst: { type: "string" }, json: { type: "boolean" }, hami: { type: "boolean" }, from: { type: "string" },
  },
});
function count(flag: string, raw: string | undefined, fallback: number, min: number): number {
  const n = Number(raw ?? fallback);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${flag}: expected an integer >= ${min}, got ${JSON.stringify(raw)}`);
  return n;
}
const SIZES = (values.sizes ?? "1000,5000").split(",").map((s) => count("sizes", s, 0, 1));
const PODS = count("pods", values.pods, 1000, 1);
const RUNS = count("runs", values.runs, 3, 1);
/** Client QPS and burst of both schedulers and of the extender's bind client (high, so that neither is paced by its client). */
const QPS = count("qps", values.qps, 5000, 1);
const BURST = count("burst", values.burst, 5000, 1);
/** gpk-scheduler's percentageOfNodesToScore (default: what the kit renders). */
const PERCENTAGE = count("percentage", values.percentage, SCHEDULER_EXTENDER_DEFAULTS.percentageOfNodesToScore, 0);
/** HAMi's scheduler extender as a third profile (`gpk tools build --only hami`; bench/hami-profile.ts). */
const HAMI = values.hami === true;
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

/** GET /metrics over plain HTTP (the extender's health port). */
function scrapePlain(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get({ host: "127.0.0.1", port, path: "/metrics" }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`/metrics on ${port}: ${res.statusCode}`))));
    }).on("error", reject);
  });
}

/** Sum of a counter's series (optionally only those whose labels pass `filter`). */
function counter(text: string, name: string, filter: (labels: string) => boolean = () => true): number {
  let sum = 0;
  for (const m of text.matchAll(new RegExp(`^${name}(?:\\{([^}]*)\\})? (\\S+)$`, "gm"))) if (filter(m[1] ?? "")) sum += Number(m[2]);
  return sum;
}

/** Mean ms per observation of a histogram's series grouped by one label, between two scrapes. */
function meansBy(before: string, after: string, name: string, label: string, filter: (labels: string) => boolean): Record<string, number> {
  const totals = (text: string) => {
    const out = new Map<string, { sum: number; count: number }>();
    for (const m of text.matchAll(new RegExp(`^${name}_(sum|count)\\{([^}]*)\\} (\\S+)$`, "gm"))) {
      if (!filter(m[2]!)) continue;
      const key = new RegExp(`(?:^|,)${label}="([^"]*)"`).exec(m[2]!)?.[1] ?? "";
      const t = out.get(key) ?? { sum: 0, count: 0 };
      if (m[1] === "sum") t.sum += Number(m[3]);
      else t.count += Number(m[3]);
      out.set(key, t);
    }
    return out;
  };
  const a = totals(before);
  const b = totals(after);
  const result: Record<string, number> = {};
  for (const [key, t] of b) {
    const count = t.count - (a.get(key)?.count ?? 0);
    if (count > 0) result[key] = Math.round(((t.sum - (a.get(key)?.sum ?? 0)) / count) * 1e5) / 100;
  }
  return result;
}

/** CPU seconds (user + system) a process has used, from /proc/<pid>/stat (clock ticks of 1/100 s). */
function cpuSeconds(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15 of stat(5), 12 and 13 after the command name.
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

interface Profile {
  /** The schedulerName its pods carry. */
  schedulerName: string;
  /** The kube-scheduler process (started per run on a full queue). */
  spec: ProcessSpec;
  env?: Record<string, string>;
  /** The extender's plain-HTTP metrics port, when it has one. */
  extenderMetricsPort?: number;
}

interface RunResult {
  nodes: number;
  profile: string;
  run: number;
  /** 1 when this profile went first in its run pair. */
  order: number;
  pods: number;
  seconds: number;
  podsPerSecond: number;
  attemptP50Ms: number;
  attemptP99Ms: number;
  algorithmP50Ms: number;
  algorithmP99Ms: number;
  /** kube-scheduler's mean ms per call of each extension point (Filter, Score, Bind, ...). */
  extensionPointMeanMs: Record<string, number>;
  /** The extender's own mean ms per request, by verb (gpk-scheduler only). */
  extenderMeanMs?: Record<string, number>;
  extenderP99Ms?: Record<string, number>;
  /** CPU seconds each process used during the run. */
  cpuSeconds: Record<string, number>;
}

const ms = (v: number) => Math.round(v * 10_000) / 10;

/** A KubeSchedulerConfiguration with the bench's client limits and no leader election. */
function writeSchedulerConfig(file: string, base: Record<string, unknown>, kubeconfig: string): void {
  const config = {
    apiVersion: "kubescheduler.config.k8s.io/v1",
    kind: "KubeSchedulerConfiguration",
    ...base,
    leaderElection: { leaderElect: false },
    clientConnection: { ...(base.clientConnection as object | undefined), kubeconfig, qps: QPS, burst: BURST },
  };
  fs.writeFileSync(file, stringify(config));
}

/** The same kube-scheduler process spec, reading its configuration from `configFile`. */
function withConfig(spec: ProcessSpec, configFile: string): ProcessSpec {
  return { ...spec, args: [...spec.args.filter((a) => !a.startsWith("--kubeconfig=") && !a.startsWith("--leader-elect") && !a.startsWith("--config=")), `--config=${configFile}`] };
}

/** Starts the extender (kept across runs) and returns both profiles, their schedulers not started. */
async function prepareProfiles(cluster: BinariesCluster, stack: string, tools: ReturnType<typeof resolveTools>): Promise<{ profiles: Profile[]; hami?: HamiProfile }> {
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
  writeSchedulerConfig(layout.schedulerConfig, local, kubeconfigFile(layout, "gpk-scheduler"));
  const extender = extenderSpec(process.execPath, path.join(ROOT, "bin", "gpk.js"), layout, cluster.ports, defaults.policy, SCHEDULER_CLIENT_NAME);
  extender.args.push("--kube-qps", String(QPS), "--kube-burst", String(BURST));
  // GPK_BENCH_EXTENDER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the extender.
  extender.args.unshift(...(process.env.GPK_BENCH_EXTENDER_NODE_ARGS ?? "").split(" ").filter(Boolean));
  cluster.processes.push(await startProcess(extender, { logDir: layout.logs }));
  writeState(layout, cluster);

  const defaultConfig = path.join(layout.root, "default-scheduler.yaml");
  writeSchedulerConfig(defaultConfig, { profiles: [{ schedulerName: "default-scheduler" }] }, kubeconfigFile(layout, "scheduler"));
  // The control plane's own kube-scheduler gives way to the bench's, started per run.
  const stock = cluster.processes.find((p) => p.name === "kube-scheduler")!;
  await stopProcesses([stock]);
  cluster.processes = cluster.processes.filter((p) => p !== stock);
  writeState(layout, cluster);
  const profiles: Profile[] = [
    { schedulerName: GPK_SCHEDULER_NAME, spec: gpkSchedulerSpec(tools.bin["kube-scheduler"]!, layout, cluster.ports), extenderMetricsPort: cluster.ports["gpk-extender-health"] },
    { schedulerName: "default-scheduler", spec: withConfig(schedulerSpec(tools.bin["kube-scheduler"]!, layout, cluster.ports), defaultConfig) },
  ];
  if (!HAMI) return { profiles };
  // HAMi's own process stays up; its kube-scheduler, like the others, starts per run. Its
  // percentageOfNodesToScore is left unset, as HAMi's chart leaves it.
  const hami = await startHamiProfile(cluster, stack, { kubeScheduler: tools.bin["kube-scheduler"]!, hamiScheduler: tools.bin["hami-scheduler"]!, qps: QPS, burst: BURST }, log);
  await stopProcesses([hami.kubeScheduler]);
  cluster.processes = cluster.processes.filter((p) => p !== hami.kubeScheduler);
  writeState(layout, cluster);
  const { env, ...spec } = hami.kubeSchedulerSpec;
  profiles.push({ schedulerName: HAMI_SCHEDULER_NAME, spec: spec as ProcessSpec, env });
  return { profiles, hami };
}

/** The pause after the nodes come up and after each run's cleanup. */
const SETTLE_MS = 20_000;

/** Every node Ready, then a pause so node heartbeats and controllers have settled. */
async function settle(api: ApiEndpoint, size: number): Promise<void> {
  await waitFor(`${size} nodes Ready`, async () => {
    const list = (await apiRequest(api, "GET", "/api/v1/nodes")) as { items: { status?: { conditions?: { type: string; status: string }[] } }[] };
    return list.items.filter((n) => n.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True")).length >= size;
  }, 600_000, 1000);
  await new Promise((r) => setTimeout(r, SETTLE_MS));
}

async function runProfile(api: ApiEndpoint, cluster: BinariesCluster, stack: string, profile: Profile, size: number, run: number, order: number): Promise<RunResult> {
  const layout = layoutOf(ROOT, stack);
  const namespace = `bench-${profile.schedulerName}-${run}`;
  await apiRequest(api, "POST", "/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } });
  // The ServiceAccount admission plugin refuses pods until the controller manager has made the namespace's default account.
  await waitFor(`${namespace}/default service account`, async () => (await apiRequest(api, "GET", `/api/v1/namespaces/${namespace}/serviceaccounts/default`)) !== undefined, 30_000);
  await inParallel(pods(namespace, profile.schedulerName, 42 + run), 32, (pod) => apiRequest(api, "POST", `/api/v1/namespaces/${namespace}/pods`, pod));
  const extenderBefore = profile.extenderMetricsPort ? await scrapePlain(profile.extenderMetricsPort) : "";
  const scheduler = await startProcess(profile.spec, { logDir: layout.logs, ...(profile.env ? { env: { ...process.env, ...profile.env } } : {}) });
  cluster.processes.push(scheduler);
  writeState(layout, cluster);
  try {
    // The clock starts at the first scheduling attempt, not when the process or its port came up.
    let started = 0;
    await waitFor(`${profile.schedulerName}: first scheduling attempt`, async () => {
      const text = await scrape(scheduler.port, api.token);
      if (counter(text, "scheduler_schedule_attempts_total") === 0) return false;
      started = performance.now();
      return true;
    }, 300_000, 50);
    const cpuBefore = Object.fromEntries(cluster.processes.map((p) => [p.name, cpuSeconds(p.pid)]));
    await waitFor(`${profile.schedulerName}: ${PODS} pods bound`, async () => {
      const list = (await apiRequest(api, "GET", `/api/v1/namespaces/${namespace}/pods?fieldSelector=spec.nodeName%3D&limit=1`)) as { items: unknown[] };
      return list.items.length === 0;
    }, 1_800_000, 100);
    const seconds = (performance.now() - started) / 1000;
    const cpu = Object.fromEntries(cluster.processes.map((p) => [p.name, Math.round((cpuSeconds(p.pid) - (cpuBefore[p.name] ?? 0)) * 100) / 100]));
    const text = await scrape(scheduler.port, api.token);
    const mine = (labels: string) => !labels.includes("profile=") || labels.includes(`profile="${profile.schedulerName}"`);
    const none = new Map<number, number>();
    const attempt = histogram(text, "scheduler_scheduling_attempt_duration_seconds", mine);
    const algorithm = histogram(text, "scheduler_scheduling_algorithm_duration_seconds", () => true);
    const result: RunResult = {
      nodes: size,
      profile: profile.schedulerName,
      run,
      order,
      pods: PODS,
      seconds: Math.round(seconds * 10) / 10,
      podsPerSecond: Math.round((PODS / seconds) * 10) / 10,
      attemptP50Ms: ms(quantile(none, attempt, 0.5)),
      attemptP99Ms: ms(quantile(none, attempt, 0.99)),
      algorithmP50Ms: ms(quantile(none, algorithm, 0.5)),
      algorithmP99Ms: ms(quantile(none, algorithm, 0.99)),
      extensionPointMeanMs: meansBy("", text, "scheduler_framework_extension_point_duration_seconds", "extension_point", mine),
      cpuSeconds: cpu,
    };
    if (profile.extenderMetricsPort) {
      const after = await scrapePlain(profile.extenderMetricsPort);
      result.extenderMeanMs = meansBy(extenderBefore, after, EXTENDER_METRICS.duration, "verb", () => true);
      result.extenderP99Ms = Object.fromEntries(["filter", "prioritize", "bind"].map((verb) => {
        const only = (labels: string) => labels.includes(`verb="${verb}"`);
        return [verb, ms(quantile(histogram(extenderBefore, EXTENDER_METRICS.duration, only), histogram(after, EXTENDER_METRICS.duration, only), 0.99))];
      }).filter(([, v]) => !Number.isNaN(v)));
    }
    log(`${size} nodes, run ${run}, ${profile.schedulerName}: ${result.podsPerSecond} pods/s, attempt p50 ${result.attemptP50Ms} ms p99 ${result.attemptP99Ms} ms, CPU s ${JSON.stringify(cpu)}`);
    return result;
  } finally {
    await stopProcesses([scheduler]);
    cluster.processes = cluster.processes.filter((p) => p !== scheduler);
    writeState(layout, cluster);
    // Empty the cluster for the next run (KWOK deletes the pods' objects).
    await apiRequest(api, "DELETE", `/api/v1/namespaces/${namespace}`);
    await waitFor(`${namespace} deleted`, async () => {
      try {
        await apiRequest(api, "GET", `/api/v1/namespaces/${namespace}`);
        return false;
      } catch {
        return true;
      }
    }, 600_000, 500);
    // Let the deletion's aftermath (garbage collection, KWOK, kine's compaction) pass before the next run.
    await new Promise((r) => setTimeout(r, SETTLE_MS));
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const round2 = (x: number) => Math.round(x * 100) / 100;

async function main(): Promise<void> {
  if (values.from) {
    // Re-render the tables of an earlier run's JSON.
    const saved = JSON.parse(fs.readFileSync(values.from, "utf8")) as { runs: RunResult[]; summary: Summary[] };
    printTables(saved.runs, saved.summary);
    return;
  }
  const tools = resolveTools(readPins(), process.env, HAMI ? ["kubernetes", "kine", "kwok", "hami"] : ["kubernetes", "kine", "kwok"]);
  const runs: RunResult[] = [];
  for (const [i, size] of SIZES.entries()) {
    const stack = `bench-scheduler-${size}`;
    await downCluster(ROOT, stack, log);
    const started = Date.now();
    // With HAMi, the nodes carry what its device plugin and its scheduler's handshake would have written.
    const handshakeAt = new Date();
    const nodes = HAMI ? benchNodes(size).map((n) => withHamiAnnotations(n, 8, "h100", handshakeAt)) : benchNodes(size);
    const cluster = await upControlPlane({ repoRoot: ROOT, stack, nodes, realNodes: [], tools, log });
    let hami: HamiProfile | undefined;
    try {
      const prepared = await prepareProfiles(cluster, stack, tools);
      const profiles = prepared.profiles;
      hami = prepared.hami;
      const api = adminEndpoint(layoutOf(ROOT, stack), cluster);
      await settle(api, size);
      log(`${size} nodes ready and settled in ${((Date.now() - started) / 1000).toFixed(0)} s`);
      for (let run = 0; run < RUNS; run++) {
        // Alternate which profile goes first.
        const ordered = run % 2 === 0 ? profiles : [...profiles].reverse();
        if (hami && hami.allocator.errors.length > 0) throw new Error(`HAMi's device-plugin stand-in: ${hami.allocator.errors.join("; ")}`);
        for (const [order, profile] of ordered.entries()) runs.push(await runProfile(api, cluster, stack, profile, size, run, order + 1));
      }
    } finally {
      await hami?.allocator.stop();
      // --keep leaves the last cluster running to look at (.gpk/binaries/<stack>; `gpk local down --stack <stack>` stops it).
      if (!(values.keep && i === SIZES.length - 1)) await downCluster(ROOT, stack, log);
    }
  }
  const summary = SIZES.map((size) => {
    const of = (profile: string) => runs.filter((r) => r.nodes === size && r.profile === profile).map((r) => r.podsPerSecond);
    const gpk = of(GPK_SCHEDULER_NAME);
    const stock = of("default-scheduler");
    return {
      nodes: size,
      gpkMedian: median(gpk), gpkMin: Math.min(...gpk), gpkMax: Math.max(...gpk),
      defaultMedian: median(stock), defaultMin: Math.min(...stock), defaultMax: Math.max(...stock),
      ratio: round2(median(gpk) / median(stock)),
      ...(HAMI ? { hamiMedian: median(of(HAMI_SCHEDULER_NAME)), hamiRatio: round2(median(of(HAMI_SCHEDULER_NAME)) / median(stock)) } : {}),
    };
  });
  const ratio = Object.fromEntries(summary.map((s) => [String(s.nodes), s.ratio]));
  const kubeVersion = spawnSync(tools.bin["kube-scheduler"]!, ["--version"], { encoding: "utf8" }).stdout.trim();
  const command = `npm run bench:scheduler -- --sizes ${SIZES.join(",")} --pods ${PODS} --runs ${RUNS} --qps ${QPS} --burst ${BURST}${PERCENTAGE !== SCHEDULER_EXTENDER_DEFAULTS.percentageOfNodesToScore ? ` --percentage ${PERCENTAGE}` : ""}${HAMI ? " --hami" : ""}`;
  const doc = {
    command, kubeScheduler: kubeVersion, cpu: os.cpus()[0]?.model, cores: os.cpus().length, podsPerRun: PODS,
    clientQps: QPS, clientBurst: BURST, gpkSchedulerPercentageOfNodesToScore: PERCENTAGE, filterAnswer: "pick",
    summary, ratio, runs,
  };
  const custom = PERCENTAGE !== SCHEDULER_EXTENDER_DEFAULTS.percentageOfNodesToScore;
  const file = `scheduler-bench${custom ? `-p${PERCENTAGE}` : ""}${HAMI ? "-hami" : ""}.json`;
  fs.writeFileSync(path.join(ROOT, "docs", file), `${JSON.stringify(doc, null, 2)}\n`);
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ runs, ratio })}\n`);
    return;
  }
  printTables(runs, summary);
}

type Summary = { nodes: number; ratio: number; hamiRatio?: number; gpkMin: number; gpkMax: number; defaultMin: number; defaultMax: number };

/** Markdown: every run with where its time went, then the medians (docs/real-engines.md quotes both). */
function printTables(runs: RunResult[], summary: Summary[]): void {
  const schedulerCpu = (r: RunResult) => r.cpuSeconds["gpk-scheduler"] ?? r.cpuSeconds["kube-scheduler"] ?? r.cpuSeconds["hami-kube-scheduler"] ?? 0;
  const point = (r: RunResult, name: string) => r.extensionPointMeanMs[name] ?? "–";
  console.log("| nodes | run | profile | order | pods/s | attempt p50 / p99 ms | algorithm p50 / p99 ms | Filter / Score / Bind mean ms | extender filter / bind mean ms | CPU s: scheduler, extender, API server, kine |");
  console.log("|---|---|---|---|---|---|---|---|---|---|");
  for (const r of runs) {
    const ext = r.extenderMeanMs ? `${r.extenderMeanMs.filter ?? "–"} / ${r.extenderMeanMs.bind ?? "–"}` : "–";
    const cpu = `${schedulerCpu(r)}, ${r.profile === GPK_SCHEDULER_NAME ? r.cpuSeconds["gpk-extender"] : r.profile === HAMI_SCHEDULER_NAME ? r.cpuSeconds["hami-scheduler"] : "–"}, ${r.cpuSeconds["kube-apiserver"]}, ${r.cpuSeconds.kine}`;
    console.log(`| ${r.nodes} | ${r.run + 1} | ${r.profile} | ${r.order} | ${r.podsPerSecond} | ${r.attemptP50Ms} / ${r.attemptP99Ms} | ${r.algorithmP50Ms} / ${r.algorithmP99Ms} | ${point(r, "Filter")} / ${point(r, "Score")} / ${point(r, "Bind")} | ${ext} | ${cpu} |`);
  }
  console.log("");
  console.log("| nodes | gpk-scheduler pods/s (min–max) | default-scheduler pods/s (min–max) | median gpk ÷ default |");
  console.log("|---|---|---|---|");
  for (const s of summary) console.log(`| ${s.nodes} | ${s.gpkMin}–${s.gpkMax} | ${s.defaultMin}–${s.defaultMax} | **${s.ratio}**${s.hamiRatio !== undefined ? ` (HAMi ÷ default ${s.hamiRatio})` : ""} |`);
}

main().catch((err) => {
  process.stderr.write(`bench:scheduler: ${(err as Error).message}\n`);
  process.exitCode = 1;
});
