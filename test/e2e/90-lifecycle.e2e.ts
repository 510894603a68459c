/**
 * Runs last (files run in name order): `pulumi destroy` leaves no object of the kit behind,
 * and `gpk local down` stops every process it started and frees every port.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { KIT_LABELS, MANAGED_BY } from "../../gpu";
import { REPO_ROOT, cluster, gpk, kubectl, kubectlOk, waitUntil } from "./cluster";
import { expectJsonShape } from "../cli/json-shape-assert";

/** Every listable kind, namespaced or not, holding an object labelled as the kit's. */
function kitObjects(): string[] {
  const kinds = kubectlOk(["api-resources", "--verbs=list", "-o", "name"]).split("\n").filter((k: string) => k && !k.startsWith("events"));
  const r = kubectl(["get", kinds.join(","), "-A", "-l", `${KIT_LABELS.managedBy}=${MANAGED_BY}`, "-o", "name"], { timeoutMs: 120_000 });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.split("\n").filter(Boolean);
}

/** Whether a process still runs; an exited one that init has not reaped yet (state Z) does not. */
function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1");
    s.once("connect", () => (s.destroy(), resolve(true)));
    s.once("error", () => resolve(false));
  });
}

describe("tearing down", () => {
  it("pulumi destroy leaves no object of the kit behind", async () => {
    expect(kitObjects().length).toBeGreaterThan(20);
    const run = gpk(["local", "destroy", "--runtime", "binaries", "--json"]);
    expect(run.status, run.stderr.slice(-2000)).toBe(0);
    expect(expectJsonShape("local", "destroy", run.stdout).update.delete).toBe(cluster().update.create);
    // Namespaces finalize asynchronously (the namespace controller empties them first).
    await waitUntil("kit namespaces gone", () => {
      const names = (kubectlOk(["get", "namespaces", "-o", "json"]).items as any[]).map((n) => n.metadata.name);
      return !["gpk-system", "gpk-node", "team-a", "team-b"].some((n) => names.includes(n));
    }, 180_000, 1000);
    expect(kitObjects()).toEqual([]);
    expect(kubectl(["get", "crd", "rayclusters.ray.io"]).status).not.toBe(0);
  });

  it("gpk local down stops every process it started and frees their ports", async () => {
    const processes = cluster().processes;
    expect(processes.map((p) => p.name).sort()).toEqual(["gpk-extender", "gpk-scheduler", "kine", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"]);
    const run = gpk(["local", "down", "--runtime", "binaries", "--json"]);
    expect(run.status, run.stderr.slice(-2000)).toBe(0);
    const report = expectJsonShape("local", "down", run.stdout);
    expect(report.portsLeft).toEqual([]);
    expect(report.leftovers).toEqual([]);
    for (const p of processes) {
      expect(alive(p.pid), `${p.name} (pid ${p.pid})`).toBe(false);
      expect(await listening(p.port), `${p.name} port ${p.port}`).toBe(false);
    }
    // The real node's pieces, checked from the host as an admin would, not from down's own report.
    expect(report.stopped).toEqual(expect.arrayContaining(cluster().nodes.filter((n) => n.runtime === "kubelet").map((n) => n.name)));
    expect(spawnSync("ip", ["-o", "link", "show"], { encoding: "utf8" }).stdout).not.toMatch(/gpkn\d/);
    expect(fs.readFileSync("/proc/self/mountinfo", "utf8")).not.toContain(path.join(REPO_ROOT, ".gpk", "binaries"));
    const containerProcesses = fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p)).filter((pid) => {
      try {
        const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8");
        return /containerd-shim|\/pause\b|\bkubelet\b|\/opt\/gpk\//.test(cmd) && !cmd.includes("vitest");
      } catch {
        return false;
      }
    });
    expect(containerProcesses).toEqual([]);
    const cgroups = fs.existsSync("/sys/fs/cgroup/memory") ? "/sys/fs/cgroup/memory" : "/sys/fs/cgroup";
    expect(fs.readdirSync(cgroups).filter((d) => d === "kubepods")).toEqual([]);
  });
});
