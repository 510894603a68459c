/**
 * bench:extender — kube-scheduler's view of the extender: for each pod, POST /filter then
 * POST /prioritize over HTTP on loopback in nodeCacheCapable mode (NodeNames only), then
 * POST /bind to the node scored 10: one scheduling cycle at a time, the bind running beside the
 * next cycle, as kube-scheduler's binding cycle does.
 *
 * Cluster: 5,000 nodes (flags: --nodes N --pods N --policy NAME), a seeded mix of p5.48xlarge
 * (8×H100), p4de.24xlarge (8×A100), g6e.12xlarge (4×L40S) and g6.xlarge (1×L4), NUMA halves on
 * 8-GPU nodes, about half the GPUs already held by bound pods. Two samplings, each with the
 * extender answering the pick alone (`--filter-answer pick`, the default: no prioritize call) and
 * answering every fitting node (`all`, then prioritize):
 * - kube-scheduler's default sampling: a filter carries numFeasibleNodesToFind names (adaptive
 *   percentageOfNodesToScore: 10% of 5,000 = 500), from a rotating start;
 * - every node per filter (percentageOfNodesToScore: 100, what the gpk-scheduler profile sets
 *   so placement matches the simulator): the worst case.
 * The server is the esbuild bundle that ships in-cluster, in its own process; the latency is the
 * client's round trip (request written to response received); pods/s is wall time over the
 * whole loop, the client's own work included, so the client is kept as lean as kube-scheduler's
 * Go client (see Connection, passingNodesJson, bestHost); the server's own compute comes from
 * its Server-Timing header. GPK_BENCH_SERVER_NODE_ARGS passes node flags (e.g. --cpu-prof).
 *
 * Targets (issue 6): p99 of filter+prioritize ≤ 5 ms and ≥ 1,000 pods/s. Figures depend on the
 * machine; the JSON records its CPU.
 */
import { spawn } from "node:child_process";
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, writeFileSync } from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { EC2_GPU_INSTANCES, GFD_LABELS, GPK_SCHEDULER_NAME, GPU_PRODUCTS, GPU_RESOURCE, KIT_ANNOTATIONS } from "../gpu";
import { bundleRuntime } from "../components/runtime-bundle";
import { mulberry32, parsePolicyName } from "../runtime/scheduling";
import { FILTER_ANSWERS, type FilterAnswer } from "../runtime/scheduler-extender/options";

const ROOT = path.resolve(__dirname, "..");
const { values } = parseArgs({ options: { nodes: { type: "string" }, pods: { type: "string" }, policy: { type: "string" }, warmup: { type: "string" } } });
const NODES = Number(values.nodes ?? 5000);
const PODS = Number(values.pods ?? 2000);
const WARMUP = Number(values.warmup ?? 300);
const POLICY = parsePolicyName(values.policy ?? "gpk");
const rng = mulberry32(42);

const INSTANCES = [
  { type: "p5.48xlarge", share: 0.4, cpu: 192, memGi: 2048 },
  { type: "p4de.24xlarge", share: 0.3, cpu: 96, memGi: 1152 },
  { type: "g6e.12xlarge", share: 0.2, cpu: 48, memGi: 384 },
  { type: "g6.xlarge", share: 0.1, cpu: 4, memGi: 16 },
];
/** Pod shapes (GPUs, milli per GPU, CPU cores, memory GiB) and their frequency. */
const SHAPES = [
  { gpus: 1, milli: 1000, cpu: 8, memGi: 64, weight: 0.45 },
  { gpus: 2, milli: 1000, cpu: 16, memGi: 128, weight: 0.15 },
  { gpus: 4, milli: 1000, cpu: 32, memGi: 256, weight: 0.1 },
  { gpus: 8, milli: 1000, cpu: 64, memGi: 512, weight: 0.05 },
  { gpus: 1, milli: 500, cpu: 2, memGi: 16, weight: 0.15 },
  { gpus: 1, milli: 250, cpu: 1, memGi: 8, weight: 0.1 },
];

function pick<T extends { weight?: number; share?: number }>(items: T[]): T {
  let r = rng.next();
  for (const item of items) {
    r -= item.weight ?? item.share ?? 0;
    if (r <= 0) return item;
  }
  return items[items.length - 1]!;
}

