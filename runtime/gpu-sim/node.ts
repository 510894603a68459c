/**
 * A simulated GPU node: N devices of one product with deterministic identities (UUIDs, PCI bus
 * ids, NUMA nodes, serials derived from a seed), one explicit clock for all of them, and an
 * observable health-change source that a device plugin's ListAndWatch can consume.
 */
import { createHash } from "node:crypto";
import { EventEmitter, on } from "node:events";
import { GPU_PRODUCT_IDS, type GpuProduct } from "../../gpu";
import { MIG_PROFILES, migDevicesPerGpu, type MigSpec } from "../../gpu/mig";
import { SimGpu, type DeviceDynamics, type DeviceIdentity, type DeviceSettings, type Health, type Workload } from "./device";
import { simProfile } from "./profiles";

export interface SimNodeOptions {
  /** Node name; also the Hostname label of the exporter. Default "gpk-sim-node". */
  hostname?: string;
  /** GPU product id from gpu/index.ts. Default "h100". */
  product?: GpuProduct;
  /** GPUs on the node. Default 8. */
  count?: number;
  /** Seed of the device identities. Default: the hostname, so each node gets its own UUIDs. */
  seed?: string;
  /** NUMA nodes the GPUs split across, in index order. Default 2 for 4+ GPUs, else 1. */
  numaNodes?: number;
  /**
   * MIG layout of every GPU: `all-<profile>` or instances per profile, e.g. `{"1g.10gb": 7}`
   * (gpu/mig.ts checks it fits the product). Default: MIG disabled, whole GPUs.
   */
  mig?: MigSpec["profile"];
}

/** One MIG device of a simulated GPU. */
export interface SimMigDevice {
  /** Host index of the GPU it is carved from. */
  gpuIndex: number;
  /** Its index among that GPU's MIG devices, as `nvidia-smi -L` numbers them (from 0 on each GPU). */
  index: number;
  profile: string;
  /** `MIG-<uuid>`, the form R470+ drivers print and NVIDIA_VISIBLE_DEVICES takes. */
  uuid: string;
}

export interface HealthEvent {
  index: number;
  uuid: string;
  health: Health;
  reason: string;
  timeS: number;
}

/** PCI buses of the eight GPUs of a DGX/HGX H100 baseboard; other positions follow on. */
const HGX_BUSES = [0x18, 0x2a, 0x3a, 0x5d, 0x9a, 0xab, 0xba, 0xdb];

function digest(seed: string, index: number): string {
  return createHash("sha256").update(`${seed}/gpu/${index}`).digest("hex");
}

