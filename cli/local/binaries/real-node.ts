/**
 * Starting and stopping a real node (real-node-plan.ts says what one is): a namespace holder,
 * the API server tunnel (socat on both sides of a unix socket), containerd with the kit's
 * images imported, and the kubelet. Teardown follows what a hard stop was seen to leave behind
 * (the project's real-node design notes): pods first through CRI (so the CNI plugins undo their
 * veths, addresses and iptables rules), then the kubelet and containerd, then the namespaces,
 * and it checks that nothing of the node is left.
 */
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import type { BuiltImage } from "../../images/oci";
import { waitFor } from "./kube-api";
import { API_SERVICE_ADDRESS } from "./plan";
import { isRunning, stopProcesses, type RunningProcess } from "./processes";
import {
  containerdConfig,
  cniConflist,
  holderScript,
  kubeletArgs,
  kubeletConfiguration,
  kubeProxyConfiguration,
  nodeAddresses,
  KUBE_PROXY_HEALTHZ_PORT,
  realNodeLayout,
  type KubeletPorts,
  type RealNodeSpec,
} from "./real-node-plan";

/** The host programs a real node runs; `gpk tools` provides them (kubelet, crictl) or installs them (Debian's). */
export interface RealNodeBinaries {
  kubelet: string;
  kubeProxy: string;
  crictl: string;
  containerd: string;
  ctr: string;
  socat: string;
}

export interface RealNodeState {
  name: string;
  index: number;
  dir: string;
  /** The mount namespace's inode (`mnt:[…]`): every process of the node lives in it. */
  mountNamespace: string;
  holder: RunningProcess;
  /** socat (host side, node side), containerd, kubelet: stopped in reverse order. */
  processes: RunningProcess[];
}

export class RealNodeError extends Error {
  override readonly name = "RealNodeError";
}

function run(command: string, args: string[], what: string): string {
  const r = spawnSync(command, args, { encoding: "utf8" });
  if (r.status !== 0) throw new RealNodeError(`${what}: ${command} ${args.join(" ")} exited ${r.status ?? r.error?.message}: ${(r.stderr ?? "").trim().split("\n").slice(-3).join(" | ")}`);
  return r.stdout;
}

/** Starts `command` detached, its output in `<logDir>/<name>.log`; `enter` runs it inside the node's namespaces. */
function startDetached(name: string, command: string, args: string[], logDir: string, enter?: { pid: number; mount: boolean }): RunningProcess {
  fs.mkdirSync(logDir, { recursive: true });
  const log = path.join(logDir, `${name}.log`);
  const fd = fs.openSync(log, "a");
  // nsenter execs the command in place (no --fork): the pid we record is the program's own.
  const [exe, argv] = enter ? ["nsenter", [`--target=${enter.pid}`, ...(enter.mount ? ["--mount"] : []), "--net", command, ...args]] : [command, args];
  const child = spawn(exe, argv, { detached: true, stdio: ["ignore", fd, fd] });
  fs.closeSync(fd);
  child.unref();
  if (child.pid === undefined) throw new RealNodeError(`${name}: cannot start ${command}`);
  return { name, pid: child.pid, port: 0, command, args, log };
}

function tail(file: string): string {
  try {
    return fs.readFileSync(file, "utf8").trim().split("\n").slice(-5).join(" | ");
  } catch {
    return "(no log)";
  }
}

async function until(what: string, probe: () => boolean | Promise<boolean>, timeoutMs: number, proc?: RunningProcess): Promise<void> {
  await waitFor(what, async () => {
    if (proc && !isRunning(proc.pid, proc.command)) throw new RealNodeError(`${proc.name} exited; last log lines: ${tail(proc.log)}`);
    return probe();
  }, timeoutMs, 200);
}

function namespaceOf(pid: number, kind: "mnt" | "net"): string | undefined {
  try {
    return fs.readlinkSync(`/proc/${pid}/ns/${kind}`);
  } catch {
    return undefined;
  }
}

export interface StartRealNodeOptions {
  clusterRoot: string;
  spec: RealNodeSpec;
  bin: RealNodeBinaries;
  /** Imported into the node's containerd before the kubelet starts; `pause` is the pod sandbox. */
  images: { pause: BuiltImage; others: BuiltImage[] };
  apiPort: number;
  /** The node's kubeconfig (server https://API_SERVICE_ADDRESS:<apiPort>, the node's own credentials). */
  kubeconfig: string;
  /** kube-proxy's kubeconfig (user system:kube-proxy, which the bootstrap RBAC binds). */
  kubeProxyKubeconfig: string;
  ports: KubeletPorts;
  /** The CA of the API server's kubelet client certificate: the one caller the kubelet trusts by certificate. */
  kubeletClientCa: string;
  logDir: string;
  log: (line: string) => void;
  /** Resolves once the API server lists the node as Ready. */
  nodeReady: () => Promise<boolean>;
}

