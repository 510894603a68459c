/**
 * HAMi as a profile of bench:scheduler on the binaries runtime's KWOK nodes: the helpers the
 * bench calls (annotate nodes, start HAMi and its kube-scheduler, stand in for HAMi's device
 * plugin at allocation, check HAMi's decisions), and a smoke run:
 *
 *   npx tsx bench/hami-profile.ts --smoke [--nodes 100] [--pods 100] [--qps 50] [--burst 100]
 *     [--node-policy binpack|spread] [--fresh-nodes] [--keep] [--json]
 *
 * Needs `gpk tools build --only kubernetes,kine,kwok,hami`. Everything listens on 127.0.0.1.
 * Progress goes to stderr; the smoke's figures (a smoke figure, not a benchmark) go to stdout.
 *
 * Why a stand-in for the device plugin: HAMi's bind takes a per-node lock (the node annotation
 * hami.io/mutex.lock) that its device plugin releases in kubelet's Allocate call, after setting
 * the pod's hami.io/bind-phase to success (HAMi v2.10.0 pkg/device-plugin/nvidiadevice/nvinternal/
 * plugin/util.go). KWOK nodes run no kubelet and no plugin, so without someone doing that each
 * node would take one HAMi pod per lock expiry (5 minutes, pkg/util/nodelock). The stand-in does
 * exactly those two writes once the pod is bound, as the plugin would when the kubelet admits it.
 */
import * as fs from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { stringify } from "yaml";
import { ApiError, apiRequest, waitFor, type ApiEndpoint } from "../cli/local/binaries/kube-api";
import { kwokNode, type KwokNode } from "../cli/local/binaries/nodes";
import { kubeconfigFile, layoutOf, type Layout } from "../cli/local/binaries/plan";
import { freePort, startProcess, type RunningProcess } from "../cli/local/binaries/processes";
import { adminEndpoint, downCluster, inParallel, upControlPlane, writeState, type BinariesCluster } from "../cli/local/binaries/runtime";
import { readPins } from "../cli/tools/recipes";
import { resolveTools } from "../cli/tools/resolve";
import { GFD_LABELS, GPU_PRODUCTS, GPU_RESOURCE, GPU_TAINT, tolerationFor, type GpuProduct } from "../gpu";
import {
  HAMI_ANNOTATIONS,
  HAMI_BIND_PHASE,
  HAMI_SCHEDULER_NAME,
  decodeHamiPodDevices,
  hamiDeviceConfig,
  hamiDevices,
  hamiKubeSchedulerConfiguration,
  hamiKubeSchedulerProcess,
  hamiNodeAnnotations,
  hamiRegisteredNodes,
  hamiSchedulerProcess,
  type HamiProcess,
} from "./hami";

const ROOT = path.resolve(__dirname, "..");

/**
 * A KWOK node with what HAMi's device plugin would have written on it for its `gpus` GPUs and,
 * where `handshakeAt` is given, the handshakes HAMi's scheduler leaves on nodes it has seen
 * (without them its first pass over 5,000 nodes takes 50,000 API calls at its client's QPS).
 */
export function withHamiAnnotations(node: KwokNode, gpus: number, product: GpuProduct = "h100", handshakeAt?: Date): KwokNode {
  const annotations = hamiNodeAnnotations(node.metadata.name, gpus, product, handshakeAt ? { handshakeAt } : {});
  return { ...node, metadata: { ...node.metadata, annotations: { ...node.metadata.annotations, ...annotations } } };
}

export interface HamiProfileOptions {
  /** The kube-scheduler and hami-scheduler binaries (resolveTools(…, ["kubernetes", "hami", …]).bin). */
  kubeScheduler: string;
  hamiScheduler: string;
  /** Client rate limit of both processes toward the API server. */
  qps: number;
  burst: number;
  nodePolicy?: "binpack" | "spread";
  percentageOfNodesToScore?: number;
}