/** `GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, the form NVML prints, derived from the seed. */
export function simUuid(seed: string, index: number): string {
  const h = digest(seed, index);
  return `GPU-${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/**
 * `MIG-xxxxxxxx-xxxx-5xxx-[89ab]xxx-xxxxxxxxxxxx`, derived from the seed. NVIDIA's MIG UUIDs are
 * name-based (version 5, RFC 4122 variant), as in the captures of NVIDIA/cloud-native-docs
 * gpu-operator/manifests/output/mig-nvidia-smi.txt.
 */
export function simMigUuid(seed: string, gpuIndex: number, migIndex: number): string {
  const h = createHash("sha256").update(`${seed}/gpu/${gpuIndex}/mig/${migIndex}`).digest("hex");
  const variant = ((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  return `MIG-${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function simPciBusId(index: number): string {
  const bus = HGX_BUSES[index] ?? 0xdb + (index - 7) * 0x10;
  return `00000000:${bus.toString(16).toUpperCase().padStart(2, "0")}:00.0`;
}

export function deviceIdentities(seed: string, count: number, numaNodes: number): DeviceIdentity[] {
  return Array.from({ length: count }, (_, index) => ({
    index,
    uuid: simUuid(seed, index),
    pciBusId: simPciBusId(index),
    numaNode: Math.floor((index * numaNodes) / count),
    serial: String(BigInt(`0x${digest(seed, index).slice(32, 44)}`) % 10n ** 13n).padStart(13, "1"),
  }));
}

export interface DeviceSnapshot {
  id: DeviceIdentity;
  settings: DeviceSettings;
  workload: Required<Workload>;
  state: DeviceDynamics;
}

/** Everything needed to rebuild a node exactly (the state file format, version 1). */
export interface NodeSnapshot {
  version: 1;
  hostname: string;
  product: GpuProduct;
  seed: string;
  numaNodes: number;
  /** MIG instances per GPU by profile; absent when MIG is disabled. */
  mig?: Record<string, number>;
  devices: DeviceSnapshot[];
}

export class SimNode {
  readonly hostname: string;
  readonly product: GpuProduct;
  readonly seed: string;
  readonly numaNodes: number;
  readonly devices: SimGpu[];
  /** MIG instances per GPU by profile, when MIG is enabled. */
  readonly mig?: Readonly<Record<string, number>>;
  private readonly events = new EventEmitter();

  constructor(options: SimNodeOptions = {}, restore?: DeviceSnapshot[]) {
    this.hostname = options.hostname ?? "gpk-sim-node";
    this.product = options.product ?? "h100";
    if (!GPU_PRODUCT_IDS.includes(this.product)) {
      throw new RangeError(`unknown GPU product ${JSON.stringify(this.product)}; known: ${GPU_PRODUCT_IDS.join(", ")}`);
    }
    const count = restore?.length ?? options.count ?? 8;
    if (!Number.isInteger(count) || count < 1 || count > 64) throw new RangeError(`GPU count must be an integer 1–64, got ${count}`);
    this.seed = options.seed ?? this.hostname;
    this.numaNodes = Math.min(count, options.numaNodes ?? (count >= 4 ? 2 : 1));
    if (options.mig !== undefined) {
      const layout = migDevicesPerGpu(this.product, options.mig);
      if ("problem" in layout) throw new RangeError(`MIG layout: ${layout.problem}`);
      this.mig = layout.devices;
    }
    const profile = simProfile(this.product);
    const ids = deviceIdentities(this.seed, count, this.numaNodes);
    this.devices = ids.map((id, i) => {
      const saved = restore?.[i];
      const gpu = saved ? new SimGpu(profile, saved.id, saved.settings, saved.state) : new SimGpu(profile, id);
      if (saved) gpu.workload = { ...saved.workload };
      gpu.onHealthChange = (health, reason) => {
        const event: HealthEvent = { index: gpu.id.index, uuid: gpu.id.uuid, health, reason, timeS: gpu.state.timeS };
        this.events.emit("health", event);
      };
      return gpu;
    });
    this.events.setMaxListeners(0);
  }

  /**
   * The MIG devices of GPU `gpuIndex` (none without MIG), largest instances first as the driver
   * lists them (the mixed capture above: 3g.40gb, 2g.20gb, then the 1g.10gb devices).
   */
  migDevices(gpuIndex: number): SimMigDevice[] {
    if (!this.mig) return [];
    const table = MIG_PROFILES[this.product]!;
    const profiles = Object.keys(this.mig).sort((a, b) => table[b]!.memorySlices - table[a]!.memorySlices || a.localeCompare(b));
    const out: SimMigDevice[] = [];
    for (const profile of profiles) {
      for (let k = 0; k < this.mig[profile]!; k++) out.push({ gpuIndex, index: out.length, profile, uuid: simMigUuid(this.seed, gpuIndex, out.length) });
    }
    return out;
  }

  /** Every MIG device of the node, GPU by GPU. */
  allMigDevices(): SimMigDevice[] {
    return this.devices.flatMap((d) => this.migDevices(d.id.index));
  }

  /** Advances every device by `dtS` seconds of simulated time. */
  step(dtS: number): void {
    for (const gpu of this.devices) gpu.step(dtS);
  }

  get timeS(): number {
    return this.devices[0]!.state.timeS;
  }

  /** A device by index or UUID; throws naming the id when there is none. */
  device(id: number | string): SimGpu {
    const gpu = typeof id === "number" ? this.devices[id] : this.devices.find((d) => d.id.uuid === id);
    if (!gpu) throw new RangeError(`no GPU ${JSON.stringify(id)} on node ${this.hostname}`);
    return gpu;
  }

  setWorkload(id: number | string, workload: Workload): void {
    this.device(id).setWorkload(workload);
  }

  /** Subscribes to health changes; returns the unsubscribe function. */
  onHealthChange(listener: (event: HealthEvent) => void): () => void {
    this.events.on("health", listener);
    return () => this.events.off("health", listener);
  }

  /** Health changes as an async iterable, ended by `signal` (what a ListAndWatch loop consumes). */
  async *healthEvents(signal?: AbortSignal): AsyncGenerator<HealthEvent> {
    try {
      for await (const [event] of on(this.events, "health", { signal })) yield event as HealthEvent;
    } catch (err) {
      if ((err as Error).name !== "AbortError") throw err;
    }
  }

  snapshot(): NodeSnapshot {
    return {
      version: 1, hostname: this.hostname, product: this.product, seed: this.seed, numaNodes: this.numaNodes,
      ...(this.mig ? { mig: { ...this.mig } } : {}),
      devices: this.devices.map((d) => structuredClone({ id: d.id, settings: d.settings, workload: d.workload, state: d.state })),
    };
  }

  static fromSnapshot(snapshot: NodeSnapshot): SimNode {
    return new SimNode(
      { hostname: snapshot.hostname, product: snapshot.product, seed: snapshot.seed, numaNodes: snapshot.numaNodes, ...(snapshot.mig ? { mig: snapshot.mig } : {}) },
      snapshot.devices.map((d) => structuredClone(d)),
    );
  }
}
