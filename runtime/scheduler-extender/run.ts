/**
 * Wires a running extender from its config: state source → cache → policy → HTTP server, plus
 * the Kubernetes reflectors, binder and telemetry scraper when configured. Shared by
 * `gpk extender` and the in-cluster entry; the kubeconfig connection is injected by the CLI so
 * the bundle never carries @kubernetes/client-node.
 */
import { ClusterCache } from "./cache";
import { Extender, type Binder } from "./extender";
import { inClusterConnection, KubeClient, Reflector, type KubeConnection } from "./kube";
import { ExtenderConfigError, readTlsFiles, type ExtenderConfig } from "./options";
import { PolicyHolder } from "./placement";
import { startExtenderServer, type RunningExtenderServer } from "./server";
import { loadSnapshot } from "./snapshot";
import { TelemetryScraper, type ScrapeTarget } from "./telemetry";
import { podHoldsResources } from "./translate";
import type { K8sNode, K8sPod } from "./wire";

export interface RunningExtender {
  port: number;
  /** Port of /healthz and /metrics (the verb port without TLS). */
  healthPort: number;
  cache: ClusterCache;
  extender: Extender;
  server: RunningExtenderServer;
  /** Resolves once the state source has synced (immediately for snapshot / none). */
  synced: Promise<void>;
  close(): Promise<void>;
}

export interface StartDeps {
  log?: (message: string) => void;
  /** Connection for `--kubeconfig` (the CLI passes client-node's loader). */
  kubeconfig?: (file: string) => Promise<KubeConnection>;
}

function matches(pod: K8sPod, selector: { key: string; value: string }[]): boolean {
  return selector.length > 0 && selector.every((s) => pod.metadata?.labels?.[s.key] === s.value);
}

export async function startExtender(config: ExtenderConfig, deps: StartDeps = {}): Promise<RunningExtender> {
  const log = deps.log ?? (() => {});
  const cache = new ClusterCache(log);
  let workload;
  if (config.source.kind === "snapshot") workload = loadSnapshot(config.source.file, cache);

  let client: KubeClient | undefined;
  const reflectors: Reflector<unknown>[] = [];
  const exporters = new Map<string, ScrapeTarget>();
  if (config.source.kind === "in-cluster" || config.source.kind === "kubeconfig") {
    const conn = config.source.kind === "in-cluster"
      ? inClusterConnection()
      : await deps.kubeconfig!(config.source.file);
    client = new KubeClient({ ...conn, rateLimit: { qps: config.kubeQps, burst: config.kubeBurst } });
    const trackExporter = (pod: K8sPod) => {
      const uid = pod.metadata?.uid;
      if (!uid) return;
      const ip = (pod.status as { podIP?: string } | undefined)?.podIP;
      if (matches(pod, config.telemetryPods) && ip && pod.spec?.nodeName && podHoldsResources(pod)) {
        exporters.set(uid, { url: `http://${ip.includes(":") ? `[${ip}]` : ip}:${config.telemetryPort}/metrics`, node: pod.spec.nodeName });
      } else {
        exporters.delete(uid);
      }
    };
    // A node the extender cannot read (a malformed quantity, an impossible GPU count) is left
    // out of placement with a log line, as a malformed pod is; it must not stop the watch.
    const upsertNode = (n: K8sNode) => {
      try {
        cache.upsertNode(n);
      } catch (err) {
        log(`node ${n.metadata.name}: ${(err as Error).message}; ignored`);
        cache.deleteNode(n.metadata.name);
      }
    };
    reflectors.push(new Reflector<K8sNode>(client, "/api/v1/nodes", {
      replace(items) {
        const keep = new Set(items.map((n) => n.metadata.name));
        for (const name of cache.nodeNames()) if (!keep.has(name)) cache.deleteNode(name);
        for (const n of items) upsertNode(n);
      },
      upsert: upsertNode,
      remove: (n) => cache.deleteNode(n.metadata.name),
    }, log) as Reflector<unknown>);
    reflectors.push(new Reflector<K8sPod>(client, "/api/v1/pods", {
      replace(items) {
        const keep = new Set(items.map((p) => p.metadata?.uid));
        for (const uid of cache.podUids()) if (!keep.has(uid)) cache.deletePod(uid);
        exporters.clear();
        for (const p of items) {
          cache.upsertPod(p);
          trackExporter(p);
        }
      },
      upsert(p) {
        cache.upsertPod(p);
        trackExporter(p);
      },
      remove(p) {
        if (p.metadata?.uid) {
          cache.deletePod(p.metadata.uid);
          exporters.delete(p.metadata.uid);
        }
      },
    }, log) as Reflector<unknown>);
    for (const r of reflectors) r.start();
  }

  const policy = new PolicyHolder(cache, { policy: config.policy, hotTemperatureC: config.hotTemperatureC, seed: config.seed, workload });
  const binder: Binder | undefined = client && { bind: (t) => client.bind(t) };
  const extender = new Extender(cache, policy, binder, (e) => log(`bound ${e.pod} to ${e.node} GPUs [${e.gpus.join(",")}]`), config.filterAnswer);

  let scraper: TelemetryScraper | undefined;
  if (config.telemetryUrls.length > 0 || config.telemetryPods.length > 0) {
    scraper = new TelemetryScraper({
      cache, urls: config.telemetryUrls, intervalMs: config.telemetryIntervalMs, log,
      podTargets: () => [...exporters.values()],
    });
  }

  const synced = Promise.all(reflectors.map((r) => r.synced)).then(() => undefined);
  if (!config.tls) log(`WARNING: serving plain HTTP: any caller that reaches port ${config.port} can read the GPU state and bind pods with this extender's credentials; use --tls-cert, --tls-key and --client-ca outside a workstation`);
  let server: RunningExtenderServer;
  try {
    server = await startExtenderServer({
      extender, port: config.port, host: config.host, log,
      tls: config.tls && readTlsFiles(config.tls),
      healthPort: config.tls?.healthPort,
      ready: () => reflectors.every((r) => r.hasSynced),
    });
  } catch (err) {
    for (const r of reflectors) r.stop();
    client?.close();
    // OpenSSL's refusals of the PEM contents (an unreadable key, a key that is not the certificate's).
    const code = (err as NodeJS.ErrnoException).code;
    if (typeof code === "string" && code.startsWith("ERR_OSSL")) throw new ExtenderConfigError(`--tls-cert, --tls-key, --client-ca: ${(err as Error).message} (${code})`);
    throw err;
  }
  // Scrape once the node names are known, so the first round lands.
  void synced.then(() => scraper?.start());

  return {
    port: server.port, healthPort: server.healthPort, cache, extender, server, synced,
    async close() {
      scraper?.stop();
      for (const r of reflectors) r.stop();
      client?.close();
      await server.close();
    },
  };
}