export interface HamiProfile {
  /** HAMi's extender process and the kube-scheduler of the profile (stop and restart the latter as the bench does its schedulers). */
  hami: RunningProcess;
  kubeScheduler: RunningProcess;
  /** The spec the kube-scheduler was started from, to start it again. */
  kubeSchedulerSpec: HamiProcess;
  /** The device plugin's stand-in, already running; stop() it before tearing the cluster down. */
  allocator: HamiAllocator;
}

function start(spec: HamiProcess, layout: Layout) {
  return startProcess(spec, { logDir: layout.logs, env: { ...process.env, ...spec.env } });
}

/**
 * Starts HAMi's scheduler and a kube-scheduler with the one profile `hami-scheduler` calling it,
 * both as the cluster's admin (the bench measures scheduling, not RBAC), records them in the
 * cluster's state so `gpk local down` stops them, waits until HAMi has registered every node
 * that carries its register annotation, and starts the device plugin's stand-in.
 */
export async function startHamiProfile(cluster: BinariesCluster, stack: string, o: HamiProfileOptions, log: (line: string) => void): Promise<HamiProfile> {
  const layout = layoutOf(ROOT, stack);
  const api = adminEndpoint(layout, cluster);
  const hamiKubeconfig = kubeconfigFile(layout, "hami-scheduler");
  const schedulerKubeconfig = kubeconfigFile(layout, "hami-kube-scheduler");
  fs.copyFileSync(layout.kubeconfig, hamiKubeconfig);
  fs.copyFileSync(layout.kubeconfig, schedulerKubeconfig);
  const deviceConfigFile = path.join(layout.root, "hami-device-config.yaml");
  fs.writeFileSync(deviceConfigFile, stringify(hamiDeviceConfig()));
  const [port, metricsPort, schedulerPort] = [await freePort(), await freePort(), await freePort()];
  const hamiSpec = hamiSchedulerProcess({ bin: o.hamiScheduler, kubeconfig: hamiKubeconfig, deviceConfigFile, port, metricsPort, qps: o.qps, burst: o.burst, nodePolicy: o.nodePolicy });
  const configFile = path.join(layout.root, "hami-kube-scheduler.yaml");
  const config = hamiKubeSchedulerConfiguration({ extenderPort: port, kubeconfig: schedulerKubeconfig, qps: o.qps, burst: o.burst, percentageOfNodesToScore: o.percentageOfNodesToScore });
  fs.writeFileSync(configFile, stringify(config));
  const kubeSchedulerSpec = hamiKubeSchedulerProcess({ bin: o.kubeScheduler, configFile, kubeconfig: schedulerKubeconfig, port: schedulerPort, certDir: path.join(layout.certs, "hami-kube-scheduler") });
  const hami = await start(hamiSpec, layout);
  cluster.processes.push(hami);
  writeState(layout, cluster);
  log(`hami-scheduler on 127.0.0.1:${port} (pid ${hami.pid}, log ${hami.log})`);
  const expected = await hamiNodeNames(api);
  const registering = Date.now();
  await waitFor(`HAMi registering ${expected.length} nodes`, async () => hamiRegisteredNodes(await httpGet(metricsPort, "/metrics")).size >= expected.length, 120_000 + expected.length * 200, 1_000);
  log(`HAMi has registered ${expected.length} nodes in ${((Date.now() - registering) / 1000).toFixed(1)} s`);
  const kubeScheduler = await start(kubeSchedulerSpec, layout);
  cluster.processes.push(kubeScheduler);
  writeState(layout, cluster);
  log(`hami-kube-scheduler on 127.0.0.1:${schedulerPort} (pid ${kubeScheduler.pid})`);
  const allocator = await startHamiAllocator(api, log);
  return { hami, kubeScheduler, kubeSchedulerSpec, allocator };
}