function podObject(name: string, shape: (typeof SHAPES)[number], extra: { node?: string; gpus?: number[] } = {}) {
  const annotations: Record<string, string> = {};
  if (shape.milli < 1000) annotations[KIT_ANNOTATIONS.gpuMilli] = String(shape.milli);
  if (extra.node) annotations[KIT_ANNOTATIONS.gpuAssignment] = JSON.stringify({ node: extra.node, gpus: extra.gpus, milliPerGpu: shape.milli });
  return {
    metadata: { name, namespace: "bench", uid: `uid-${name}`, annotations },
    spec: {
      schedulerName: GPK_SCHEDULER_NAME,
      ...(extra.node ? { nodeName: extra.node } : {}),
      containers: [{ name: "main", resources: { requests: { cpu: String(shape.cpu), memory: `${shape.memGi}Gi` }, limits: { [GPU_RESOURCE]: String(shape.gpus) } } }],
    },
    status: { phase: extra.node ? "Running" : "Pending" },
  };
}

/** The cluster, half full: bound pods fill GPUs node by node with their recorded assignment. */
function buildSnapshot() {
  const nodes = [];
  const pods = [];
  for (let i = 0; i < NODES; i++) {
    const inst = pick(INSTANCES);
    const { product, gpus } = EC2_GPU_INSTANCES[inst.type]!;
    const name = `node-${String(i).padStart(5, "0")}`;
    nodes.push({
      metadata: {
        name,
        labels: { [GFD_LABELS.product]: GPU_PRODUCTS[product].gfdProduct, [GFD_LABELS.count]: String(gpus), "node.kubernetes.io/instance-type": inst.type },
        annotations: gpus === 8 ? { [KIT_ANNOTATIONS.gpuNuma]: "0,0,0,0,1,1,1,1" } : {},
      },
      status: { allocatable: { cpu: String(inst.cpu), memory: `${inst.memGi}Gi`, [GPU_RESOURCE]: String(gpus), pods: "110" } },
    });
    // Occupy about half of the node's GPUs with whole-GPU and shared pods.
    let cpuLeft = inst.cpu;
    for (let g = 0; g < gpus; g++) {
      if (rng.next() >= 0.5) continue;
      const shape = rng.next() < 0.7 ? SHAPES[0]! : SHAPES[4]!;
      if (shape.cpu > cpuLeft / 2) continue;
      cpuLeft -= shape.cpu;
      pods.push(podObject(`bound-${i}-${g}`, shape, { node: name, gpus: [g] }));
    }
  }
  const workload = SHAPES.map((s) => ({ cpuMilli: s.cpu * 1000, gpuMilli: s.milli, numGpu: s.gpus, gpuModels: [], weight: s.weight }));
  return { nodes, pods, workload };
}

interface Reply {
  ms: number;
  serverMs: number;
  status: number;
  text: string;
}

/**
 * One keep-alive HTTP/1.1 connection with Nagle off, one request at a time: what Go's
 * net/http transport does for kube-scheduler's extender client. node:http's client costs
 * about twice as much per request in this process, which is the measuring process, so it
 * would count against the extender. The server always answers with a content-length.
 */
class Connection {
  private readonly socket: net.Socket;
  private buffered: Buffer = Buffer.alloc(0);
  private waiting: { started: number; resolve(r: Reply): void; reject(e: Error): void } | null = null;

  constructor(port: number) {
    this.socket = net.connect(port, "127.0.0.1");
    this.socket.setNoDelay(true);
    this.socket.on("data", (chunk: Buffer) => this.onData(chunk));
    this.socket.on("error", (err) => this.waiting?.reject(err));
  }

