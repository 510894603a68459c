/**
 * GPU telemetry for the thermal-aware `gpk` policy: scrapes DCGM exporter metrics (NVIDIA's
 * dcgm-exporter or the kit's runtime/telemetry) and records, per node and GPU index, the
 * temperature, whether the clocks are held down (SW power cap, or thermal slowdown) and the
 * GPU UUID (recorded in the bind annotation for the device plugin).
 *
 * Targets:
 * - `--telemetry-url <url>`: a URL; a host name that resolves to several addresses (a headless
 *   Service) is scraped at every address. Metrics belong to the node in their `Hostname` label.
 * - exporter pods found by label in the pod watch (in-cluster): each pod's IP is scraped and its
 *   metrics belong to the pod's node, whatever `Hostname` says (dcgm-exporter may report the
 *   pod's host name there).
 * A node that no scrape has reported for `staleAfterMs` loses its telemetry (unknown = healthy),
 * so a dead exporter does not pin a node as hot forever.
 */
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { parseDcgmMetrics } from "../telemetry/parse";
import type { ClusterCache, NodeTelemetry } from "./cache";

export interface ScrapeTarget {
  url: string;
  /** Node the metrics belong to; undefined: take it from the Hostname label. */
  node?: string;
}

export interface TelemetryScraperOptions {
  cache: ClusterCache;
  urls: readonly string[];
  /** Extra targets (exporter pods from the pod watch). */
  podTargets?: () => ScrapeTarget[];
  intervalMs?: number;
  timeoutMs?: number;
  staleAfterMs?: number;
  now?: () => number;
  log?: (message: string) => void;
}

export class TelemetryScraper {
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private readonly lastSeen = new Map<string, number>();
  private readonly now: () => number;
  /** Completed scrape rounds (readable by tests and /metrics). */
  rounds = 0;

  constructor(private readonly options: TelemetryScraperOptions) {
    this.now = options.now ?? (() => Date.now());
  }

  start(): void {
    this.stopped = false;
    const tick = () => {
      void this.scrapeOnce().finally(() => {
        // stop() during an in-flight round must not be undone by re-arming here.
        if (this.stopped) return;
        this.timer = setTimeout(tick, this.options.intervalMs ?? 15_000);
        this.timer.unref();
      });
    };
    tick();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Expands URLs whose host resolves to several addresses (headless Services). */
  async targets(): Promise<ScrapeTarget[]> {
    const out: ScrapeTarget[] = [];
    for (const raw of this.options.urls) {
      const url = new URL(raw);
      const host = url.hostname.replace(/^\[|\]$/g, "");
      if (isIP(host) || host === "localhost") {
        out.push({ url: raw });
        continue;
      }
      try {
        const addresses = await lookup(host, { all: true });
        for (const a of addresses) {
          const copy = new URL(raw);
          copy.hostname = a.family === 6 ? `[${a.address}]` : a.address;
          out.push({ url: copy.toString() });
        }
      } catch (err) {
        this.options.log?.(`telemetry: cannot resolve ${host}: ${(err as Error).message}`);
      }
    }
    return [...out, ...(this.options.podTargets?.() ?? [])];
  }

  /** One round: scrape every target, update the cache, expire silent nodes. */
  async scrapeOnce(): Promise<void> {
    const targets = await this.targets();
    const perNode = new Map<string, NodeTelemetry>();
    await Promise.all(targets.map(async (t) => {
      let text: string;
      try {
        const res = await fetch(t.url, { signal: AbortSignal.timeout(this.options.timeoutMs ?? 5_000) });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        text = await res.text();
      } catch (err) {
        this.options.log?.(`telemetry: ${t.url}: ${(err as Error).message}`);
        return;
      }
      for (const gpu of parseDcgmMetrics(text)) {
        const node = t.node ?? gpu.hostname;
        const index = Number(gpu.gpu);
        if (!node || !Number.isInteger(index) || index < 0) continue;
        let entry = perNode.get(node);
        if (!entry) perNode.set(node, (entry = { gpus: new Map() }));
        entry.gpus.set(index, {
          uuid: gpu.uuid,
          ...(gpu.temp !== undefined ? { temperatureC: gpu.temp } : {}),
          // Clocks held down for power or heat: either way the GPU runs slower than its peers.
          powerCapped: gpu.powerCapped || gpu.thermalSlowdown,
        });
      }
    }));
    const now = this.now();
    for (const [node, telemetry] of perNode) {
      this.options.cache.setTelemetry(node, telemetry);
      this.lastSeen.set(node, now);
    }
    const staleAfter = this.options.staleAfterMs ?? 3 * (this.options.intervalMs ?? 15_000);
    for (const [node, seen] of this.lastSeen) {
      if (now - seen > staleAfter) {
        this.options.cache.setTelemetry(node, { gpus: new Map() });
        this.lastSeen.delete(node);
      }
    }
    this.rounds++;
  }
}
