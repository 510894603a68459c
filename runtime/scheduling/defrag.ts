/**
 * The migration planner: which pods to move, from where to where and in what order, so that a
 * pending GPU pod that fits nowhere fits on one node. Pure, like the rest of
 * runtime/scheduling; the replay simulator uses it, and so will the live `gpk defrag`.
 *
 * Two triggers:
 * - fragmentation (`planForPendingPod`): enough GPUs are free in total, but no node has the
 *   pod's number of them free at once;
 * - a hot node (`planOffNode`, the source article's load shedding): its movable pods go to
 *   other nodes, largest first, within the budget.
 *
 * For fragmentation, the planner works as follows. For every node that could hold the pod, the planner picks the
 * fewest movable pods whose departure frees enough whole GPUs (and CPU and memory). It then
 * re-places them one by one, through the same placement policy, on the other nodes. A plan
 * counts only if every step fits when it runs and the pod fits the emptied node at the end.
 * Among the plans within the migration budget the fewest moves win, then the fewest milli-GPU
 * moved, then the lower node rank.
 */
import { deviceAccepted, fits, assign, unassign } from "./feasibility";
import type { PlacementPolicy } from "./policy";
import { selectNode } from "./score";
import type { GpuAssignment, NodeState, PodRequest } from "./types";

/** A pod where it runs now. */
export interface PlacedPod {
  pod: PodRequest;
  node: string;
  gpus: GpuAssignment;
  /** False for a pod no controller recreates, one its PodDisruptionBudget protects, or one opted out. */
  movable: boolean;
}

export interface Migration {
  pod: string;
  from: string;
  to: string;
  /** GPU indices the pod gets on `to`. */
  gpus: GpuAssignment;
}

export interface MigrationPlan {
  /** The node the pending pod fits once the moves ran. */
  target: string;
  /** In order; each fits when it runs. */
  moves: Migration[];
}

export interface PlanOptions {
  /** Most pods one plan may move. */
  budget: number;
  /** Most candidate nodes whose moves are placed tentatively (cheapest first). Default 32. */
  maxCandidates?: number;
  /**
   * Whether a pod may run on a node at all (taints, selectors, affinity, dedicated pools, a
   * node held for another pod). Every node when absent, as in the simulator.
   */
  mayRun?: (pod: PodRequest, node: NodeState) => boolean;
}

export interface OffNodePlan {
  /** The node emptied. */
  from: string;
  /** In order; each fits when it runs. */
  moves: Migration[];
  /** Pods left on the node: not movable, no room elsewhere, or over the budget. */
  staying: string[];
}

type MayRun = NonNullable<PlanOptions["mayRun"]>;
const everywhere: MayRun = () => true;

/**
 * Moves the movable pods off `from` (a hot node): largest first, each through the placement
 * policy onto another node it may run on and that is not in `avoid` (other hot nodes), at most
 * `budget` of them. A pod with nowhere to go stays; the ones after it are still tried. The
 * state is left as it was.
 */
export function planOffNode(
  nodes: readonly NodeState[],
  placed: readonly PlacedPod[],
  from: string,
  policy: PlacementPolicy,
  options: PlanOptions & { avoid?: ReadonlySet<string> },
): OffNodePlan {
  const mayRun = options.mayRun ?? everywhere;
  const source = nodes.find((n) => n.name === from);
  const others = nodes.filter((n) => n.name !== from && !options.avoid?.has(n.name));
  const onNode = placed.filter((p) => p.node === from);
  const order = [...onNode].sort((a, b) => b.pod.numGpu * b.pod.gpuMilli - a.pod.numGpu * a.pod.gpuMilli || b.pod.cpuMilli - a.pod.cpuMilli || a.pod.name.localeCompare(b.pod.name));
  const moves: Migration[] = [];
  const done: { p: PlacedPod; to: NodeState; gpus: GpuAssignment }[] = [];
  const staying: string[] = [];
  for (const p of order) {
    const to = p.movable && moves.length < options.budget ? selectNode(others.filter((n) => mayRun(p.pod, n)), p.pod, policy) : null;
    if (!to || !source) {
      staying.push(p.pod.name);
      continue;
    }
    unassign(source, p.pod, p.gpus);
    const gpus = policy.chooseGpus(to, p.pod);
    assign(to, p.pod, gpus);
    done.push({ p, to, gpus });
    moves.push({ pod: p.pod.name, from, to: to.name, gpus });
  }
  for (const { p, to, gpus } of done.reverse()) {
    unassign(to, p.pod, gpus);
    assign(source!, p.pod, p.gpus);
  }
  return { from, moves, staying };
}

/** Whole GPUs the pod could use on the node if nothing ran there: the model and device kind it accepts. */
function usableGpus(node: NodeState, pod: PodRequest): number[] {
  const out: number[] = [];
  node.gpus.forEach((g, i) => {
    if (deviceAccepted(pod, g)) out.push(i);
  });
  return out;
}

/**
 * The fewest movable pods of `node` whose departure lets `pod` fit, or undefined. Greedy: free
 * the usable GPU that needs the fewest (still unchosen) pods moved, until enough are free; then
 * add the largest CPU/memory holders while CPU or memory is short.
 */