/** The nodes that carry HAMi's register annotation. */
async function hamiNodeNames(api: ApiEndpoint): Promise<string[]> {
  const list = (await apiRequest(api, "GET", "/api/v1/nodes")) as { items: { metadata: { name: string; annotations?: Record<string, string> } }[] };
  return list.items.filter((n) => n.metadata.annotations?.[HAMI_ANNOTATIONS.register] !== undefined).map((n) => n.metadata.name);
}

/** GET of a plain-HTTP endpoint on loopback (HAMi's metrics). */
function httpGet(port: number, urlPath: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get({ host: "127.0.0.1", port, path: urlPath }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString("utf8")));
      res.on("end", () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`GET 127.0.0.1:${port}${urlPath}: ${res.statusCode}`))));
    }).on("error", reject);
  });
}

interface WatchedPod {
  metadata: { name: string; namespace: string; uid: string; resourceVersion: string; annotations?: Record<string, string> };
  spec: { nodeName?: string; schedulerName?: string };
}

export interface HamiAllocator {
  /** Pods it has completed allocation for. */
  readonly allocated: number;
  /** Errors met (each also logged); the smoke fails on any. */
  readonly errors: string[];
  stop(): Promise<void>;
}

/**
 * What HAMi's device plugin does when the kubelet calls Allocate for a pod HAMi bound: mark the
 * pod's bind phase `success`, then release the node lock if this pod holds it (the lock's value
 * ends with `,<namespace>,<name>`; removed with the node's resourceVersion, retried on conflict).
 * It watches every namespace's pods with schedulerName hami-scheduler.
 */
