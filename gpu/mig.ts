/**
 * MIG (Multi-Instance GPU) facts: which products partition, into which GPU instance
 * profiles, and whether a set of instances fits on one GPU. Pure data and functions beneath
 * components/, policies/ and runtime/, like ./index.ts.
 *
 * Source: NVIDIA Multi-Instance GPU User Guide (docs.nvidia.com/datacenter/tesla/mig-user-guide),
 * "Supported MIG Profiles" for H100 80GB and A100 80GB, and the placements `nvidia-smi mig -lgipp`
 * prints there: a profile's instance starts at one of its placement indices and occupies
 * `memorySlices` consecutive memory slices of the GPU's 8. The `+me` (media extension) profiles
 * are left out: their resource names are not valid Kubernetes resource names.
 */
import type { GpuProduct } from "./index";

export interface MigProfile {
  /** Compute slices (GPCs) of the instance, of the GPU's 7. */
  computeSlices: number;
  /** Memory slices of the instance, of the GPU's 8. */
  memorySlices: number;
  /** Most instances of this profile one GPU holds. */
  maxInstances: number;
  /** Memory-slice indices an instance of this profile may start at. */
  placements: readonly number[];
  /** Framebuffer of one instance in MiB, as GFD labels it (`nvidia.com/mig-<profile>.memory`), where a capture shows it. */
  memoryMiB?: number;
}

/** H100 80GB and A100 80GB share the geometry and the names (the MIG guide's two 80GB tables). */
const MIG_80GB: Record<string, MigProfile> = {
  "1g.10gb": { computeSlices: 1, memorySlices: 1, maxInstances: 7, placements: [0, 1, 2, 3, 4, 5, 6] },
  "1g.20gb": { computeSlices: 1, memorySlices: 2, maxInstances: 4, placements: [0, 2, 4, 6] },
  "2g.20gb": { computeSlices: 2, memorySlices: 2, maxInstances: 3, placements: [0, 2, 4] },
  "3g.40gb": { computeSlices: 3, memorySlices: 4, maxInstances: 2, placements: [0, 4] },
  "4g.40gb": { computeSlices: 4, memorySlices: 4, maxInstances: 1, placements: [0] },
  "7g.80gb": { computeSlices: 7, memorySlices: 8, maxInstances: 1, placements: [0] },
};

/**
 * MIG profiles per product. Products absent here (L40S, A10G, L4) have no MIG. H100 instance
 * memory from NVIDIA/cloud-native-docs gpu-operator/manifests/output/mig-mixed-node-labels.json
 * (GFD labels of an H100 80GB HBM3 node, `all-balanced`).
 */
export const MIG_PROFILES: Partial<Record<GpuProduct, Record<string, MigProfile>>> = {
  h100: {
    ...MIG_80GB,
    "1g.10gb": { ...MIG_80GB["1g.10gb"]!, memoryMiB: 9984 },
    "2g.20gb": { ...MIG_80GB["2g.20gb"]!, memoryMiB: 20096 },
    "3g.40gb": { ...MIG_80GB["3g.40gb"]!, memoryMiB: 40320 },
  },
  a100: MIG_80GB,
};

export const MIG_COMPUTE_SLICES = 7;
export const MIG_MEMORY_SLICES = 8;

/**
 * Labels of MIG nodes: NVIDIA's MIG manager reads `config`, writes `configState`; GFD writes
 * `strategy` and, under `mixed`, `nvidia.com/mig-<profile>.count|.memory` (k8s-device-plugin
 * v0.20.0 docs/gpu-feature-discovery/README.md, "MIG 'mixed' strategy").
 */
export const MIG_LABELS = {
  config: "nvidia.com/mig.config",
  configState: "nvidia.com/mig.config.state",
  strategy: "nvidia.com/mig.strategy",
} as const;

export type MigStrategy = "single" | "mixed";

/** A pool's MIG setting as the stack config gives it. */
export interface MigSpec {
  /**
   * `single`: every GPU of a node is cut the same way and its MIG devices are advertised as
   * `nvidia.com/gpu`; `mixed`: each profile is its own resource `nvidia.com/mig-<profile>`.
   */
  strategy: MigStrategy;
  /** `all-<profile>` (every GPU cut into as many of it as fit), or instances per GPU, e.g. `{"3g.40gb": 1, "2g.20gb": 1, "1g.10gb": 2}`. */
  profile: string | Record<string, number>;
}

/** GFD's per-profile label under `mixed`, e.g. `nvidia.com/mig-1g.10gb.count`. */
export function migProfileLabel(profile: string, field: "count" | "memory"): string {
  return `nvidia.com/mig-${profile}.${field}`;
}

/** Extended resource of one MIG profile under the `mixed` strategy (NVIDIA device plugin). */
export function migResourceName(profile: string): string {
  return `nvidia.com/mig-${profile}`;
}

/** The profile of a `mixed`-strategy MIG resource name, or undefined for any other resource. */
export function migProfileOfResource(resource: string): string | undefined {
  const m = /^nvidia\.com\/mig-([0-9]+g\.[0-9]+gb)$/.exec(resource);
  return m ? m[1] : undefined;
}

