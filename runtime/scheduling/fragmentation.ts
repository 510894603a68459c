/**
 * GPU fragmentation of a node against a target workload, as the FGD paper defines it
 * (USENIX ATC'23 "Beware of Fragmentation", §4; artifact `NodeGpuShareFragAmount`):
 *
 *   F(node) = Σ_shapes weight(shape) × F_shape(node), in milli-GPU, where F_shape is
 *   - all idle milli-GPU of the node if the shape cannot run there (lacks CPU, lacks GPUs,
 *     wrong GPU model, or needs no GPU at all — idle GPUs are useless to a CPU-only task);
 *   - otherwise the idle milli-GPU on the GPUs that each have less left than the shape's
 *     milli-GPU per GPU (the GPUs that shape can never use).
 *
 * The cluster fragmentation rate is Σ F(node) / Σ idle milli-GPU. Memory is not part of it.
 *
 * `Fragmenter` evaluates F for a node state given as (model, CPU left, milli-GPU left per GPU)
 * without building node objects, so FGD can score hypothetical placements cheaply.
 */
import type { TargetWorkload } from "./workload";
import { MILLI, type NodeState } from "./types";

export class Fragmenter {
  /** Weight of the CPU-only shapes: their F is always all idle GPU. */
  private readonly cpuOnlyWeight: number;
  /** GPU shapes, flattened for the hot loop. */
  private readonly cpu: Float64Array;
  private readonly milli: Float64Array;
  private readonly count: Float64Array;
  private readonly weight: Float64Array;
  private readonly models: (readonly string[])[];
  private readonly accessByModel = new Map<string, Uint8Array>();

  constructor(readonly workload: TargetWorkload) {
    const gpuShapes = workload.shapes.filter((s) => s.gpuMilli > 0 && s.numGpu > 0);
    this.cpuOnlyWeight = workload.shapes.filter((s) => !(s.gpuMilli > 0 && s.numGpu > 0)).reduce((a, s) => a + s.weight, 0);
    this.cpu = Float64Array.from(gpuShapes, (s) => s.cpuMilli);
    this.milli = Float64Array.from(gpuShapes, (s) => s.gpuMilli);
    this.count = Float64Array.from(gpuShapes, (s) => s.numGpu);
    this.weight = Float64Array.from(gpuShapes, (s) => s.weight);
    this.models = gpuShapes.map((s) => s.gpuModels);
  }

  /** Which GPU shapes may run on GPUs of `model` (1) or not (0). */
  private access(model: string): Uint8Array {
    let access = this.accessByModel.get(model);
    if (!access) {
      access = Uint8Array.from(this.models, (m) => (m.length === 0 || m.includes(model) ? 1 : 0));
      this.accessByModel.set(model, access);
    }
    return access;
  }

  /**
   * F for a node state. `left` holds milli-GPU left per GPU (only the first `gpuCount` entries
   * are read), so callers can reuse one scratch array.
   */
  fragOf(model: string, cpuLeft: number, left: ArrayLike<number>, gpuCount: number): number {
    let idle = 0;
    for (let i = 0; i < gpuCount; i++) idle += left[i]!;
    if (idle === 0) return 0;
    let frag = this.cpuOnlyWeight * idle;
    const access = this.access(model);
    const n = this.weight.length;
    for (let s = 0; s < n; s++) {
      const w = this.weight[s]!;
      if (access[s] === 0 || cpuLeft < this.cpu[s]!) {
        frag += w * idle;
        continue;
      }
      const m = this.milli[s]!;
      let fitting = 0;
      let below = 0;
      for (let i = 0; i < gpuCount; i++) {
        const l = left[i]!;
        if (l >= m) fitting++;
        else below += l;
      }
      frag += w * (fitting >= this.count[s]! ? below : idle);
    }
    return frag;
  }

  /** F of a node as it stands. */
  nodeFrag(node: NodeState, scratch: number[] = []): number {
    const g = node.gpus.length;
    for (let i = 0; i < g; i++) scratch[i] = MILLI - node.gpus[i]!.usedMilli;
    return this.fragOf(g > 0 ? node.gpus[0]!.model : "", node.cpuMilli - node.cpuUsedMilli, scratch, g);
  }
}

/** Cluster fragmentation rate in percent of idle GPU (0 when nothing is idle). */
export function clusterFragmentationRate(nodes: readonly NodeState[], fragmenter: Fragmenter): number {
  let frag = 0;
  let idle = 0;
  const scratch: number[] = [];
  for (const node of nodes) {
    frag += fragmenter.nodeFrag(node, scratch);
    for (const g of node.gpus) idle += MILLI - g.usedMilli;
  }
  return idle === 0 ? 0 : (100 * frag) / idle;
}
