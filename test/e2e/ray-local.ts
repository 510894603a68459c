/**
 * A RayCluster as real Ray processes on this machine: the head and workers are started with
 * exactly the `ray start` arguments and environment `gpk ray start-args` derives the way
 * KubeRay's operator does (components/kuberay-start.ts), each node as its own process group,
 * like a pod. What a pod would give each node and one machine cannot is substituted, and only
 * that:
 * - each node gets its own loopback address (`--node-ip-address=127.0.10.<n>`; in a pod Ray
 *   finds the pod IP), and the head's GCS a free port instead of 6379 (`--port`, `--address`,
 *   `RAY_ADDRESS`), since every node shares one network namespace;
 * - the two fixed in-pod ports KubeRay sets on every node (`--metrics-export-port=8080`,
 *   `--dashboard-agent-listen-port=52365`) become free ports, for the same reason;
 * - the in-cluster Redis address becomes the local Redis; values KubeRay fills from Secrets,
 *   the pod name or the RayCluster's UID come from the test;
 * - `RAY_USAGE_STATS_ENABLED=0`, because this machine reaches no usage-stats endpoint.
 * Each node runs in its own PID namespace (`unshare --pid --fork --mount-proc`, as a
 * container does): `ray start --head` refuses to start while any process it can see names
 * its GCS address, which on one host the surviving workers' raylets do, never in a pod. Where
 * unshare is not permitted, the nodes share the host's PID namespace and a restarted head is
 * started after removing `/tmp/ray/ray_current_cluster`, the file that check compares with.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { expandEnv, type EnvValue, type RayClusterStart, type RayStart } from "../../components/kuberay-start";
import { freePort } from "../../cli/local/binaries/processes";
import { ensurePythonTools, type PythonTools } from "../../cli/tools/python";
import { REPO_ROOT, waitUntil } from "./cluster";

export const PROBE = path.join(REPO_ROOT, "test", "ray", "probe.py");
const START_TIMEOUT_MS = 180_000;

const UNSHARE = ["unshare", "--pid", "--fork", "--mount-proc"];
let pidNamespaces: boolean | undefined;

/** Whether this machine lets us give each node its own PID namespace (root, or user namespaces). */
function ownPidNamespace(): boolean {
  pidNamespaces ??= spawnSync(UNSHARE[0]!, [...UNSHARE.slice(1), "true"], { stdio: "ignore" }).status === 0;
  return pidNamespaces;
}

export interface RayNode {
  name: string;
  ip: string;
  log: string;
  child: ChildProcess;
}

export interface LocalRedis {
  address: string;
  password: string;
  stop(): Promise<void>;
}

/** Secret values by `<secret>/<key>`, as the cluster's Secrets would hold them. */
export type Secrets = Record<string, string>;