  post(verb: string, body: string): Promise<Reply> {
    return new Promise((resolve, reject) => {
      this.waiting = { started: performance.now(), resolve, reject };
      this.socket.write(`POST /${verb} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const end = this.buffered.indexOf("\r\n\r\n");
    if (end < 0 || !this.waiting) return;
    const head = this.buffered.toString("latin1", 0, end);
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? NaN);
    if (this.buffered.length < end + 4 + length) return;
    const text = this.buffered.toString("utf8", end + 4, end + 4 + length);
    this.buffered = this.buffered.subarray(end + 4 + length);
    const { started, resolve } = this.waiting;
    this.waiting = null;
    resolve({
      ms: performance.now() - started,
      serverMs: Number(/\r\nserver-timing: *app;dur=([0-9.]+)/i.exec(head)?.[1] ?? NaN),
      status: Number(head.slice(9, 12)),
      text,
    });
  }
}

/**
 * kube-scheduler's extender calls: filter and prioritize on one connection, binds on others
 * (its binding cycle runs beside the next pod's scheduling cycle, so binds overlap it).
 */
class Client {
  private readonly cycle: Connection;
  private readonly idle: Connection[] = [];
  private readonly all: Connection[] = [];

  constructor(private readonly port: number) {
    this.cycle = this.open();
  }

  post(verb: "filter" | "prioritize", body: string): Promise<Reply> {
    return this.cycle.post(verb, body);
  }

  async bind(body: string): Promise<Reply> {
    const conn = this.idle.pop() ?? this.open();
    try {
      return await conn.post("bind", body);
    } finally {
      this.idle.push(conn);
    }
  }

  close(): void {
    for (const c of this.all) c.close();
  }

  private open(): Connection {
    const c = new Connection(this.port);
    this.all.push(c);
    return c;
  }
}

/**
 * The NodeNames array of a filter answer, as JSON, for the prioritize call. kube-scheduler
 * decodes the whole ExtenderFilterResult and encodes the names again, at Go's speed; in V8
 * that decoding (an object with one property per failed node) costs this measuring process
 * more than the extender spends on the request. So the client passes the array through, and
 * during warm-up decodes the whole answer to check that the two agree.
 */
function passingNodesJson(text: string, checkAll: boolean): string {
  const start = text.indexOf('"NodeNames":[');
  const end = text.indexOf('],"FailedNodes":', start);
  const names = start > 0 && end > start ? text.slice(start + 12, end + 1) : JSON.stringify(JSON.parse(text).NodeNames ?? []);
  if (checkAll) {
    const full = JSON.parse(text) as { NodeNames: string[]; Error: string };
    if (full.Error || JSON.stringify(full.NodeNames) !== names) throw new Error(`filter: NodeNames passed through differ from the decoded answer: ${text.slice(0, 200)}`);
  }
  return names;
}

/** The Host scored 10 in a HostPriorityList (decoded in full, and compared, during warm-up). */
function bestHost(text: string, checkAll: boolean): string {
  const at = text.indexOf(',"Score":10}');
  const from = text.lastIndexOf('{"Host":', at);
  const host: string | undefined = at > 0 && from >= 0 ? JSON.parse(text.slice(from + 8, at)) : undefined;
  if (checkAll || host === undefined) {
    const full = (JSON.parse(text) as { Host: string; Score: number }[]).filter((h) => h.Score === 10);
    if (full.length !== 1 || (host !== undefined && full[0]!.Host !== host)) throw new Error(`prioritize: expected one node scored 10 (${host}): ${text.slice(0, 200)}`);
    return full[0]!.Host;
  }
  return host;
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** kube-scheduler's numFeasibleNodesToFind with the adaptive percentageOfNodesToScore (schedule_one.go). */
export function adaptiveCandidates(allNodes: number): number {
  if (allNodes < 100) return allNodes;
  const percentage = Math.max(5, 50 - Math.floor(allNodes / 125));
  return Math.max(100, Math.floor((allNodes * percentage) / 100));
}

interface ModeResult {
  filterAnswer: FilterAnswer;
  candidatesPerFilter: number;
  measuredPods: number;
  unschedulable: number;
  filterPrioritizeMs: { p50: number; p99: number; max: number };
  serverComputeMs: { p50: number; p99: number };
  filterMs: { p50: number; p99: number };
  prioritizeMs: { p50: number; p99: number };
  bindMs: { p50: number; p99: number };
  podsPerSecond: number;
}

let serversStarted = 0;

async function startServer(bundleFile: string, snapshotFile: string, answer: FilterAnswer): Promise<{ port: number; stop(): void }> {
  // GPK_BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the server.
  const nodeArgs = (process.env.GPK_BENCH_SERVER_NODE_ARGS ?? "").split(" ").filter(Boolean);
  // The extender logs every bind. Its log goes to a file, as a container's log does, rather
  // than a pipe this (measuring) process would have to wake up for and drain on every bind.
  const logFile = path.join(path.dirname(snapshotFile), `extender-${++serversStarted}.log`);
  const logFd = openSync(logFile, "w");
  const server = spawn(process.execPath, [...nodeArgs, bundleFile, "--snapshot", snapshotFile, "--policy", POLICY, "--filter-answer", answer, "--port", "0", "--host", "127.0.0.1"], { stdio: ["ignore", "ignore", logFd] });
  closeSync(logFd);
  let exited: number | null | undefined;
  server.on("exit", (code) => (exited = code));
  for (;;) {
    const m = /listening on https?:\/\/[^:]+:(\d+)/.exec(readFileSync(logFile, "utf8"));
    if (m) return { port: Number(m[1]), stop: () => server.kill("SIGTERM") };
    if (exited !== undefined) throw new Error(`extender exited ${exited}: ${readFileSync(logFile, "utf8")}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * One scheduling cycle per pod: filter → prioritize, then bind without waiting for it. `candidates` is how many node names
 * each filter carries, taken from a rotating start as kube-scheduler's nextStartNodeIndex does. With the extender answering
 * its pick (`--filter-answer pick`) the filter passes one node and kube-scheduler binds it without a prioritize call.
 */
async function runMode(port: number, names: string[], candidates: number, answer: FilterAnswer): Promise<ModeResult> {
  const filterMs: number[] = [];
  const prioritizeMs: number[] = [];
  const cycleMs: number[] = [];
  const serverMs: number[] = [];
  const bindMs: number[] = [];
  const binds: Promise<void>[] = [];
  const client = new Client(port);
  const quotedNames = names.map((n) => JSON.stringify(n));
  const windows = new Map<number, string>();
  let unschedulable = 0;
  let started = 0;
  let next = 0;
  for (let i = 0; i < WARMUP + PODS; i++) {
    if (i === WARMUP) started = performance.now();
    const pod = podObject(`p-${candidates}-${i}`, pick(SHAPES));
    // Like kube-scheduler's client, the pod is encoded once per cycle; node names are quoted once.
    const podJson = JSON.stringify(pod);
    let window = windows.get(next);
    if (window === undefined) {
      const slice = candidates >= names.length ? quotedNames : Array.from({ length: candidates }, (_, k) => quotedNames[(next + k) % names.length]!);
      windows.set(next, (window = `[${slice.join(",")}]`));
    }
    next = (next + candidates) % names.length;
    const filter = await client.post("filter", `{"Pod":${podJson},"NodeNames":${window}}`);
    if (filter.status !== 200) throw new Error(`filter: ${filter.status} ${filter.text.slice(0, 200)}`);
    const passing = passingNodesJson(filter.text, i < WARMUP);
    if (passing === "[]") {
      unschedulable++;
      continue;
    }
    let prio: Reply = { status: 200, text: "", ms: 0, serverMs: 0 };
    let best: string;
    if (answer === "pick") {
      const picked = JSON.parse(passing) as string[];
      if (picked.length !== 1) throw new Error(`filter: the pick answer passed ${picked.length} nodes: ${passing.slice(0, 200)}`);
      best = picked[0]!;
    } else {
      prio = await client.post("prioritize", `{"Pod":${podJson},"NodeNames":${passing}}`);
      if (prio.status !== 200) throw new Error(`prioritize: ${prio.status} ${prio.text.slice(0, 200)}`);
      best = bestHost(prio.text, i < WARMUP);
    }
    const measured = i >= WARMUP;
    binds.push(client.bind(JSON.stringify({ PodName: pod.metadata.name, PodNamespace: "bench", PodUID: pod.metadata.uid, Node: best })).then((bind) => {
      if (bind.status !== 200 || JSON.parse(bind.text).Error) throw new Error(`bind: ${bind.text}`);
      if (measured) bindMs.push(bind.ms);
    }));
    if (!measured) continue;
    filterMs.push(filter.ms);
    prioritizeMs.push(prio.ms);
    cycleMs.push(filter.ms + prio.ms);
    serverMs.push(filter.serverMs + prio.serverMs);
  }
  await Promise.all(binds);
  const seconds = (performance.now() - started) / 1000;
  client.close();
  for (const a of [filterMs, prioritizeMs, cycleMs, bindMs, serverMs]) a.sort((x, y) => x - y);
  const r = (x: number) => Math.round(x * 1000) / 1000;
  const q = (a: number[]) => ({ p50: r(quantile(a, 0.5)), p99: r(quantile(a, 0.99)) });
  return {
    filterAnswer: answer,
    candidatesPerFilter: Math.min(candidates, names.length),
    measuredPods: cycleMs.length,
    unschedulable,
    filterPrioritizeMs: { ...q(cycleMs), max: r(cycleMs[cycleMs.length - 1]!) },
    serverComputeMs: q(serverMs),
    filterMs: q(filterMs),
    prioritizeMs: q(prioritizeMs),
    bindMs: q(bindMs),
    podsPerSecond: Math.round(cycleMs.length / seconds),
  };
}

function print(label: string, m: ModeResult): void {
  console.log(`${label}, filter answers ${m.filterAnswer === "pick" ? "the pick (no prioritize call)" : "every fitting node"}: ${m.candidatesPerFilter} node names per filter, ${m.measuredPods} pods (after ${WARMUP} warm-up)`);
  console.log(`  filter+prioritize  p50 ${m.filterPrioritizeMs.p50} ms  p99 ${m.filterPrioritizeMs.p99} ms  (server compute p50 ${m.serverComputeMs.p50} ms, p99 ${m.serverComputeMs.p99} ms)`);
  console.log(`  filter p50 ${m.filterMs.p50} ms, prioritize p50 ${m.prioritizeMs.p50} ms, bind p50 ${m.bindMs.p50} ms`);
  console.log(`  ${m.podsPerSecond} pods/s (one scheduling cycle at a time, binds alongside as kube-scheduler does)`);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "gpk-bench-extender-"));
  const snapshot = buildSnapshot();
  const snapshotFile = path.join(dir, "snapshot.json");
  writeFileSync(snapshotFile, JSON.stringify(snapshot));
  const bundle = bundleRuntime("scheduler-extender");
  const bundleFile = path.join(dir, bundle.fileName);
  writeFileSync(bundleFile, bundle.code);
  process.stderr.write(`bench:extender: ${NODES} nodes, ${snapshot.pods.length} bound pods, policy ${POLICY}, bundle ${(bundle.bytes / 1024).toFixed(0)} KiB, load ${os.loadavg()[0]!.toFixed(1)}\n`);
  const names = snapshot.nodes.map((n) => n.metadata.name);
  const modes: Record<string, ModeResult> = {};
  for (const answer of FILTER_ANSWERS) {
    for (const [label, candidates] of [["kube-scheduler default sampling", adaptiveCandidates(NODES)], ["every node (percentageOfNodesToScore: 100)", NODES]] as const) {
      const key = `${candidates === NODES ? "allNodes" : "defaultSampling"}${answer === "pick" ? "Pick" : ""}`;
      const server = await startServer(bundleFile, snapshotFile, answer);
      try {
        modes[key] = await runMode(server.port, names, candidates, answer);
      } finally {
        server.stop();
      }
      print(label, modes[key]!);
    }
  }
  const result = {
    nodes: NODES,
    boundPods: snapshot.pods.length,
    policy: POLICY,
    mode: "nodeCacheCapable (NodeNames)",
    warmupPods: WARMUP,
    ...modes,
    targets: { p99Ms: 5, podsPerSecond: 1000 },
    machine: { cpu: os.cpus()[0]?.model ?? "unknown", cores: os.cpus().length, loadAverage1m: Math.round(os.loadavg()[0]! * 100) / 100, node: process.version },
  };
  const out = path.join(ROOT, "bench", "out");
  mkdirSync(out, { recursive: true });
  writeFileSync(path.join(out, "extender.json"), `${JSON.stringify(result, null, 2)}\n`);
  console.log("wrote bench/out/extender.json");
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
