import { mkdtempSync, writeFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { GFD_LABELS, GPU_PRODUCTS, GPU_RESOURCE, KIT_ANNOTATIONS } from "../../gpu";
import { kubeconfigConnection } from "../../runtime/scheduler-extender/kubeconfig";
import { parseExtenderArgs } from "../../runtime/scheduler-extender/options";
import { startExtender, type RunningExtender } from "../../runtime/scheduler-extender/run";

export const H100 = GPU_PRODUCTS.h100.gfdProduct;
export const L40S = GPU_PRODUCTS.l40s.gfdProduct;

/** A node; `mig` adds MIG `mixed` resources by name (e.g. `{"nvidia.com/mig-1g.10gb": 14}`). */
export function k8sNode(name: string, opts: { gpus?: number; product?: string; cpu?: string; memory?: string; numa?: string; rv?: string; mig?: Record<string, number> } = {}) {
  const gpus = opts.gpus ?? 8;
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name,
      ...(opts.rv ? { resourceVersion: opts.rv } : {}),
      labels: { [GFD_LABELS.product]: opts.product ?? H100, [GFD_LABELS.count]: String(gpus), [GFD_LABELS.memory]: "81559" },
      ...(opts.numa ? { annotations: { [KIT_ANNOTATIONS.gpuNuma]: opts.numa } } : {}),
    },
    status: {
      allocatable: {
        cpu: opts.cpu ?? "96", memory: opts.memory ?? "1000Gi", pods: "110",
        ...(gpus > 0 || !opts.mig ? { [GPU_RESOURCE]: String(gpus) } : {}),
        ...Object.fromEntries(Object.entries(opts.mig ?? {}).map(([r, n]) => [r, String(n)])),
      },
    },
  };
}

/** A pod; `gpus` of `resource` (default `nvidia.com/gpu`). */
export function k8sPod(name: string, opts: { gpus?: number; resource?: string; cpu?: string; memory?: string; node?: string; milli?: number; product?: string; uid?: string; annotations?: Record<string, string>; labels?: Record<string, string>; phase?: string; podIP?: string; namespace?: string } = {}) {
  const annotations = { ...(opts.milli !== undefined ? { [KIT_ANNOTATIONS.gpuMilli]: String(opts.milli) } : {}), ...opts.annotations };
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: opts.namespace ?? "team-a", uid: opts.uid ?? `uid-${name}`, annotations, labels: opts.labels ?? {} },
    spec: {
      schedulerName: "gpk-scheduler",
      ...(opts.node ? { nodeName: opts.node } : {}),
      ...(opts.product ? { nodeSelector: { [GFD_LABELS.product]: opts.product } } : {}),
      containers: [{
        name: "main",
        image: "registry.k8s.io/pause:3.10",
        resources: {
          requests: { cpu: opts.cpu ?? "4", memory: opts.memory ?? "16Gi" },
          ...(opts.gpus ? { limits: { [opts.resource ?? GPU_RESOURCE]: String(opts.gpus) } } : {}),
        },
      }],
    },
    status: { phase: opts.phase ?? (opts.node ? "Running" : "Pending"), ...(opts.podIP ? { podIP: opts.podIP } : {}) },
  };
}

export function writeSnapshot(snapshot: unknown): string {
  const dir = mkdtempSync(path.join(tmpdir(), "gpk-extender-"));
  const file = path.join(dir, "snapshot.json");
  writeFileSync(file, JSON.stringify(snapshot));
  return file;
}

/** A fixed target workload so fgd/gpk scores do not depend on the stand-in mix. */
export const WORKLOAD = [
  { cpuMilli: 4000, gpuMilli: 1000, numGpu: 1, gpuModels: [], weight: 0.6 },
  { cpuMilli: 8000, gpuMilli: 1000, numGpu: 2, gpuModels: [], weight: 0.2 },
  { cpuMilli: 4000, gpuMilli: 500, numGpu: 1, gpuModels: [], weight: 0.2 },
];

/** Starts an extender in this process on an ephemeral port with the given flags. */
export function start(args: string[]): Promise<RunningExtender> {
  return startExtender(parseExtenderArgs(["--port", "0", "--host", "127.0.0.1", ...args], {}, { allowKubeconfig: true }), { kubeconfig: kubeconfigConnection });
}

export interface Reply {
  status: number;
  body: any;
}

export async function post(port: number, verb: string, body: unknown): Promise<Reply> {
  const res = await fetch(`http://127.0.0.1:${port}/${verb}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // plain text
  }
  return { status: res.status, body: parsed };
}

/** What an HTTPS call came back with: a reply, or the error that ended it (a refused handshake). */
export interface TlsOutcome {
  status?: number;
  body?: any;
  error?: string;
}

/** POSTs a verb over TLS, checking the server against `ca` and `servername`, with a client certificate when given. */
export function postTls(port: number, verb: string, body: unknown, tls: { ca: string | Buffer; servername: string; cert?: string | Buffer; key?: string | Buffer }): Promise<TlsOutcome> {
  return new Promise((resolve) => {
    const req = httpsRequest({
      host: "127.0.0.1", port, method: "POST", path: `/${verb}`, agent: false, headers: { "content-type": "application/json" },
      ca: tls.ca, servername: tls.servername, ...(tls.cert && tls.key ? { cert: tls.cert, key: tls.key } : {}),
    }, (res) => {
      let text = "";
      res.on("data", (d) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode, body: JSON.parse(text) }));
    });
    req.on("error", (err) => resolve({ error: err.message }));
    req.end(JSON.stringify(body));
  });
}
