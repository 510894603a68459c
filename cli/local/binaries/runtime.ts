/**
 * The binaries runtime: a real control plane from upstream binaries, as local processes on
 * loopback, with KWOK standing in for the kubelets. `upControlPlane` starts kine,
 * kube-apiserver, kube-controller-manager, kube-scheduler and KWOK and registers the stack's
 * nodes; `startKitProcesses` starts `gpk extender` and `gpk-scheduler` once the stack's
 * objects (service accounts, scheduler configuration) are in the cluster.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse, stringify } from "yaml";
import { EXTENDER_NAME, EXTENDER_TLS_SECRET, SCHEDULER_CLIENT_NAME, SCHEDULER_TLS_SECRET } from "../../../components/scheduler-extender";
import { PROMETHEUS_OPERATOR_CRD_DIR } from "../../../data/paths";
import { GPK_SCHEDULER_NAME, SYSTEM_NAMESPACE } from "../../../gpu";
import { TLS_FILES } from "../../../runtime/scheduler-extender/options";
import type { ResolvedTools } from "../../tools/resolve";
import { ApiError, apiRequest, applyObject, serviceAccountToken, waitFor, type ApiEndpoint } from "./kube-api";
import type { KwokNode } from "./nodes";
import { issueCertificate } from "../../../components/kit-pki";
import {
  API_SERVICE_ADDRESS,
  IDENTITIES,
  KUBELET_CLIENT_USER,
  kubeletClientRoleBinding,
  apiserverCertFile,
  apiserverSpec,
  controllerManagerSpec,
  extenderSpec,
  gpkSchedulerSpec,
  kineSpec,
  kubeconfigFile,
  kubeconfigYaml,
  kwokClusterRole,
  kwokClusterRoleBinding,
  kwokSpec,
  layoutOf,
  localSchedulerConfig,
  schedulerSpec,
  serverUrl,
  tlsDir,
  tokenFile,
  type Identity,
  type Layout,
  type Ports,
  type ProcessName,
} from "./plan";
import { freePort, isRunning, portInUse, startProcess, stopProcesses, type RunningProcess } from "./processes";
import { REAL_NODE_KUBELET_PORTS, type RealNodeSpec } from "./real-node-plan";
import { startRealNode, stopRealNode, type RealNodeBinaries, type RealNodeState } from "./real-node";
import { buildPauseImage, buildRuntimeImage, kitVersion } from "../../images/kit-images";
import { onPath } from "../../tools/debian";
import { readPins } from "../../tools/recipes";
import { locateBinary } from "../../tools/resolve";

export interface BinariesCluster {
  stack: string;
  runtime: "binaries";
  kubeconfig: string;
  server: string;
  ports: Ports;
  processes: RunningProcess[];
  /** Nodes run by a real kubelet (the others are KWOK's). Absent in state written before them. */
  realNodes?: RealNodeState[];
  /** The locally built images the real nodes hold, as pods reference them. */
  images?: { name: string; ref: string }[];
}

