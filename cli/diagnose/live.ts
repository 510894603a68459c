/**
 * What `gpk diagnose` and `gpk defrag` read from a live cluster: the kubeconfig they use, one
 * list of nodes and pods (and PodDisruptionBudgets for defrag) through the extender's own
 * Kubernetes client, and the DCGM exporters' metrics.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { kubeconfigConnection } from "../../runtime/scheduler-extender/kubeconfig";
import { KubeClient } from "../../runtime/scheduler-extender/kube";
import type { K8sNode, K8sPod } from "../../runtime/scheduler-extender/wire";
import { parseDcgmMetrics, type GpuTelemetry } from "../../runtime/telemetry/parse";
import { UsageError, checkFile } from "../contract";

/** An HTTP endpoint asked once, and whether it answered. */
export interface Probe {
  url: string;
  ok: boolean;
  error?: string;
}

/**
 * The kubeconfig to use: the flag, then $KUBECONFIG's first file, then ~/.kube/config; one
 * that is missing or a folder is a UsageError naming where the path came from.
 */
export function kubeconfigPath(flag: string | undefined): string {
  if (flag !== undefined) return checkFile("--kubeconfig", flag);
  const fromEnv = process.env.KUBECONFIG?.split(path.delimiter)[0];
  if (fromEnv) return checkFile("KUBECONFIG", fromEnv);
  const home = path.join(os.homedir(), ".kube", "config");
  if (!fs.existsSync(home)) throw new UsageError(`no kubeconfig: ${home} does not exist; give --kubeconfig <file> or set KUBECONFIG`);
  return checkFile("kubeconfig", home);
}

/** A URL flag's values, each an http(s) URL, or a UsageError naming the flag and the bad one. */
export function checkUrls(flag: string, urls: readonly string[]): void {
  for (const url of urls) if (!/^https?:\/\/\S+$/.test(url)) throw new UsageError(`${flag}: expected an http(s) URL, got ${JSON.stringify(url)}`);
}

/** `--hot-temperature`, in °C (default 83, the extender's). */
export function hotTemperatureFlag(raw: string | undefined): number {
  const value = Number(raw ?? "83");
  if (!Number.isFinite(value) || value < 0 || value > 150) throw new UsageError(`--hot-temperature: expected degrees C between 0 and 150, got ${JSON.stringify(raw)}`);
  return value;
}

/** The short cause of a network or API failure (ECONNREFUSED, a status line). */
export function describeError(err: unknown): string {
  const e = err as { message?: string; cause?: { code?: string; message?: string } };
  return e.cause?.code ?? e.cause?.message ?? e.message ?? String(err);
}

export async function fetchText(url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return res.text();
}

/** A client on the kubeconfig; the caller closes it (its keep-alive sockets would hold the process open). */
export async function connect(kubeconfig: string): Promise<KubeClient> {
  return new KubeClient(await kubeconfigConnection(kubeconfig));
}

export async function listNodesAndPods(client: KubeClient): Promise<{ nodes: K8sNode[]; pods: K8sPod[] }> {
  const nodes = (await client.list<K8sNode>("/api/v1/nodes")).items;
  const pods = (await client.list<K8sPod>("/api/v1/pods")).items;
  return { nodes, pods };
}

/** Every exporter's GPUs, and which answered. */
export async function scrapeTelemetry(urls: readonly string[]): Promise<{ samples: GpuTelemetry[]; probes: Probe[] }> {
  const samples: GpuTelemetry[] = [];
  const probes: Probe[] = [];
  for (const url of urls) {
    try {
      samples.push(...parseDcgmMetrics(await fetchText(url)));
      probes.push({ url, ok: true });
    } catch (err) {
      probes.push({ url, ok: false, error: describeError(err) });
    }
  }
  return { samples, probes };
}