export async function startRealNode(o: StartRealNodeOptions): Promise<RealNodeState> {
  const layout = realNodeLayout(o.clusterRoot, o.spec.name);
  const net = nodeAddresses(o.spec.index);
  for (const dir of [layout.kubeletDir, layout.gpkDir, layout.containerdRoot, layout.containerdState, layout.cniConfDir, layout.cniIpamDir, layout.podLogsDir]) fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(layout.containerdConfig, containerdConfig(layout, o.images.pause.ref));
  fs.writeFileSync(path.join(layout.cniConfDir, "10-gpk.conflist"), JSON.stringify(cniConflist(o.spec, layout), null, 2));
  fs.writeFileSync(layout.kubeletConfig, kubeletConfiguration(o.spec, layout, o.ports, o.kubeletClientCa));
  fs.writeFileSync(layout.kubeconfig, o.kubeconfig, { mode: 0o600 });
  fs.writeFileSync(layout.kubeProxyKubeconfig, o.kubeProxyKubeconfig, { mode: 0o600 });
  fs.writeFileSync(layout.kubeProxyConfig, kubeProxyConfiguration(o.spec, layout));
  const holderScriptFile = path.join(layout.dir, "holder.sh");
  fs.writeFileSync(holderScriptFile, holderScript(layout));

  const holder = startDetached(`${o.spec.name}-namespaces`, "unshare", ["--mount", "--net", "--propagation", "private", "sh", holderScriptFile], o.logDir);
  const state: RealNodeState = { name: o.spec.name, index: o.spec.index, dir: layout.dir, mountNamespace: "", holder, processes: [] };
  try {
    const hostMount = namespaceOf(process.pid, "mnt");
    await until(`${o.spec.name}: its namespaces`, () => {
      const cmd = fs.readFileSync(`/proc/${holder.pid}/cmdline`, "utf8").split("\0")[0];
      return cmd === "sleep" && namespaceOf(holder.pid, "mnt") !== hostMount;
    }, 10_000);
    holder.command = "sleep";
    state.mountNamespace = namespaceOf(holder.pid, "mnt")!;
    const inNode = (args: string[]) => run("nsenter", [`--target=${holder.pid}`, "--net", ...args], `${o.spec.name}: network`);
    run("ip", ["link", "add", net.hostLink, "type", "veth", "peer", "name", "eth0", "netns", String(holder.pid)], `${o.spec.name}: host link`);
    run("ip", ["addr", "add", `${net.hostAddress}/24`, "dev", net.hostLink], `${o.spec.name}: host link`);
    run("ip", ["link", "set", net.hostLink, "up"], `${o.spec.name}: host link`);
    inNode(["ip", "addr", "add", `${net.nodeAddress}/24`, "dev", "eth0"]);
    inNode(["ip", "link", "set", "eth0", "up"]);
    inNode(["ip", "route", "add", "default", "via", net.hostAddress]);
    inNode(["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]);

    // The API server at the node's API_SERVICE_ADDRESS:<port>, through a unix socket only root can open.
    const tunnelHost = startDetached(`${o.spec.name}-api-tunnel-host`, o.bin.socat, [`UNIX-LISTEN:${layout.apiSocket},fork,unlink-early,mode=600`, `TCP:127.0.0.1:${o.apiPort}`], o.logDir);
    state.processes.push(tunnelHost);
    await until(`${o.spec.name}: API tunnel socket`, () => fs.existsSync(layout.apiSocket), 10_000, tunnelHost);
    const tunnelNode = startDetached(`${o.spec.name}-api-tunnel-node`, o.bin.socat, [`TCP-LISTEN:${o.apiPort},bind=${API_SERVICE_ADDRESS},fork,reuseaddr`, `UNIX-CONNECT:${layout.apiSocket}`], o.logDir, { pid: holder.pid, mount: false });
    state.processes.push(tunnelNode);

    const containerd = startDetached(`${o.spec.name}-containerd`, o.bin.containerd, ["--config", layout.containerdConfig], o.logDir, { pid: holder.pid, mount: true });
    state.processes.push(containerd);
    await until(`${o.spec.name}: containerd`, () => spawnSync(o.bin.ctr, ["--address", layout.containerdSocket, "version"]).status === 0, 30_000, containerd);
    for (const image of [o.images.pause, ...o.images.others]) {
      run(o.bin.ctr, ["--address", layout.containerdSocket, "--namespace", "k8s.io", "images", "import", image.archive], `${o.spec.name}: import ${image.name}`);
    }
    o.log(`${o.spec.name}: containerd ready with ${1 + o.images.others.length} local images`);

    const kubelet = startDetached(`${o.spec.name}-kubelet`, o.bin.kubelet, kubeletArgs(o.spec, layout), o.logDir, { pid: holder.pid, mount: true });
    state.processes.push(kubelet);
    await until(`${o.spec.name}: kubelet registers and turns Ready`, o.nodeReady, 120_000, kubelet);
    const kubeProxy = startDetached(`${o.spec.name}-kube-proxy`, o.bin.kubeProxy, [`--config=${layout.kubeProxyConfig}`], o.logDir, { pid: holder.pid, mount: true });
    state.processes.push(kubeProxy);
    await until(`${o.spec.name}: kube-proxy healthy`, () => spawnSync("nsenter", [`--target=${holder.pid}`, "--net", "bash", "-c", `exec 3<>/dev/tcp/127.0.0.1/${KUBE_PROXY_HEALTHZ_PORT}`]).status === 0, 60_000, kubeProxy);
    o.log(`${o.spec.name}: kubelet Ready (${net.nodeAddress}, pods ${net.podCidr}), kube-proxy serving`);
    return state;
  } catch (err) {
    await stopRealNode(state, o.bin, o.log).catch(() => undefined);
    throw err;
  }
}

/** Pids whose mount namespace is `ns`. */
function processesIn(ns: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    if (namespaceOf(Number(entry), "mnt") === ns) pids.push(Number(entry));
  }
  return pids;
}

const CGROUP_ROOT = "/sys/fs/cgroup";
/** The cgroup the kubelet puts pods under (cgroupsPerQOS, cgroupfs driver). */
const KUBEPODS = "kubepods";

/** Every `kubepods` cgroup folder on the host: one per v1 controller hierarchy, or one under v2. */
function kubepodsCgroups(): string[] {
  const found: string[] = [];
  if (fs.existsSync(path.join(CGROUP_ROOT, KUBEPODS))) found.push(path.join(CGROUP_ROOT, KUBEPODS));
  for (const entry of fs.readdirSync(CGROUP_ROOT, { withFileTypes: true })) {
    // v1 mounts each hierarchy once; `cpu` and `cpuacct` are links to `cpu,cpuacct`.
    if (!entry.isDirectory()) continue;
    const dir = path.join(CGROUP_ROOT, entry.name, KUBEPODS);
    if (fs.existsSync(dir)) found.push(dir);
  }
  return found;
}

/** Removes an empty cgroup tree, deepest first (a cgroup is removed with rmdir once it has no tasks). */
function removeCgroupTree(dir: string): void {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) removeCgroupTree(path.join(dir, entry.name));
  try {
    fs.rmdirSync(dir);
  } catch {
    // still has a task: reported as left behind
  }
}