export async function startHamiAllocator(api: ApiEndpoint, log: (line: string) => void): Promise<HamiAllocator> {
  const done = new Set<string>();
  const errors: string[] = [];
  const queue: WatchedPod[] = [];
  let stopped = false;
  let allocated = 0;
  const idle: (() => void)[] = [];
  const selector = `fieldSelector=${encodeURIComponent(`spec.schedulerName=${HAMI_SCHEDULER_NAME}`)}`;
  const consider = (pod: WatchedPod) => {
    if (!pod.spec.nodeName || pod.metadata.annotations?.[HAMI_ANNOTATIONS.bindPhase] !== HAMI_BIND_PHASE.allocating || done.has(pod.metadata.uid)) return;
    done.add(pod.metadata.uid);
    queue.push(pod);
    idle.shift()?.();
  };
  const allocate = async (pod: WatchedPod) => {
    const { name, namespace } = pod.metadata;
    const node = pod.spec.nodeName!;
    try {
      await apiRequest(api, "PATCH", `/api/v1/namespaces/${namespace}/pods/${name}`, { metadata: { annotations: { [HAMI_ANNOTATIONS.bindPhase]: HAMI_BIND_PHASE.success } } }, "application/merge-patch+json");
      for (let attempt = 0; ; attempt++) {
        const current = (await apiRequest(api, "GET", `/api/v1/nodes/${node}`)) as { metadata: { resourceVersion: string; annotations?: Record<string, string> } };
        const lock = current.metadata.annotations?.[HAMI_ANNOTATIONS.nodeLock];
        if (lock === undefined || !lock.endsWith(`,${namespace},${name}`)) break;
        try {
          await apiRequest(api, "PATCH", `/api/v1/nodes/${node}`, { metadata: { annotations: { [HAMI_ANNOTATIONS.nodeLock]: null }, resourceVersion: current.metadata.resourceVersion } }, "application/merge-patch+json");
          break;
        } catch (err) {
          if (!(err instanceof ApiError && err.status === 409) || attempt >= 5) throw err;
        }
      }
      allocated++;
    } catch (err) {
      const line = `allocation stand-in: ${namespace}/${name} on ${node}: ${(err as Error).message}`;
      errors.push(line);
      log(line);
    }
  };
  // Allocations run concurrently across pods, as kubelets on different nodes would.
  const workers = Array.from({ length: 8 }, async () => {
    while (!stopped) {
      const pod = queue.shift();
      if (pod) await allocate(pod);
      else await new Promise<void>((resolve) => idle.push(resolve));
    }
  });
  const initial = (await apiRequest(api, "GET", `/api/v1/pods?${selector}`)) as { metadata: { resourceVersion: string }; items: WatchedPod[] };
  for (const pod of initial.items) consider(pod);
  let resourceVersion = initial.metadata.resourceVersion;
  let request: ReturnType<typeof https.get> | undefined;
  const watch = async () => {
    while (!stopped) {
      await new Promise<void>((resolve) => {
        const url = new URL(`/api/v1/pods?${selector}&watch=1&allowWatchBookmarks=true&timeoutSeconds=300&resourceVersion=${resourceVersion}`, api.server);
        request = https.get(url, { ca: api.ca, headers: { authorization: `Bearer ${api.token}` } }, (res) => {
          if (res.statusCode !== 200) {
            // 410 Gone and the like: list again from now, after a pause.
            res.resume();
            resourceVersion = "";
            setTimeout(resolve, 200);
            return;
          }
          let buffer = "";
          res.on("data", (chunk: Buffer) => {
            buffer += chunk.toString("utf8");
            let newline: number;
            while ((newline = buffer.indexOf("\n")) >= 0) {
              const line = buffer.slice(0, newline);
              buffer = buffer.slice(newline + 1);
              if (!line.trim()) continue;
              const event = JSON.parse(line) as { type: string; object: WatchedPod & { code?: number } };
              if (event.type === "ERROR") {
                // 410 Gone: the resourceVersion is too old; list again from now.
                resourceVersion = "";
                continue;
              }
              resourceVersion = event.object.metadata.resourceVersion;
              if (event.type === "ADDED" || event.type === "MODIFIED") consider(event.object);
            }
          });
          res.on("end", resolve);
          res.on("error", resolve);
        });
        request.on("error", () => setTimeout(resolve, 200));
      });
      if (!stopped && resourceVersion === "") {
        const again = (await apiRequest(api, "GET", `/api/v1/pods?${selector}`)) as { metadata: { resourceVersion: string }; items: WatchedPod[] };
        for (const pod of again.items) consider(pod);
        resourceVersion = again.metadata.resourceVersion;
      }
    }
  };
  const watching = watch();
  log("HAMi allocation stand-in watching pods");
  return {
    get allocated() {
      return allocated;
    },
    errors,
    async stop() {
      stopped = true;
      request?.destroy();
      await watching;
      for (const resume of idle.splice(0)) resume();
      await Promise.all(workers);
    },
  };
}

interface BoundPod {
  metadata: { name: string; annotations?: Record<string, string> };
  spec: { nodeName?: string; containers: { resources: { limits?: Record<string, string> } }[] };
}

/**
 * Checks HAMi's decisions on bound pods against the nodes' registered GPUs: the pod's recorded
 * node is the node it is bound to, it holds as many distinct GPUs of that node as it asked for,
 * and no GPU is given to two pods (each pod takes a GPU's whole memory). Returns the problems.
 */