function tailOf(file: string, lines = 15): string {
  try {
    return fs.readFileSync(file, "utf8").trim().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

/** Waits for `probe`, failing at once with the reason `failed` gives (a process that exited). */
function waitFor(what: string, probe: () => boolean, timeoutMs: number, failed?: () => string | undefined): Promise<boolean> {
  return waitUntil(what, () => {
    const failure = failed?.();
    if (failure) throw new Error(`${what}: ${failure}`);
    return probe();
  }, timeoutMs, 200);
}

/** Kills a process group (a "pod") and waits until none of its processes is left. */
async function killGroup(child: ChildProcess, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
  const pid = child.pid!;
  const groupAlive = () => {
    try {
      process.kill(-pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (groupAlive()) process.kill(-pid, signal);
  await waitFor(`process group ${pid} to exit`, () => !groupAlive(), 60_000);
}

/** Debian's redis-server on loopback with a password, no persistence to disk. */
export async function startRedis(dir: string): Promise<LocalRedis> {
  const port = await freePort();
  const password = randomBytes(16).toString("hex");
  const log = path.join(dir, "redis.log");
  const child = spawn("redis-server", ["--bind", "127.0.0.1", "--port", String(port), "--requirepass", password, "--save", "", "--appendonly", "no", "--dir", dir, "--logfile", log], {
    stdio: "ignore",
    detached: true,
  });
  await waitFor("redis-server to accept connections", () => fs.existsSync(log) && fs.readFileSync(log, "utf8").includes("Ready to accept connections"), 30_000, () =>
    child.exitCode !== null ? `exited ${child.exitCode}: ${tailOf(log)}` : undefined,
  );
  return { address: `127.0.0.1:${port}`, password, stop: () => killGroup(child, "SIGTERM") };
}

export interface LocalRayOptions {
  /** Workers to start per group (default: the group's minReplicas). */
  workers?: Record<string, number>;
  secrets: Secrets;
  /** The local Redis that stands in for `RAY_REDIS_ADDRESS`. */
  redis?: LocalRedis;
  /** Extra environment of the driver processes (on top of the head's, as a job on the head has). */
  driverEnv?: Record<string, string>;
}

export class LocalRay {
  readonly nodes: RayNode[] = [];
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), "gpk-ray-"));
  private readonly tools: PythonTools;
  private readonly uid = randomUUID();
  private gcsPort = 0;
  private headIp = "127.0.10.1";
  private nextIp = 2;
  private headEnv: Record<string, string> = {};

  constructor(readonly start: RayClusterStart, readonly options: LocalRayOptions) {
    this.tools = ensurePythonTools((line) => process.stderr.write(`[ray] ${line}\n`));
  }

  get address(): string {
    return `${this.headIp}:${this.gcsPort}`;
  }

  /** A Kubernetes env value as the kubelet would resolve it for this pod. */
  private resolve(name: string, value: EnvValue, podName: string): string {
    if (typeof value === "string") return value;
    if ("setByKubeRay" in value) return this.uid;
    const from = value.valueFrom;
    if (from.secretKeyRef) {
      const key = `${from.secretKeyRef.name}/${from.secretKeyRef.key}`;
      const secret = this.options.secrets[key];
      if (secret === undefined) throw new Error(`${name}: the test provides no Secret value for ${key}`);
      return secret;
    }
    if (from.fieldRef?.fieldPath === "metadata.name") return podName;
    throw new Error(`${name}: cannot resolve ${JSON.stringify(from)}`);
  }

  private async launch(start: RayStart, kind: "head" | "worker", podName: string, ip: string): Promise<RayNode> {
    const env: Record<string, string> = {};
    for (const [name, value] of Object.entries(start.env)) env[name] = this.resolve(name, value, podName);
    if (this.options.redis && env.RAY_REDIS_ADDRESS !== undefined) env.RAY_REDIS_ADDRESS = this.options.redis.address;
    if (env.RAY_ADDRESS !== undefined) env.RAY_ADDRESS = this.address;
    const metrics = await freePort();
    const agent = await freePort();
    const args = start.args.map((arg) => {
      if (arg.startsWith("--address=")) return `--address=${this.address}`;
      if (arg.startsWith("--metrics-export-port=")) return `--metrics-export-port=${metrics}`;
      if (arg.startsWith("--dashboard-agent-listen-port=")) return `--dashboard-agent-listen-port=${agent}`;
      return arg;
    });
    args.push(`--node-ip-address=${ip}`);
    if (kind === "head") args.push(`--port=${this.gcsPort}`);
    const processEnv = {
      PATH: `${path.dirname(this.tools.bin("ray"))}:${process.env.PATH}`,
      HOME: process.env.HOME ?? os.homedir(),
      LANG: "C.UTF-8",
      RAY_USAGE_STATS_ENABLED: "0",
      ...env,
    };
    const log = path.join(this.dir, `${podName}.log`);
    const offset = fs.existsSync(log) ? fs.statSync(log).size : 0; // a restarted node appends to its log
    const fd = fs.openSync(log, "a");
    const command = [this.tools.bin("ray"), "start", ...expandEnv(args, env)];
    if (ownPidNamespace()) command.unshift(...UNSHARE);
    else if (kind === "head") fs.rmSync(path.join(os.tmpdir(), "ray", "ray_current_cluster"), { force: true });
    const child = spawn(command[0]!, command.slice(1), { env: processEnv, detached: true, stdio: ["ignore", fd, fd] });
    fs.closeSync(fd);
    const node = { name: podName, ip, log, child };
    const logged = () => fs.readFileSync(log).subarray(offset).toString("utf8");
    await waitFor(`${podName} (ray start)`, () => logged().includes("Ray runtime started"), START_TIMEOUT_MS, () =>
      child.exitCode !== null ? `exited ${child.exitCode}: ${tailOf(log)}` : undefined,
    );
    if (kind === "head") this.headEnv = env;
    this.nodes.push(node);
    return node;
  }

  /** Starts the head, then the workers of each group; resolves once every node is registered. */
  async up(): Promise<void> {
    this.gcsPort = await freePort();
    await this.startHead();
    for (const group of this.start.workerGroups) {
      const count = this.options.workers?.[group.groupName] ?? group.minReplicas;
      for (let i = 0; i < count; i++) await this.launch(group, "worker", `${this.start.clusterName}-${group.groupName}-worker-${i}`, `127.0.10.${this.nextIp++}`);
    }
    const expected = this.nodes.length;
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      const seen = this.probe(["resources"]).nodes.length;
      if (seen === expected) return;
      if (Date.now() > deadline) throw new Error(`${seen} of ${expected} Ray nodes registered with the GCS`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  startHead(): Promise<RayNode> {
    return this.launch(this.start.head, "head", `${this.start.clusterName}-head`, this.headIp);
  }

  /** SIGKILLs the head's process group, as when its pod or node is lost. */
  async killHead(): Promise<void> {
    const head = this.nodes.find((n) => n.ip === this.headIp);
    if (!head) throw new Error("no head to kill");
    await killGroup(head.child);
    this.nodes.splice(this.nodes.indexOf(head), 1);
  }

  /** The environment of a driver on the head (a job there): the head's, the tools' Python first on PATH, RAY_ADDRESS. */
  driverEnvironment(extraEnv: Record<string, string> = {}): Record<string, string> {
    return {
      PATH: `${path.dirname(this.tools.bin("python"))}:${process.env.PATH}`,
      HOME: process.env.HOME ?? os.homedir(),
      LANG: "C.UTF-8",
      RAY_USAGE_STATS_ENABLED: "0",
      ...this.headEnv,
      ...this.options.driverEnv,
      ...extraEnv,
      RAY_ADDRESS: this.address,
    };
  }

  /** The Python of the tools' virtualenv, which has the pinned Ray. */
  get python(): string {
    return this.tools.bin("python");
  }

  /** Runs test/ray/probe.py as a driver with the head's environment (what a job on the head gets). */
  probe(args: string[], extraEnv: Record<string, string> = {}): any {
    const env = this.driverEnvironment(extraEnv);
    const output = path.join(this.dir, `probe-${randomUUID()}.json`);
    const r = spawnSync(this.tools.bin("python"), [PROBE, ...args], { env: { ...env, GPK_PROBE_OUTPUT: output }, encoding: "utf8", timeout: 300_000, maxBuffer: 16 * 1024 * 1024 });
    if (r.status !== 0) throw new Error(`probe ${args.join(" ")} exited ${r.status}: ${(r.stderr ?? "").trim().split("\n").slice(-8).join("\n")}`);
    return JSON.parse(fs.readFileSync(output, "utf8"));
  }

  async stop(): Promise<void> {
    for (const node of [...this.nodes].reverse()) await killGroup(node.child).catch(() => undefined);
    this.nodes.length = 0;
  }
}