/** What a stopped node left behind (empty when the teardown was clean). */
export function realNodeLeftovers(state: RealNodeState): string[] {
  const left: string[] = [];
  const hostLink = nodeAddresses(state.index).hostLink;
  if (spawnSync("ip", ["link", "show", hostLink]).status === 0) left.push(`link ${hostLink}`);
  if (state.mountNamespace) for (const pid of processesIn(state.mountNamespace)) left.push(`process ${pid} in ${state.name}'s mount namespace`);
  for (const p of [state.holder, ...state.processes]) if (isRunning(p.pid, p.command)) left.push(`process ${p.name} (pid ${p.pid})`);
  const mounts = fs.readFileSync("/proc/self/mountinfo", "utf8").split("\n").filter((l) => l.includes(state.dir));
  for (const m of mounts) left.push(`mount ${m.split(" ")[4]}`);
  for (const cgroup of kubepodsCgroups()) left.push(`cgroup ${cgroup}`);
  return left;
}

/**
 * Stops the node: every pod through CRI (their CNI teardown with them), the kubelet, containerd,
 * the tunnel, then the namespace holder, and kills whatever still runs in the node's mount
 * namespace. Returns what was left behind (nothing, normally).
 */
export async function stopRealNode(state: RealNodeState, bin: Pick<RealNodeBinaries, "crictl">, log: (line: string) => void): Promise<string[]> {
  const layout = realNodeLayout(path.dirname(path.dirname(state.dir)), state.name);
  const kubelet = state.processes.filter((p) => p.name.endsWith("-kubelet") || p.name.endsWith("-kube-proxy"));
  await stopProcesses(kubelet);
  const containerd = state.processes.find((p) => p.name.endsWith("-containerd"));
  if (containerd && isRunning(containerd.pid, containerd.command)) {
    const crictl = spawnSync(bin.crictl, ["--runtime-endpoint", `unix://${layout.containerdSocket}`, "--timeout", "30s", "rmp", "--all", "--force"], { encoding: "utf8" });
    if (crictl.status !== 0) log(`${state.name}: crictl rmp: ${(crictl.stderr || "").trim().split("\n").slice(-2).join(" | ")}`);
  }
  await stopProcesses(state.processes.filter((p) => !kubelet.includes(p)).reverse());
  await stopProcesses([state.holder], 2_000);
  // Shims and containers are children of no process we started: anything still in the node's
  // mount namespace goes now, or the namespace (and its mounts) would outlive the node.
  if (state.mountNamespace) {
    for (const pid of processesIn(state.mountNamespace)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone already
      }
    }
    await waitFor(`${state.name}: its processes gone`, async () => processesIn(state.mountNamespace).length === 0, 10_000, 100).catch(() => undefined);
  }
  const hostLink = nodeAddresses(state.index).hostLink;
  if (spawnSync("ip", ["link", "show", hostLink]).status === 0) spawnSync("ip", ["link", "del", hostLink]);
  // cgroupfs is the host's: the pod cgroups the kubelet made outlive its mount namespace.
  for (const cgroup of kubepodsCgroups()) removeCgroupTree(cgroup);
  return realNodeLeftovers(state);
}