export function checkHamiPlacements(pods: BoundPod[], gpusPerNode: number, product: GpuProduct = "h100"): string[] {
  const problems: string[] = [];
  const owner = new Map<string, string>();
  for (const pod of pods) {
    const name = pod.metadata.name;
    const node = pod.spec.nodeName;
    const annotations = pod.metadata.annotations ?? {};
    if (!node) {
      problems.push(`${name}: not bound`);
      continue;
    }
    if (annotations[HAMI_ANNOTATIONS.assignedNode] !== node) problems.push(`${name}: bound to ${node}, HAMi recorded ${annotations[HAMI_ANNOTATIONS.assignedNode]}`);
    const text = annotations[HAMI_ANNOTATIONS.devicesAllocated];
    if (text === undefined) {
      problems.push(`${name}: no ${HAMI_ANNOTATIONS.devicesAllocated}`);
      continue;
    }
    const wanted = pod.spec.containers.reduce((sum, c) => sum + Number(c.resources.limits?.[GPU_RESOURCE] ?? 0), 0);
    const devices = decodeHamiPodDevices(text).flat();
    const nodeGpus = new Map(hamiDevices(node, gpusPerNode, product).map((d) => [d.id, d] as const));
    if (devices.length !== wanted || new Set(devices.map((d) => d.uuid)).size !== wanted) problems.push(`${name}: asked for ${wanted} GPUs, got ${devices.map((d) => d.uuid).join(" ")}`);
    for (const d of devices) {
      const gpu = nodeGpus.get(d.uuid);
      if (!gpu) problems.push(`${name}: ${d.uuid} is not a GPU of ${node}`);
      else if (d.usedmem !== gpu.devmem) problems.push(`${name}: ${d.uuid} given ${d.usedmem} MiB of ${gpu.devmem}`);
      const previous = owner.get(d.uuid);
      if (previous) problems.push(`${name}: ${d.uuid} already given to ${previous}`);
      owner.set(d.uuid, name);
    }
  }
  return problems;
}

/** A whole-GPU pod for the HAMi profile: the bench's pod shape with schedulerName hami-scheduler. */
export function hamiBenchPod(name: string, namespace: string, gpus: number): object {
  const resources = { cpu: String(gpus * 8), memory: `${gpus * 64}Gi`, [GPU_RESOURCE]: String(gpus) };
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace },
    spec: {
      schedulerName: HAMI_SCHEDULER_NAME,
      tolerations: [tolerationFor(GPU_TAINT)],
      containers: [{ name: "main", image: "bench", resources: { requests: resources, limits: resources } }],
    },
  };
}

