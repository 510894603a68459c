/**
 * The seam between the gRPC server and whatever owns the GPUs (NVIDIA's plugin splits
 * `plugin/server.go` from its NVML/Tegra resource managers the same way). The server only
 * needs: which physical GPUs exist, where they sit (NUMA), whether they are healthy, and a
 * signal when that changes. Backends: `InMemoryGpus` (a static set whose health can be flipped)
 * and the gpu-sim adapter.
 */
import { EventEmitter } from "node:events";

/** One physical GPU as the plugin sees it. */
export interface PhysicalGpu {
  /** NVML UUID, e.g. `GPU-3f1c…`; what NVIDIA_VISIBLE_DEVICES carries. */
  readonly uuid: string;
  /** nvidia-smi index (minor number); orders devices deterministically. */
  readonly index: number;
  /** NUMA node the GPU's PCIe root sits on; advertised as the device's topology. */
  readonly numaNode: number;
  readonly healthy: boolean;
}

export interface ResourceManager {
  /** Current snapshot, ordered by index. */
  gpus(): readonly PhysicalGpu[];
  /**
   * Calls `listener` after any change visible in `gpus()` (health, set of GPUs).
   * Returns the unsubscribe function.
   */
  subscribe(listener: () => void): () => void;
}

/**
 * A fixed set of GPUs with settable health. The backend for tests and for a plugin started
 * without the simulator; also the base the gpu-sim adapter feeds.
 */
export class InMemoryGpus implements ResourceManager {
  private readonly byUuid = new Map<string, PhysicalGpu>();
  private readonly events = new EventEmitter();

  constructor(gpus: readonly Omit<PhysicalGpu, "healthy">[] | readonly PhysicalGpu[]) {
    for (const gpu of gpus) {
      if (this.byUuid.has(gpu.uuid)) throw new Error(`duplicate GPU uuid ${gpu.uuid}`);
      this.byUuid.set(gpu.uuid, { healthy: true, ...gpu });
    }
    // One listener per ListAndWatch stream; many kubelet reconnects must not warn.
    this.events.setMaxListeners(0);
  }

  gpus(): readonly PhysicalGpu[] {
    return [...this.byUuid.values()].sort((a, b) => a.index - b.index);
  }

  subscribe(listener: () => void): () => void {
    this.events.on("change", listener);
    return () => this.events.off("change", listener);
  }

  /** Sets one GPU's health; emits a change only when it differs. */
  setHealth(uuid: string, healthy: boolean): void {
    const gpu = this.byUuid.get(uuid);
    if (!gpu) throw new Error(`unknown GPU uuid ${uuid}`);
    if (gpu.healthy === healthy) return;
    this.byUuid.set(uuid, { ...gpu, healthy });
    this.events.emit("change");
  }
}

/**
 * `count` GPUs spread evenly over `numaNodes` nodes (first half on node 0, as on a p5.48xlarge
 * where GPUs 0–3 hang off socket 0), with UUIDs derived from `node` so they are stable per node.
 */
export function evenlySpreadGpus(node: string, count: number, numaNodes = count >= 2 ? 2 : 1): PhysicalGpu[] {
  const perNode = Math.ceil(count / numaNodes);
  return Array.from({ length: count }, (_, index) => ({
    uuid: stableUuid(node, index),
    index,
    numaNode: Math.floor(index / perNode),
    healthy: true,
  }));
}

/** A deterministic NVML-style UUID (GPU-8-4-4-4-12 hex) from node name and index (FNV-1a). */
export function stableUuid(node: string, index: number): string {
  let hex = "";
  let h = 0x811c9dc5;
  for (let round = 0; hex.length < 32; round++) {
    for (const ch of `${node}/${index}/${round}`) {
      h ^= ch.charCodeAt(0);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    hex += h.toString(16).padStart(8, "0");
  }
  return `GPU-${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}