const CONTROL_PLANE: ProcessName[] = ["kine", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"];
const KIT_PROCESSES: ProcessName[] = ["gpk-extender", "gpk-scheduler"];
const PORT_NAMES: (keyof Ports)[] = ["kine", "kineMetrics", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "gpk-extender", "gpk-extender-health", "gpk-scheduler"];

export function readState(layout: Layout): BinariesCluster | undefined {
  try {
    return JSON.parse(fs.readFileSync(layout.state, "utf8")) as BinariesCluster;
  } catch {
    return undefined;
  }
}

export function writeState(layout: Layout, cluster: BinariesCluster): void {
  fs.writeFileSync(layout.state, `${JSON.stringify(cluster, null, 2)}\n`);
}

function running(cluster: BinariesCluster, names: ProcessName[]): boolean {
  return names.every((n) => cluster.processes.some((p) => p.name === n && isRunning(p.pid, p.command)));
}

/** A real node's user: the Node authorizer gives `system:node:<name>` in `system:nodes` exactly its node's rights. */
export function nodeIdentity(name: string): { user: string; groups: string[] } {
  return { user: `system:node:${name}`, groups: ["system:nodes"] };
}

/** Keys and tokens are made once per cluster folder, so a restart keeps every credential valid. */
function ensureCredentials(layout: Layout, realNodes: string[]): { tokens: Record<Identity, string>; nodeTokens: Record<string, string> } {
  fs.mkdirSync(layout.certs, { recursive: true, mode: 0o700 });
  if (!fs.existsSync(layout.serviceAccountKey)) {
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    fs.writeFileSync(layout.serviceAccountKey, privateKey.export({ type: "pkcs1", format: "pem" }), { mode: 0o600 });
    fs.writeFileSync(layout.serviceAccountPub, publicKey.export({ type: "spki", format: "pem" }));
  }
  const tokensJson = path.join(layout.certs, "tokens.json");
  let tokens: Record<Identity, string>;
  if (fs.existsSync(tokensJson)) tokens = JSON.parse(fs.readFileSync(tokensJson, "utf8"));
  else {
    tokens = Object.fromEntries((Object.keys(IDENTITIES) as Identity[]).map((id) => [id, randomBytes(24).toString("hex")])) as Record<Identity, string>;
    fs.writeFileSync(tokensJson, JSON.stringify(tokens), { mode: 0o600 });
  }
  const nodeTokensJson = path.join(layout.certs, "node-tokens.json");
  const nodeTokens: Record<string, string> = fs.existsSync(nodeTokensJson) ? JSON.parse(fs.readFileSync(nodeTokensJson, "utf8")) : {};
  for (const name of realNodes) nodeTokens[name] ??= randomBytes(24).toString("hex");
  fs.writeFileSync(nodeTokensJson, JSON.stringify(nodeTokens), { mode: 0o600 });
  const nodeLines = Object.entries(nodeTokens).map(([name, token]) => {
    const { user, groups } = nodeIdentity(name);
    return `${token},${user},${user},"${groups.join(",")}"\n`;
  });
  fs.writeFileSync(layout.tokensFile, tokenFile(tokens) + nodeLines.join(""), { mode: 0o600 });
  ensureKubeletClientCertificate(layout);
  return { tokens, nodeTokens };
}

/** The API server's kubelet client certificate and its CA, issued once per cluster folder (components/kit-pki.ts). */
function ensureKubeletClientCertificate(layout: Layout): void {
  const files = layout.kubeletClient;
  if ([files.ca, files.cert, files.key].every((f) => fs.existsSync(f))) return;
  const ca = issueCertificate({ commonName: "gpk-local-kubelet-client-ca", usage: "ca", validityHours: KUBELET_CLIENT_VALIDITY_HOURS });
  const client = issueCertificate({ commonName: KUBELET_CLIENT_USER, usage: "client", validityHours: KUBELET_CLIENT_VALIDITY_HOURS }, ca);
  fs.writeFileSync(files.ca, ca.certPem);
  fs.writeFileSync(files.cert, client.certPem);
  fs.writeFileSync(files.key, client.keyPem, { mode: 0o600 });
}

/** A local cluster lives for a working session; a year keeps a long-lived one working. */
const KUBELET_CLIENT_VALIDITY_HOURS = 24 * 365;

/** The ports of the last run where still free (so kubeconfigs stay the same), fresh ones otherwise. */
async function choosePorts(previous: Ports | undefined): Promise<Ports> {
  const ports = {} as Ports;
  const taken = new Set<number>();
  for (const name of PORT_NAMES) {
    const old = previous?.[name];
    let port = old !== undefined && !(await portInUse(old)) ? old : await freePort();
    while (taken.has(port)) port = await freePort();
    taken.add(port);
    ports[name] = port;
  }
  return ports;
}

function endpoint(layout: Layout, ports: Ports, token: string): ApiEndpoint | undefined {
  const cert = apiserverCertFile(layout);
  if (!fs.existsSync(cert)) return undefined;
  return { server: serverUrl(ports), token, ca: fs.readFileSync(cert, "utf8") };
}

export interface UpOptions {
  repoRoot: string;
  /** Names the cluster's folder (.gpk/binaries/<stack>). */
  stack: string;
  /** The KWOK nodes to register (planNodes(config, n).kwok for a stack). */
  nodes: KwokNode[];
  /** The nodes to run as real kubelets (planNodes(config, n).real). */
  realNodes: RealNodeSpec[];
  tools: ResolvedTools;
  log: (line: string) => void;
}

/** Starts the control plane (or finds it running) and registers the stack's KWOK nodes. */
export async function upControlPlane(opts: UpOptions): Promise<BinariesCluster> {
  const layout = layoutOf(opts.repoRoot, opts.stack);
  const previous = readState(layout);
  if (previous && running(previous, CONTROL_PLANE)) {
    opts.log(`control plane of ${opts.stack} is running (${layout.root}); updating its nodes`);
    await registerNodes(adminEndpoint(layout, previous), opts);
    if (!sameRealNodes(previous, opts.realNodes)) throw new Error(`the running cluster has real nodes [${(previous.realNodes ?? []).map((n) => n.name).join(", ")}], not [${opts.realNodes.map((n) => n.name).join(", ")}]: run \`gpk local down\` first`);
    return previous;
  }
  if (previous) {
    opts.log("some control-plane processes had stopped; restarting all of them on the same state");
    await stopProcesses(previous.processes);
  }
  for (const dir of [layout.logs, layout.kubeconfigDir, path.dirname(layout.kineDb)]) fs.mkdirSync(dir, { recursive: true });
  const { tokens, nodeTokens } = ensureCredentials(layout, opts.realNodes.map((n) => n.name));
  const ports = await choosePorts(previous?.ports);
  const bin = opts.tools.bin;
  const cluster: BinariesCluster = { stack: opts.stack, runtime: "binaries", kubeconfig: layout.kubeconfig, server: serverUrl(ports), ports, processes: [] };
  const start = async (spec: Parameters<typeof startProcess>[0], api?: () => ApiEndpoint | undefined) => {
    opts.log(`starting ${spec.name} on 127.0.0.1:${spec.port}`);
    const started = Date.now();
    const proc = await startProcess(spec, { logDir: layout.logs, api, timeoutMs: spec.name === "kube-apiserver" ? 180_000 : 120_000 });
    cluster.processes.push(proc);
    writeState(layout, cluster);
    opts.log(`${spec.name} ready in ${((Date.now() - started) / 1000).toFixed(1)} s (pid ${proc.pid})`);
  };
  try {
    await start(kineSpec(bin.kine!, layout, ports));
    await start(apiserverSpec(bin["kube-apiserver"]!, layout, ports), () => endpoint(layout, ports, tokens.admin));
    const ca = fs.readFileSync(apiserverCertFile(layout), "utf8");
    for (const id of Object.keys(IDENTITIES) as Identity[]) {
      fs.writeFileSync(kubeconfigFile(layout, id), kubeconfigYaml(cluster.server, ca, IDENTITIES[id].user, tokens[id]), { mode: 0o600 });
    }
    fs.copyFileSync(kubeconfigFile(layout, "admin"), layout.kubeconfig);
    const api = adminEndpoint(layout, cluster);
    await start(controllerManagerSpec(bin["kube-controller-manager"]!, layout, ports));
    await start(schedulerSpec(bin["kube-scheduler"]!, layout, ports));
    await applyObject(api, "/apis/rbac.authorization.k8s.io/v1/clusterroles/gpk-kwok", kwokClusterRole());
    await applyObject(api, "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/gpk-kwok", kwokClusterRoleBinding());
    await applyObject(api, "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/gpk-kubelet-api-admin", kubeletClientRoleBinding());
    await start(kwokSpec(bin.kwok!, opts.tools.kwokStages, layout, ports));
    await registerNodes(api, opts);
    await installClusterCrds(api, opts.log);
    if (opts.realNodes.length > 0) await startRealNodes(cluster, api, { kubeProxy: tokens.kubeProxy, nodes: nodeTokens }, layout, opts);
  } catch (err) {
    await stopRealNodes(cluster, opts.log);
    await stopProcesses(cluster.processes);
    throw err;
  }
  return cluster;
}

function sameRealNodes(cluster: BinariesCluster, wanted: RealNodeSpec[]): boolean {
  const running = (cluster.realNodes ?? []).map((n) => n.name).sort();
  return JSON.stringify(running) === JSON.stringify(wanted.map((n) => n.name).sort());
}

/** The host programs of a real node: two the kit builds, the rest from Debian (`gpk tools system`). */
function realNodeBinaries(tools: ResolvedTools): RealNodeBinaries {
  const fromPath = (name: string) => {
    const found = onPath(name);
    if (!found) throw new Error(`real nodes need ${name}: run \`gpk tools system\` as root (or --real-nodes 0 for KWOK nodes only)`);
    return found;
  };
  return { kubelet: tools.bin.kubelet!, kubeProxy: tools.bin["kube-proxy"]!, crictl: tools.bin.crictl!, containerd: fromPath("containerd"), ctr: fromPath("ctr"), socat: fromPath("socat") };
}

/** Builds the kit's images, then starts each real node and waits until the API server lists it Ready. */
async function startRealNodes(cluster: BinariesCluster, api: ApiEndpoint, tokens: { kubeProxy: string; nodes: Record<string, string> }, layout: Layout, opts: UpOptions): Promise<void> {
  const bin = realNodeBinaries(opts.tools);
  opts.log("building the kit's images (runtime bundles on Node.js, pause)");
  const pause = buildPauseImage(readPins().kubernetes);
  const runtime = buildRuntimeImage(kitVersion());
  cluster.images = [pause, runtime].map((i) => ({ name: i.name, ref: i.ref }));
  cluster.realNodes = [];
  for (const spec of opts.realNodes) {
    // Inside the node, the API server is at the tunnel's address (its certificate names it: the advertised address).
    const server = `https://${API_SERVICE_ADDRESS}:${cluster.ports["kube-apiserver"]}`;
    const kubeconfig = kubeconfigYaml(server, api.ca, nodeIdentity(spec.name).user, tokens.nodes[spec.name]!);
    const node = await startRealNode({
      clusterRoot: layout.root,
      spec,
      bin,
      images: { pause, others: [runtime] },
      apiPort: cluster.ports["kube-apiserver"],
      kubeconfig,
      kubeProxyKubeconfig: kubeconfigYaml(server, api.ca, IDENTITIES.kubeProxy.user, tokens.kubeProxy),
      ports: REAL_NODE_KUBELET_PORTS,
      kubeletClientCa: layout.kubeletClient.ca,
      logDir: layout.logs,
      log: opts.log,
      nodeReady: async () => {
        try {
          const node = (await apiRequest(api, "GET", `/api/v1/nodes/${spec.name}`)) as { status?: { conditions?: { type: string; status: string }[] } };
          return node.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
        } catch (err) {
          if (err instanceof ApiError && err.status === 404) return false;
          throw err;
        }
      },
    });
    cluster.realNodes.push(node);
    writeState(layout, cluster);
  }
}

/** crictl for `down`, which may run where the other tools are not all built. */
function findCrictl(): string {
  return locateBinary("crictl", "crictl", readPins())?.path ?? "crictl";
}

/** Stops every real node of the cluster; returns what they left behind. */
async function stopRealNodes(cluster: BinariesCluster, log: (line: string) => void): Promise<string[]> {
  const left: string[] = [];
  for (const node of cluster.realNodes ?? []) {
    log(`stopping real node ${node.name}`);
    left.push(...(await stopRealNode(node, { crictl: findCrictl() }, log)));
  }
  return left;
}

/**
 * CRDs a GPU cluster's monitoring stack brings and the kit's objects need: the Prometheus
 * Operator's PrometheusRule (the stack's GPU alerts). A real cluster has them from
 * kube-prometheus-stack; without them the API server refuses the alert rules (found on the
 * first real `pulumi up`).
 */
async function installClusterCrds(api: ApiEndpoint, log: (line: string) => void): Promise<void> {
  for (const file of fs.readdirSync(PROMETHEUS_OPERATOR_CRD_DIR).filter((f) => f.endsWith(".yaml"))) {
    const crd = parse(fs.readFileSync(path.join(PROMETHEUS_OPERATOR_CRD_DIR, file), "utf8")) as { metadata: { name: string } };
    await applyObject(api, `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}`, crd);
    await waitFor(`CRD ${crd.metadata.name} established`, async () => {
      const got = (await apiRequest(api, "GET", `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}`)) as { status?: { conditions?: { type: string; status: string }[] } };
      return got.status?.conditions?.some((c) => c.type === "Established" && c.status === "True");
    }, 30_000);
    log(`CRD ${crd.metadata.name} installed (${path.basename(PROMETHEUS_OPERATOR_CRD_DIR)})`);
  }
}

export function adminEndpoint(layout: Layout, cluster: BinariesCluster): ApiEndpoint {
  const admin = parse(fs.readFileSync(kubeconfigFile(layout, "admin"), "utf8")) as { users: { user: { token: string } }[] };
  return { server: cluster.server, token: admin.users[0]!.user.token, ca: fs.readFileSync(apiserverCertFile(layout), "utf8") };
}

/** Runs `work` over `items`, at most `limit` at a time. */
export async function inParallel<T>(items: T[], limit: number, work: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** Applies the KWOK nodes (spec, then status) and waits until KWOK reports each Ready. */
async function registerNodes(api: ApiEndpoint, opts: UpOptions): Promise<void> {
  const { nodes } = opts;
  await inParallel(nodes, 16, async (node) => {
    const { status, ...object } = node;
    await applyObject(api, `/api/v1/nodes/${node.metadata.name}`, object);
    await applyObject(api, `/api/v1/nodes/${node.metadata.name}`, { apiVersion: "v1", kind: "Node", metadata: { name: node.metadata.name }, status }, "/status");
  });
  await waitFor("KWOK nodes Ready", async () => {
    const list = (await apiRequest(api, "GET", "/api/v1/nodes")) as { items: { metadata: { name: string }; status?: { conditions?: { type: string; status: string }[] } }[] };
    const ready = new Set(list.items.filter((n) => n.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True")).map((n) => n.metadata.name));
    return nodes.every((n) => ready.has(n.metadata.name));
  }, 60_000 + nodes.length * 20);
  opts.log(`${nodes.length} KWOK nodes Ready${nodes.length <= 8 ? `: ${nodes.map((n) => n.metadata.name).join(", ")}` : ""}`);
}

const SCHEDULER_CONFIG_MAP = `${GPK_SCHEDULER_NAME}-config`;
/** The TLS Secret each kit process reads (components/scheduler-extender.ts). */
const TLS_SECRETS = { "gpk-extender": EXTENDER_TLS_SECRET, "gpk-scheduler": SCHEDULER_TLS_SECRET } as const;

/** Writes a kit process's TLS files (PEM: certificate, key, CA) into its folder, owner-only. */
export function writeTlsFolder(dir: string, pem: Record<keyof typeof TLS_FILES, string | Buffer>): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const part of ["cert", "key", "ca"] as const) fs.writeFileSync(path.join(dir, TLS_FILES[part]), pem[part], { mode: 0o600 });
}

/** Copies a `kubernetes.io/tls` Secret of the stack to where the process reads it. */
async function writeTlsFiles(api: ApiEndpoint, layout: Layout, name: keyof typeof TLS_SECRETS): Promise<void> {
  const secret = (await apiRequest(api, "GET", `/api/v1/namespaces/${SYSTEM_NAMESPACE}/secrets/${TLS_SECRETS[name]}`)) as { data?: Record<string, string> };
  const read = (part: keyof typeof TLS_FILES) => {
    const b64 = secret.data?.[TLS_FILES[part]];
    if (!b64) throw new Error(`${SYSTEM_NAMESPACE}/${TLS_SECRETS[name]} has no ${TLS_FILES[part]}`);
    return Buffer.from(b64, "base64");
  };
  writeTlsFolder(tlsDir(layout, name), { cert: read("cert"), key: read("key"), ca: read("ca") });
}

async function exists(api: ApiEndpoint, p: string): Promise<boolean> {
  try {
    await apiRequest(api, "GET", p);
    return true;
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return false;
    throw err;
  }
}

export interface KitOptions {
  repoRoot: string;
  stack: string;
  policy: string;
  tools: ResolvedTools;
  log: (line: string) => void;
  /** Gives up waiting for the stack's objects when this resolves (e.g. `pulumi up` failed). */
  abandon?: Promise<unknown>;
}

/**
 * Waits for the stack's extender and scheduler service accounts and the rendered
 * KubeSchedulerConfiguration, then runs `gpk extender` and `gpk-scheduler` against the
 * cluster as those service accounts (their tokens from the TokenRequest API).
 */
export async function startKitProcesses(cluster: BinariesCluster, opts: KitOptions): Promise<void> {
  const layout = layoutOf(opts.repoRoot, opts.stack);
  if (running(cluster, KIT_PROCESSES)) {
    opts.log("gpk extender and gpk-scheduler are running");
    return;
  }
  await stopProcesses(cluster.processes.filter((p) => KIT_PROCESSES.includes(p.name as ProcessName)));
  cluster.processes = cluster.processes.filter((p) => !KIT_PROCESSES.includes(p.name as ProcessName));
  const api = adminEndpoint(layout, cluster);
  let abandoned = false;
  void opts.abandon?.then(() => (abandoned = true), () => (abandoned = true));
  await waitFor("the stack's gpk-scheduler objects", async () => {
    for (const p of [
      `/api/v1/namespaces/${SYSTEM_NAMESPACE}/serviceaccounts/${EXTENDER_NAME}`,
      `/api/v1/namespaces/${SYSTEM_NAMESPACE}/serviceaccounts/${GPK_SCHEDULER_NAME}`,
      `/api/v1/namespaces/${SYSTEM_NAMESPACE}/configmaps/${SCHEDULER_CONFIG_MAP}`,
      ...Object.values(TLS_SECRETS).map((secret) => `/api/v1/namespaces/${SYSTEM_NAMESPACE}/secrets/${secret}`),
    ]) if (!(await exists(api, p))) return false;
    return true;
  }, 600_000, 500, () => (abandoned ? "pulumi up ended before they appeared" : undefined));
  for (const [identity, sa] of [["gpk-extender", EXTENDER_NAME], ["gpk-scheduler", GPK_SCHEDULER_NAME]] as const) {
    const token = await serviceAccountToken(api, SYSTEM_NAMESPACE, sa);
    fs.writeFileSync(kubeconfigFile(layout, identity), kubeconfigYaml(cluster.server, api.ca, `system:serviceaccount:${SYSTEM_NAMESPACE}:${sa}`, token), { mode: 0o600 });
    await writeTlsFiles(api, layout, identity);
  }
  const configMap = (await apiRequest(api, "GET", `/api/v1/namespaces/${SYSTEM_NAMESPACE}/configmaps/${SCHEDULER_CONFIG_MAP}`)) as { data?: Record<string, string> };
  const rendered = parse(configMap.data?.["config.yaml"] ?? "") as Record<string, unknown> | null;
  if (!rendered) throw new Error(`${SYSTEM_NAMESPACE}/${SCHEDULER_CONFIG_MAP} has no config.yaml`);
  const extenderAddress = `127.0.0.1:${cluster.ports["gpk-extender"]}`;
  fs.writeFileSync(layout.schedulerConfig, stringify(localSchedulerConfig(rendered, extenderAddress, kubeconfigFile(layout, "gpk-scheduler"), tlsDir(layout, "gpk-scheduler"))));
  const gpkBin = path.join(opts.repoRoot, "bin", "gpk.js");
  for (const spec of [
    extenderSpec(process.execPath, gpkBin, layout, cluster.ports, opts.policy, SCHEDULER_CLIENT_NAME),
    gpkSchedulerSpec(opts.tools.bin["kube-scheduler"]!, layout, cluster.ports),
  ]) {
    opts.log(`starting ${spec.name} on 127.0.0.1:${spec.port}`);
    cluster.processes.push(await startProcess(spec, { logDir: layout.logs }));
    writeState(layout, cluster);
  }
}

/** Restarts one kit process (tests kill the extender and bring it back). */
export async function restartKitProcess(repoRoot: string, cluster: BinariesCluster, name: "gpk-extender" | "gpk-scheduler"): Promise<RunningProcess> {
  const layout = layoutOf(repoRoot, cluster.stack);
  const old = cluster.processes.find((p) => p.name === name);
  if (!old) throw new Error(`${name} was never started`);
  await stopProcesses([old]);
  const spec = { name, command: old.command, args: old.args, port: old.port, ready: name === "gpk-extender" ? { kind: "http" as const, path: "/healthz" } : { kind: "tcp" as const } };
  const proc = await startProcess(spec, { logDir: layout.logs });
  cluster.processes = [...cluster.processes.filter((p) => p.name !== name), proc];
  writeState(layout, cluster);
  return proc;
}

/**
 * Stops every process of the cluster (real nodes first) and removes its folder; returns the
 * ports still in use and what the real nodes left behind (both empty, normally).
 */
export async function downCluster(repoRoot: string, stack: string, log: (line: string) => void): Promise<{ portsLeft: number[]; leftovers: string[] }> {
  const layout = layoutOf(repoRoot, stack);
  const cluster = readState(layout);
  const leftovers = cluster ? await stopRealNodes(cluster, log) : [];
  if (cluster) {
    log(`stopping ${cluster.processes.map((p) => p.name).join(", ")}`);
    await stopProcesses(cluster.processes);
  }
  // A server may release its port a moment after its process is reaped: give the ports 10 s.
  let leftover: number[] = [];
  const deadline = Date.now() + 10_000;
  do {
    leftover = [];
    for (const p of cluster?.processes ?? []) if (await portInUse(p.port)) leftover.push(p.port);
    if (leftover.length > 0) await new Promise((r) => setTimeout(r, 250));
  } while (leftover.length > 0 && Date.now() < deadline);
  fs.rmSync(layout.root, { recursive: true, force: true });
  return { portsLeft: leftover, leftovers };
}
