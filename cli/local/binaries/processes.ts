/**
 * Starting and stopping the binaries runtime's processes. Each runs detached in its own
 * process group with its output in `<layout>/logs/<name>.log`, so the cluster outlives
 * `gpk local up`; `state.json` records pid and port, and `gpk local down` stops them.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { apiRequest, waitFor, type ApiEndpoint } from "./kube-api";
import type { ProcessSpec } from "./plan";

export interface RunningProcess {
  name: string;
  pid: number;
  port: number;
  command: string;
  args: string[];
  log: string;
}

/** A free loopback port (bind to 0, read, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Whether `pid` is alive and still runs `command` (a recycled pid runs something else). A
 * process that has exited but is not reaped yet (state Z or X in /proc/<pid>/stat) is not
 * alive; one still tearing itself down is, although its cmdline is already empty then (the
 * kernel drops it with the address space): judging by the cmdline alone, `stopProcesses`
 * returned while kube-apiserver was still exiting.
 */
export function isRunning(pid: number, command: string): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  let stat: string;
  let cmdline: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8");
  } catch {
    // No /proc (or the process went away between the reads): trust the signal check.
    return fs.existsSync(`/proc/${pid}`) || !fs.existsSync("/proc/self");
  }
  const state = stat.slice(stat.lastIndexOf(")") + 2)[0];
  if (state === "Z" || state === "X") return false;
  return cmdline === "" || cmdline.split("\0")[0] === command;
}

function tcpOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

function tailOf(file: string, lines = 6): string {
  try {
    return fs.readFileSync(file, "utf8").trim().split("\n").slice(-lines).join(" | ");
  } catch {
    return "(no log)";
  }
}

export interface StartOptions {
  logDir: string;
  env?: NodeJS.ProcessEnv;
  /** For an HTTPS readiness probe: where the API answers and with which credentials. */
  api?: () => ApiEndpoint | undefined;
  timeoutMs?: number;
}

/** Starts one process detached and waits until it answers its readiness probe. */
export async function startProcess(spec: ProcessSpec, opts: StartOptions): Promise<RunningProcess> {
  fs.mkdirSync(opts.logDir, { recursive: true });
  const log = path.join(opts.logDir, `${spec.name}.log`);
  const fd = fs.openSync(log, "a");
  const child = spawn(spec.command, spec.args, { detached: true, stdio: ["ignore", fd, fd], env: opts.env ?? process.env });
  fs.closeSync(fd);
  const spawnError = new Promise<never>((_, reject) => child.once("error", (err) => reject(new Error(`${spec.name}: cannot start ${spec.command}: ${err.message}`))));
  child.unref();
  const running: RunningProcess = { name: spec.name, pid: child.pid ?? -1, port: spec.port, command: spec.command, args: spec.args, log };
  const probe = async (): Promise<boolean> => {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${spec.name} exited (${child.exitCode ?? child.signalCode}); last log lines: ${tailOf(log)}`);
    }
    if (spec.ready.kind === "tcp") return tcpOpen(spec.port);
    if (spec.ready.kind === "http") {
      const res = await fetch(`http://127.0.0.1:${spec.port}${spec.ready.path}`);
      return res.ok;
    }
    const api = opts.api?.();
    if (!api) return false;
    return (await apiRequest(api, "GET", spec.ready.path)) === "ok";
  };
  const ready = waitFor(`${spec.name} on 127.0.0.1:${spec.port}`, probe, opts.timeoutMs ?? 120_000);
  try {
    await Promise.race([ready, spawnError]);
  } catch (err) {
    await stopProcesses([running]);
    if (child.exitCode !== null) throw new Error(`${spec.name} exited (${child.exitCode}); last log lines: ${tailOf(log)}`);
    throw new Error(`${(err as Error).message}; log: ${log}`);
  }
  return running;
}

/** SIGTERM to each process group, then SIGKILL what is left after `graceMs`. */
export async function stopProcesses(processes: RunningProcess[], graceMs = 10_000): Promise<void> {
  const alive = () => processes.filter((p) => isRunning(p.pid, p.command));
  for (const p of alive()) {
    try {
      process.kill(-p.pid, "SIGTERM");
    } catch {
      try {
        process.kill(p.pid, "SIGTERM");
      } catch {
        // already gone
      }
    }
  }
  const deadline = Date.now() + graceMs;
  while (alive().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  for (const p of alive()) {
    try {
      process.kill(-p.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  const killDeadline = Date.now() + 5_000;
  while (alive().length > 0 && Date.now() < killDeadline) await new Promise((r) => setTimeout(r, 100));
}

/** Whether anything still listens on the port (for `down`'s promise: no port left behind). */
export function portInUse(port: number): Promise<boolean> {
  return tcpOpen(port);
}