export function podsToMove(node: NodeState, onNode: readonly PlacedPod[], pod: PodRequest): PlacedPod[] | undefined {
  const usable = usableGpus(node, pod);
  if (usable.length < pod.numGpu || pod.cpuMilli > node.cpuMilli || pod.memoryMiB > node.memoryMiB) return undefined;
  const holders = new Map<number, PlacedPod[]>();
  for (const p of onNode) {
    for (const g of p.gpus) {
      const list = holders.get(g);
      if (list) list.push(p);
      else holders.set(g, [p]);
    }
  }
  const chosen = new Set<PlacedPod>();
  // A shared-GPU pod needs only its share free on one GPU; freeing a whole GPU always suffices.
  const freeEnough = () => usable.filter((g) => (holders.get(g) ?? []).every((p) => chosen.has(p))).length >= pod.numGpu;
  while (!freeEnough()) {
    let best: { gpu: number; cost: PlacedPod[] } | undefined;
    for (const g of usable) {
      const remaining = (holders.get(g) ?? []).filter((p) => !chosen.has(p));
      if (remaining.length === 0 || remaining.some((p) => !p.movable)) continue;
      if (!best || remaining.length < best.cost.length) best = { gpu: g, cost: remaining };
    }
    if (!best) return undefined;
    for (const p of best.cost) chosen.add(p);
  }
  const leftCpu = () => node.cpuMilli - node.cpuUsedMilli + [...chosen].reduce((s, p) => s + p.pod.cpuMilli, 0);
  const leftMem = () => node.memoryMiB - node.memoryUsedMiB + [...chosen].reduce((s, p) => s + p.pod.memoryMiB, 0);
  const rest = onNode.filter((p) => p.movable && !chosen.has(p)).sort((a, b) => b.pod.cpuMilli - a.pod.cpuMilli || b.pod.memoryMiB - a.pod.memoryMiB);
  for (const p of rest) {
    if (leftCpu() >= pod.cpuMilli && leftMem() >= pod.memoryMiB) break;
    chosen.add(p);
  }
  if (leftCpu() < pod.cpuMilli || leftMem() < pod.memoryMiB) return undefined;
  // Largest first: they have the fewest places to go.
  return [...chosen].sort((a, b) => b.pod.numGpu * b.pod.gpuMilli - a.pod.numGpu * a.pod.gpuMilli || b.pod.cpuMilli - a.pod.cpuMilli);
}

/**
 * Tries the moves on the live state and undoes them: the migrations in order when each lands
 * on another node and the pending pod then fits the emptied one, else undefined.
 */
function tryMoves(nodes: readonly NodeState[], target: NodeState, moving: readonly PlacedPod[], pending: PodRequest, policy: PlacementPolicy, mayRun: MayRun): Migration[] | undefined {
  const others = nodes.filter((n) => n !== target);
  const done: { p: PlacedPod; to: NodeState; gpus: GpuAssignment }[] = [];
  for (const p of moving) unassign(target, p.pod, p.gpus);
  let ok = true;
  for (const p of moving) {
    const to = selectNode(others.filter((n) => mayRun(p.pod, n)), p.pod, policy);
    if (!to) {
      ok = false;
      break;
    }
    const gpus = policy.chooseGpus(to, p.pod);
    assign(to, p.pod, gpus);
    done.push({ p, to, gpus });
  }
  const result = ok && fits(target, pending) ? done.map(({ p, to, gpus }) => ({ pod: p.pod.name, from: p.node, to: to.name, gpus })) : undefined;
  for (const { p, to, gpus } of done.reverse()) unassign(to, p.pod, gpus);
  for (const p of moving) assign(target, p.pod, p.gpus);
  return result;
}

/** A plan that makes `pending` fit, within the budget, or null when there is none. */
export function planForPendingPod(
  nodes: readonly NodeState[],
  placed: readonly PlacedPod[],
  pending: PodRequest,
  policy: PlacementPolicy,
  options: PlanOptions,
): MigrationPlan | null {
  const mayRun = options.mayRun ?? everywhere;
  const eligible = nodes.filter((n) => mayRun(pending, n));
  const already = selectNode(eligible, pending, policy);
  if (already) return { target: already.name, moves: [] };
  const byNode = new Map<string, PlacedPod[]>();
  for (const p of placed) {
    const list = byNode.get(p.node);
    if (list) list.push(p);
    else byNode.set(p.node, [p]);
  }
  const candidates: { node: NodeState; moving: PlacedPod[]; milli: number }[] = [];
  for (const node of eligible) {
    const moving = podsToMove(node, byNode.get(node.name) ?? [], pending);
    if (!moving || moving.length === 0 || moving.length > options.budget) continue;
    candidates.push({ node, moving, milli: moving.reduce((s, p) => s + p.pod.numGpu * p.pod.gpuMilli, 0) });
  }
  candidates.sort((a, b) => a.moving.length - b.moving.length || a.milli - b.milli || a.node.rank - b.node.rank);
  for (const c of candidates.slice(0, options.maxCandidates ?? 32)) {
    const moves = tryMoves(nodes, c.node, c.moving, pending, policy, mayRun);
    if (moves) return { target: c.node.name, moves };
  }
  return null;
}

/** Whole GPUs free across the nodes for this pod's device kind and models: fragmentation is when this is enough and no node is. */
export function freeWholeGpus(nodes: readonly NodeState[], pod: PodRequest): number {
  let free = 0;
  for (const n of nodes) for (const g of n.gpus) if (g.usedMilli === 0 && deviceAccepted(pod, g)) free++;
  return free;
}


