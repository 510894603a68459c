/**
 * The seam between the gRPC server and whatever owns the GPUs (NVIDIA's plugin splits
 * `plugin/server.go` from its NVML/Tegra resource managers the same way). The server only
 * needs: which physical GPUs exist, where they sit (NUMA), whether they are healthy, and a
 * signal when that changes. Backends: `SimNodeGpus` (sim-backend.ts, the GPU model main.ts
 * runs) and `InMemoryGpus` (a fixed set whose health is set directly).
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

/** A fixed set of GPUs with settable health, for protocol tests that flip health directly. */
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
