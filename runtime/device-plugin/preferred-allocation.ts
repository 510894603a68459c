/**
 * GetPreferredAllocation's choice, as a pure function: which `size` devices to hand a container
 * from the ones kubelet says are available. Rules, in priority order:
 *
 * 1. Every `mustInclude` device is in the answer (kubelet passes devices it already reuses).
 * 2. GPUs named by a hint (e.g. the gpk scheduler extender's pick) come next, one device each.
 * 3. The answer spans as few NUMA nodes as possible — NUMA nodes already spanned by 1–2 are
 *    free to fill, new ones are added by the smallest count that covers the rest.
 * 4. Among NUMA node sets of equal count, the one with the fewest free devices (best fit), so
 *    large free groups stay whole for later multi-GPU requests; then the lowest node IDs.
 * 5. Within the chosen nodes, devices spread over distinct physical GPUs first (time-slice
 *    replicas of one GPU share its compute); then nodes fill in order (best fit first; when
 *    new nodes are opened, the largest first, so leftovers sit on one node); then GPUs with the
 *    most free replicas — the "fewest allocated replicas" idea of NVIDIA's distributed policy
 *    for shared GPUs — then the lowest GPU index.
 *
 * The result does not depend on the order of `available`.
 */

/** A device kubelet may hand out, resolved to its physical GPU. */
export interface Candidate {
  readonly id: string;
  readonly uuid: string;
  readonly gpuIndex: number;
  readonly numaNode: number;
}

export interface PreferredAllocationInput {
  readonly available: readonly Candidate[];
  readonly mustInclude: readonly Candidate[];
  readonly size: number;
  /** GPU UUIDs to take first, in order (devices of these GPUs that are available). */
  readonly preferUuids?: readonly string[];
}

/** The request cannot be satisfied as asked; the server answers INVALID_ARGUMENT. */
export class AllocationRequestError extends Error {
  override readonly name = "AllocationRequestError";
}

/** Up to this many NUMA nodes the node-set choice is exact (2^n subsets); beyond, greedy. */
const EXACT_NODE_LIMIT = 16;

export function preferredAllocation(input: PreferredAllocationInput): string[] {
  const { size } = input;
  const chosen = dedupe(input.mustInclude);
  if (!Number.isInteger(size) || size < 0) {
    throw new AllocationRequestError(`allocation_size must be a non-negative integer, got ${size}`);
  }
  if (chosen.length > size) {
    throw new AllocationRequestError(
      `must_include_deviceIDs has ${chosen.length} devices, more than allocation_size ${size}`,
    );
  }
  const chosenIds = new Set(chosen.map((c) => c.id));
  let pool = dedupe(input.available).filter((c) => !chosenIds.has(c.id));
  if (chosen.length + pool.length < size) {
    throw new AllocationRequestError(
      `allocation_size ${size} exceeds the ${chosen.length + pool.length} available devices`,
    );
  }
  pool.sort(byGpuThenId);

  for (const uuid of input.preferUuids ?? []) {
    if (chosen.length >= size) break;
    const hit = pool.find((c) => c.uuid === uuid);
    if (!hit) continue;
    chosen.push(hit);
    pool = pool.filter((c) => c !== hit);
  }

  let need = size - chosen.length;
  if (need === 0) return chosen.map((c) => c.id);

  const freeOnGpu = countBy(pool, (c) => c.uuid);
  const byNode = groupBy(pool, (c) => c.numaNode);
  const spanned = new Set(chosen.map((c) => c.numaNode));
  const spannedNodes = [...byNode.keys()].filter((n) => spanned.has(n));
  const freeOnSpanned = spannedNodes.reduce((sum, n) => sum + byNode.get(n)!.length, 0);

  let fillOrder: number[];
  if (freeOnSpanned >= need) {
    // Best fit among nodes the answer spans anyway.
    fillOrder = spannedNodes.sort((a, b) => byNode.get(a)!.length - byNode.get(b)!.length || a - b);
  } else {
    const others = [...byNode.keys()].filter((n) => !spanned.has(n));
    const extra = chooseNodes(others, (n) => byNode.get(n)!.length, need - freeOnSpanned);
    // Spanned nodes are used up entirely; among the new ones, the largest fill first so the
    // leftover free devices sit on one node.
    fillOrder = [
      ...spannedNodes.sort((a, b) => a - b),
      ...extra.sort((a, b) => byNode.get(b)!.length - byNode.get(a)!.length || a - b),
    ];
  }

  // Pick from all chosen nodes at once so replicas spread over every GPU there. Node sets are
  // minimal, so any `need` devices drawn from them touch each node the span requires.
  const nodeRank = new Map(fillOrder.map((n, i) => [n, i]));
  const candidates = pool.filter((c) => nodeRank.has(c.numaNode));
  while (need > 0) {
    const pick = spreadPick(candidates, chosen, freeOnGpu, nodeRank);
    chosen.push(candidates[pick]);
    candidates.splice(pick, 1);
    need--;
  }
  return chosen.map((c) => c.id);
}

