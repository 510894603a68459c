/**
 * What the e2e files share: the cluster `gpk local up --runtime binaries --json` reported
 * (provided by setup.ts), kubectl against it, and pod builders that pass Pod Security
 * `restricted` unless a test means them not to.
 */
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { inject } from "vitest";
import { GPU_RESOURCE, GPU_TAINT, KIT_LABELS, tolerationFor } from "../../gpu";

export interface LocalCluster {
  stack: string;
  runtime: "binaries";
  kubeconfig: string;
  pulumi: { bin: string; home: string; backend: string; workDir: string; env: Record<string, string> };
  processes: { name: string; pid: number; port: number }[];
  nodes: { name: string; runtime: "kubelet" | "kwok" }[];
  images: { name: string; ref: string }[];
  update: Record<string, number>;
}

declare module "vitest" {
  export interface ProvidedContext {
    cluster: LocalCluster;
  }
}

export const REPO_ROOT = path.resolve(__dirname, "../..");
export const GPK = path.join(REPO_ROOT, "bin", "gpk.js");

export function cluster(): LocalCluster {
  return inject("cluster");
}

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** The real `gpk` CLI, from the repository root, as a user runs it. */
export function gpk(args: string[]): Run {
  const r = spawnSync(process.execPath, [GPK, ...args], { cwd: REPO_ROOT, encoding: "utf8", timeout: 600_000, maxBuffer: 64 * 1024 * 1024 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function kubectl(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Run {
  const r = spawnSync("kubectl", ["--kubeconfig", cluster().kubeconfig, ...args], {
    input: opts.input,
    encoding: "utf8",
    timeout: opts.timeoutMs ?? 60_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** kubectl that must succeed; returns stdout (parsed when it is JSON). */
export function kubectlOk(args: string[], input?: string): any {
  const r = kubectl(args, { input });
  if (r.status !== 0) throw new Error(`kubectl ${args.join(" ")} exited ${r.status}: ${r.stderr.trim()}`);
  const text = r.stdout.trim();
  return text.startsWith("{") || text.startsWith("[") ? JSON.parse(text) : text;
}

export function createObject(object: unknown): Run {
  return kubectl(["create", "-f", "-"], { input: JSON.stringify(object) });
}

/**
 * A namespace pods can be created in: the ServiceAccount admission plugin refuses them until its
 * default account exists. `gpu: true` labels it as a tenant's (`gpk.dev/tenant=<name>`), as an
 * admin would, so the stack's admission guards let its pods use the GPU pools.
 */
export async function createNamespace(name: string, opts: { gpu?: boolean } = {}): Promise<void> {
  kubectlOk(["create", "namespace", name]);
  if (opts.gpu) kubectlOk(["label", "namespace", name, `${KIT_LABELS.tenant}=${name}`]);
  await waitUntil(`${name}/default service account`, () => kubectl(["get", "serviceaccount", "default", "-n", name]).status === 0, 30_000);
}

export async function waitUntil<T>(what: string, probe: () => T | undefined | false, timeoutMs = 60_000, intervalMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export const RESTRICTED_POD_SECURITY = { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: "RuntimeDefault" } };
export const RESTRICTED_CONTAINER_SECURITY = { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } };

/** The pause image built on this machine: it runs on a real node, which pulls nothing (and on KWOK's alike). */
export function pauseImage(): string {
  const built = cluster().images.find((i) => i.name.startsWith("gpk.local/pause:"));
  if (!built) throw new Error("gpk local up reported no pause image: was it run with --real-nodes 0?");
  return built.ref;
}

/** A pod that passes Pod Security `restricted`, with `gpus` whole GPUs and the GPU toleration when gpus > 0. */
/** A pod asking for `gpus` of `opts.resource` (default whole GPUs, `nvidia.com/gpu`), tolerating the GPU taint when it asks for any. */
export function gpuPod(name: string, namespace: string, gpus: number, opts: { schedulerName?: string; cpu?: string; memory?: string; nodeSelector?: Record<string, string>; tolerations?: object[]; labels?: Record<string, string>; resource?: string } = {}) {
  const resources: Record<string, string> = { cpu: opts.cpu ?? "100m", memory: opts.memory ?? "128Mi", ...(gpus > 0 ? { [opts.resource ?? GPU_RESOURCE]: String(gpus) } : {}) };
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace, labels: { "e2e.gpk.dev/test": "true", ...opts.labels } },
    spec: {
      ...(opts.schedulerName ? { schedulerName: opts.schedulerName } : {}),
      securityContext: RESTRICTED_POD_SECURITY,
      ...(opts.nodeSelector ? { nodeSelector: opts.nodeSelector } : {}),
      tolerations: [...(gpus > 0 ? [tolerationFor(GPU_TAINT)] : []), ...(opts.tolerations ?? [])],
      containers: [{ name: "main", image: pauseImage(), securityContext: RESTRICTED_CONTAINER_SECURITY, resources: { requests: resources, limits: resources } }],
    },
  };
}

export function podJson(namespace: string, name: string): any {
  const r = kubectl(["get", "pod", "-n", namespace, name, "-o", "json"]);
  return r.status === 0 ? JSON.parse(r.stdout) : undefined;
}