/** `nvidia.com/gpu.product` under the `single` strategy: GFD appends `-MIG-<profile>`. */
export function singleStrategyProduct(gfdProduct: string, profile: string): string {
  return `${gfdProduct}-MIG-${profile}`;
}

/**
 * Instances of each profile on one GPU, or a problem naming what is wrong. `all-<p>` means as
 * many of `<p>` as one GPU holds (its max instances, e.g. 7 × 1g.10gb).
 */
export function migDevicesPerGpu(product: GpuProduct, profile: MigSpec["profile"]): { devices: Record<string, number> } | { problem: string } {
  const table = MIG_PROFILES[product];
  if (!table) return { problem: `${product} GPUs have no MIG (MIG-capable: ${Object.keys(MIG_PROFILES).join(", ")})` };
  const known = Object.keys(table).join(", ");
  if (typeof profile === "string") {
    const name = profile.startsWith("all-") ? profile.slice(4) : undefined;
    const p = name === undefined ? undefined : table[name];
    if (!p) return { problem: `expected "all-<profile>" with a ${product} MIG profile (${known}) or instances per profile, got ${JSON.stringify(profile)}` };
    return { devices: { [name!]: p.maxInstances } };
  }
  const entries = Object.entries(profile);
  if (entries.length === 0) return { problem: "expected at least one MIG profile" };
  for (const [name, count] of entries) {
    if (!table[name]) return { problem: `expected a ${product} MIG profile (${known}), got ${JSON.stringify(name)}` };
    if (!Number.isInteger(count) || count < 1) return { problem: `expected a positive number of ${name} instances, got ${JSON.stringify(count)}` };
  }
  if (!migLayoutFits(table, profile)) {
    return { problem: `${entries.map(([n, c]) => `${c} × ${n}`).join(" + ")} does not fit on one ${product} GPU (${MIG_COMPUTE_SLICES} compute slices, ${MIG_MEMORY_SLICES} memory slices, placements per the MIG user guide)` };
  }
  return { devices: Object.fromEntries(entries.sort(([a], [b]) => a.localeCompare(b))) };
}

/**
 * Whether the instances fit on one GPU: at most 7 compute slices in total, and a start for each
 * instance among its profile's placements with no two instances sharing a memory slice. A small
 * backtracking search (at most 7 instances over 8 slices), largest instances first.
 */
export function migLayoutFits(table: Record<string, MigProfile>, counts: Record<string, number>): boolean {
  const instances: MigProfile[] = [];
  for (const [name, count] of Object.entries(counts)) for (let i = 0; i < count; i++) instances.push(table[name]!);
  if (instances.reduce((s, p) => s + p.computeSlices, 0) > MIG_COMPUTE_SLICES) return false;
  instances.sort((a, b) => b.memorySlices - a.memorySlices);
  const used = new Array<boolean>(MIG_MEMORY_SLICES).fill(false);
  const place = (k: number): boolean => {
    if (k === instances.length) return true;
    const p = instances[k]!;
    for (const start of p.placements) {
      const slots = Array.from({ length: p.memorySlices }, (_, j) => start + j);
      if (slots.some((s) => s >= MIG_MEMORY_SLICES || used[s])) continue;
      for (const s of slots) used[s] = true;
      if (place(k + 1)) return true;
      for (const s of slots) used[s] = false;
    }
    return false;
  };
  return place(0);
}

/**
 * A MIG layout written on one line (a flag or an environment variable): `all-<profile>`, or
 * `<profile>=<count>` pairs separated by commas, e.g. `3g.40gb=1,2g.20gb=1,1g.10gb=2`. The
 * profile names are checked later, against the product (migDevicesPerGpu).
 */
export function parseMigLayout(text: string): MigSpec["profile"] | { problem: string } {
  const spec = text.trim();
  if (spec.startsWith("all-")) return spec;
  const layout: Record<string, number> = {};
  for (const part of spec.split(",")) {
    const m = /^\s*([0-9]+g\.[0-9]+gb)\s*=\s*([0-9]+)\s*$/.exec(part);
    if (!m) return { problem: `expected "all-<profile>" or <profile>=<count>[,...] such as 1g.10gb=7, got ${JSON.stringify(text)}` };
    layout[m[1]!] = (layout[m[1]!] ?? 0) + Number(m[2]);
  }
  return layout;
}

/** The one-line form `parseMigLayout` reads: `<profile>=<count>` pairs separated by commas. */
export function formatMigLayout(devices: Record<string, number>): string {
  return Object.entries(devices).map(([profile, n]) => `${profile}=${n}`).join(",");
}

/**
 * Name of the mig-parted configuration a pool's nodes select with `nvidia.com/mig.config`:
 * NVIDIA's own name for a uniform layout (`all-1g.10gb`, as in the MIG manager's default
 * config), `gpk-<pool>` for a mix the kit writes.
 */
export function migConfigName(pool: string, profile: MigSpec["profile"]): string {
  return typeof profile === "string" ? profile : `gpk-${pool}`;
}