/**
 * The NUMA nodes to add: fewest nodes whose free devices cover `need`, then the smallest
 * total (best fit), then the lowest node IDs.
 */
function chooseNodes(nodes: number[], free: (n: number) => number, need: number): number[] {
  const sorted = [...nodes].sort((a, b) => a - b);
  if (sorted.length > EXACT_NODE_LIMIT) {
    const out: number[] = [];
    let covered = 0;
    for (const n of [...sorted].sort((a, b) => free(b) - free(a) || a - b)) {
      if (covered >= need) break;
      out.push(n);
      covered += free(n);
    }
    return out;
  }
  let best: { nodes: number[]; total: number } | undefined;
  for (let mask = 1; mask < 1 << sorted.length; mask++) {
    const subset = sorted.filter((_, i) => mask & (1 << i));
    const total = subset.reduce((sum, n) => sum + free(n), 0);
    if (total < need) continue;
    if (!best || compareSets(subset, total, best.nodes, best.total) < 0) best = { nodes: subset, total };
  }
  // Callers checked that all nodes together cover `need`.
  return best!.nodes;
}

function compareSets(a: number[], aTotal: number, b: number[], bTotal: number): number {
  if (a.length !== b.length) return a.length - b.length;
  if (aTotal !== bTotal) return aTotal - bTotal;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

/**
 * Index in `candidates` of the next device: the GPU least used by this answer so far, then the
 * node earliest in fill order, then the GPU with the most free replicas, then the lowest index.
 */
function spreadPick(
  candidates: Candidate[],
  chosen: Candidate[],
  freeOnGpu: Map<string, number>,
  nodeRank: Map<number, number>,
): number {
  const usedOnGpu = countBy(chosen, (c) => c.uuid);
  let best = 0;
  for (let i = 1; i < candidates.length; i++) {
    const a = candidates[i];
    const b = candidates[best];
    const order =
      (usedOnGpu.get(a.uuid) ?? 0) - (usedOnGpu.get(b.uuid) ?? 0) ||
      nodeRank.get(a.numaNode)! - nodeRank.get(b.numaNode)! ||
      freeOnGpu.get(b.uuid)! - freeOnGpu.get(a.uuid)! ||
      byGpuThenId(a, b);
    if (order < 0) best = i;
  }
  return best;
}

function byGpuThenId(a: Candidate, b: Candidate): number {
  return a.gpuIndex - b.gpuIndex || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

function dedupe(candidates: readonly Candidate[]): Candidate[] {
  const seen = new Set<string>();
  return candidates.filter((c) => !seen.has(c.id) && (seen.add(c.id), true));
}

function groupBy<T, K>(items: readonly T[], key: (item: T) => K): Map<K, T[]> {
  const out = new Map<K, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = out.get(k);
    if (list) list.push(item);
    else out.set(k, [item]);
  }
  return out;
}

function countBy<T, K>(items: readonly T[], key: (item: T) => K): Map<K, number> {
  const out = new Map<K, number>();
  for (const item of items) out.set(key(item), (out.get(key(item)) ?? 0) + 1);
  return out;
}