async function smoke(): Promise<void> {
  const config = {
    options: {
      smoke: { type: "boolean" }, nodes: { type: "string" }, pods: { type: "string" }, qps: { type: "string" }, burst: { type: "string" },
      "node-policy": { type: "string" }, "fresh-nodes": { type: "boolean" }, keep: { type: "boolean" }, json: { type: "boolean" },
    },
  } as const;
  let parsed: ReturnType<typeof parseArgs<typeof config>>;
  try {
    parsed = parseArgs(config);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values } = parsed;
  const number = (flag: string, raw: string | undefined, fallback: number) => {
    const v = Number(raw ?? fallback);
    if (!Number.isInteger(v) || v < 1) throw new UsageError(`--${flag}: expected a whole number of at least 1, got ${JSON.stringify(raw)}`);
    return v;
  };
  if (!values.smoke) throw new UsageError("expected --smoke (the other exports are helpers for bench/scheduler.ts)");
  const nodeCount = number("nodes", values.nodes, 100);
  const podCount = number("pods", values.pods, 100);
  const qps = number("qps", values.qps, 50);
  const burst = number("burst", values.burst, 100);
  const nodePolicy = values["node-policy"] ?? "binpack";
  if (nodePolicy !== "binpack" && nodePolicy !== "spread") throw new UsageError(`--node-policy: expected binpack or spread, got ${JSON.stringify(nodePolicy)}`);
  const log = (line: string) => process.stderr.write(`[hami] ${line}\n`);
  const tools = resolveTools(readPins(), process.env, ["kubernetes", "kine", "kwok", "hami"]);
  const stack = "bench-hami-smoke";
  const gpusPerNode = 8;
  const h100 = GPU_PRODUCTS.h100;
  const settledAt = new Date();
  const nodes = Array.from({ length: nodeCount }, (_, i) => {
    const labels = { [GFD_LABELS.product]: h100.gfdProduct, [GFD_LABELS.count]: String(gpusPerNode), [GFD_LABELS.memory]: String(h100.memoryMiB) };
    const node = kwokNode(`bench-gpu-${String(i).padStart(5, "0")}`, labels, [{ ...GPU_TAINT }], { cpu: "192", memory: "2048Gi", pods: "110", [GPU_RESOURCE]: String(gpusPerNode) });
    // --fresh-nodes: no handshakes, so HAMi's first pass writes them itself.
    return withHamiAnnotations(node, gpusPerNode, "h100", values["fresh-nodes"] ? undefined : settledAt);
  });
  await downCluster(ROOT, stack, log);
  const cluster = await upControlPlane({ repoRoot: ROOT, stack, nodes, realNodes: [], tools, log });
  let profile: HamiProfile | undefined;
  try {
    profile = await startHamiProfile(cluster, stack, { kubeScheduler: tools.bin["kube-scheduler"]!, hamiScheduler: tools.bin["hami-scheduler"]!, qps, burst, nodePolicy }, log);
    const api = adminEndpoint(layoutOf(ROOT, stack), cluster);
    const namespace = "bench-hami";
    await apiRequest(api, "POST", "/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } });
    await waitFor(`${namespace}/default service account`, async () => (await apiRequest(api, "GET", `/api/v1/namespaces/${namespace}/serviceaccounts/default`)) !== undefined, 30_000);
    // Whole GPUs in the bench's proportions (1, 2, 4, 8 GPUs), in a fixed cycle.
    const cycle = [1, 1, 1, 1, 1, 1, 2, 2, 4, 8];
    const pods = Array.from({ length: podCount }, (_, i) => hamiBenchPod(`p-${i}`, namespace, cycle[i % cycle.length]!));
    const started = Date.now();
    await inParallel(pods, 32, (pod) => apiRequest(api, "POST", `/api/v1/namespaces/${namespace}/pods`, pod));
    log(`${podCount} pods created in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    await waitFor(`${podCount} HAMi pods bound`, async () => {
      const list = (await apiRequest(api, "GET", `/api/v1/namespaces/${namespace}/pods?fieldSelector=spec.nodeName%3D`)) as { items: unknown[] };
      return list.items.length === 0;
    }, 600_000, 100);
    const seconds = (Date.now() - started) / 1000;
    const bound = (await apiRequest(api, "GET", `/api/v1/namespaces/${namespace}/pods`)) as { items: BoundPod[] };
    const problems = checkHamiPlacements(bound.items, gpusPerNode);
    await waitFor("the stand-in's allocations", async () => profile!.allocator.allocated + profile!.allocator.errors.length >= podCount, 60_000);
    const usedNodes = new Set(bound.items.map((p) => p.spec.nodeName)).size;
    const result = { nodes: nodeCount, pods: podCount, qps, burst, nodePolicy, seconds: Math.round(seconds * 10) / 10, podsPerSecond: Math.round((podCount / seconds) * 10) / 10, nodesUsed: usedNodes, placementProblems: problems, allocationErrors: profile.allocator.errors };
    if (values.json) console.log(JSON.stringify(result));
    else console.log(`HAMi smoke (${nodePolicy}, QPS ${qps}, burst ${burst}): ${podCount} pods on ${nodeCount} KWOK nodes bound in ${result.seconds} s (${result.podsPerSecond} pods/s, smoke figure), ${usedNodes} nodes used, ${problems.length} placement problems, ${profile.allocator.errors.length} allocation errors`);
    for (const p of problems) log(p);
    if (problems.length > 0 || profile.allocator.errors.length > 0) process.exitCode = 1;
  } finally {
    await profile?.allocator.stop();
    if (!values.keep) await downCluster(ROOT, stack, log);
  }
}

class UsageError extends Error {}

if (require.main === module) {
  smoke().catch((err) => {
    process.stderr.write(`hami-profile: ${(err as Error).message}\n`);
    process.exitCode = err instanceof UsageError ? 2 : 1;
  });
}
