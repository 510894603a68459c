/**
 * `gpk defrag`'s plan from one read of a live cluster. Pure over the objects read; the
 * migration planner is runtime/scheduling/defrag.ts, the one the replay simulator runs, and
 * the state and placement policy are the extender's own (its cache and PolicyHolder), so a
 * planned destination is where gpk-scheduler would put the pod.
 *
 * - **Triggers**, oldest first: each pending GPU pod `gpk diagnose` names `fragmented` (enough
 *   whole GPUs free in total, not on one node it may use), then each node with a hot,
 *   power-capped or throttled GPU (load shedding).
 * - **Movable**: a pod a controller recreates (not a DaemonSet's, not a static pod), placed by
 *   gpk-scheduler (only its extender honours the hold that keeps a moved pod from landing
 *   back), not opted out with `gpk.dev/no-migrate: "true"`, and covered by no
 *   PodDisruptionBudget that allows no disruption now. The Eviction API checks the budgets
 *   again when the plan runs.
 * - **Where to**: a node the pod may run on by the extender's bind rules (`placementRefusal`:
 *   taints, selectors, affinity, dedicated pools, other holds), and never a hot node.
 * - **Budget**: at most `budget` moves over all plans. Each plan is booked on the state before
 *   the next is made, so later plans see earlier moves.
 */
import { GPK_SCHEDULER_NAME, KIT_ANNOTATIONS } from "../../gpu";
import { formatDefragHold, placementRefusal, type DefragHold } from "../../runtime/scheduler-extender/bind-guard";
import { PolicyHolder } from "../../runtime/scheduler-extender/placement";
import { podKey } from "../../runtime/scheduler-extender/translate";
import type { K8sNode, K8sPod } from "../../runtime/scheduler-extender/wire";
import { planForPendingPod, planOffNode, type PlacedPod } from "../../runtime/scheduling/defrag";
import { assign, unassign } from "../../runtime/scheduling/feasibility";
import type { NodeState, PodRequest } from "../../runtime/scheduling/types";
import type { GpuTelemetry } from "../../runtime/telemetry/parse";
import { clusterCacheOf, diagnose } from "../diagnose/diagnosis";

/** The parts of a policy/v1 PodDisruptionBudget the plan reads. */
export interface K8sPodDisruptionBudget {
  metadata: { name: string; namespace?: string };
  spec?: { selector?: LabelSelector | null };
  status?: { disruptionsAllowed?: number };
}

interface LabelSelector {
  matchLabels?: Record<string, string> | null;
  matchExpressions?: { key: string; operator: string; values?: string[] | null }[] | null;
}

export interface OwnerReference {
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
}

export type DefragTrigger =
  | { kind: "fragmented"; namespace: string; name: string; gpus: number }
  | { kind: "hot-node"; node: string; gpus: string[] };

export interface PlannedMove {
  namespace: string;
  name: string;
  from: string;
  /** Where gpk-scheduler's policy would put it now; the scheduler decides when it runs. */
  to: string;
  gpus: number[];
}

export interface PlannedStep {
  trigger: DefragTrigger;
  /** The node held while the moves run: reserved for the pending pod, or drained. */
  node: string;
  hold: string;
  moves: PlannedMove[];
  /** Hot node: the pods left on it, and why. */
  staying: { namespace: string; name: string; reason: string }[];
}

export interface DefragPlan {
  budget: number;
  plans: PlannedStep[];
  /** Triggers no plan answers, and why. */
  unplanned: { trigger: DefragTrigger; reason: string }[];
}

export interface DefragPlanInput {
  nodes: K8sNode[];
  pods: K8sPod[];
  pdbs: K8sPodDisruptionBudget[];
  telemetry?: GpuTelemetry[];
  hotTemperatureC: number;
  budget: number;
  /** Only this pool (label gpk.dev/pool): its hot nodes, pending pods that may use its nodes, and moves within it. */
  pool?: string;
}

/** Kubernetes label selector semantics (k8s.io/apimachinery pkg/labels): matchLabels and every expression must hold; an empty selector matches everything. */
export function selectorMatches(selector: LabelSelector, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  return (selector.matchExpressions ?? []).every((e) => {
    const has = Object.hasOwn(labels, e.key);
    const values = e.values ?? [];
    switch (e.operator) {
      case "In": return has && values.includes(labels[e.key]!);
      case "NotIn": return !has || !values.includes(labels[e.key]!);
      case "Exists": return has;
      case "DoesNotExist": return !has;
      default: return false;
    }
  });
}

export function controllerOf(pod: K8sPod): OwnerReference | undefined {
  const refs = (pod.metadata as { ownerReferences?: OwnerReference[] }).ownerReferences ?? [];
  return refs.find((r) => r.controller === true);
}

/** Why the pod may not be moved, or undefined when it may. */
export function unmovableReason(pod: K8sPod, pdbs: readonly K8sPodDisruptionBudget[]): string | undefined {
  const annotations = pod.metadata.annotations ?? {};
  if (annotations[KIT_ANNOTATIONS.noMigrate] === "true") return `opted out (${KIT_ANNOTATIONS.noMigrate}: "true")`;
  if (annotations["kubernetes.io/config.mirror"] !== undefined) return "a static (mirror) pod";
  const owner = controllerOf(pod);
  if (!owner) return "no controller would recreate it";
  if (owner.kind === "DaemonSet") return "a DaemonSet's pod comes back on the same node";
  if (pod.spec.schedulerName !== GPK_SCHEDULER_NAME) return `scheduled by ${pod.spec.schedulerName ?? "default-scheduler"}, which does not honour gpk defrag's hold`;
  const namespace = pod.metadata.namespace ?? "default";
  const labels = pod.metadata.labels ?? {};
  for (const pdb of pdbs) {
    if ((pdb.metadata.namespace ?? "default") !== namespace || !pdb.spec?.selector) continue;
    if (!selectorMatches(pdb.spec.selector, labels)) continue;
    if ((pdb.status?.disruptionsAllowed ?? 0) < 1) return `PodDisruptionBudget ${pdb.metadata.name} allows no disruption now`;
  }
  return undefined;
}

const created = (pod: K8sPod) => String((pod.metadata as { creationTimestamp?: string }).creationTimestamp ?? "");

export function planDefrag(input: DefragPlanInput): DefragPlan {
  const cache = clusterCacheOf(input.nodes, input.pods);
  const found = diagnose({ nodes: input.nodes, pods: input.pods, telemetry: input.telemetry, hotTemperatureC: input.hotTemperatureC }, cache);
  const policy = new PolicyHolder(cache, { policy: "gpk" }).current();
  const states = cache.nodesWithPool().filter((n) => input.pool === undefined || n.pool === input.pool).map((n) => n.node).sort((a, b) => a.name.localeCompare(b.name));
  const inScope = new Set(states.map((s) => s.name));
  const nodeObjects = new Map(input.nodes.map((n) => [n.metadata.name, n]));
  const podByKey = new Map(input.pods.map((p) => [podKey(p), p]));
  const hot = new Set(found.hotGpus.map((g) => g.node).filter((n) => inScope.has(n)));

  const placed: PlacedPod[] = [];
  const reasons = new Map<string, string>();
  for (const pod of input.pods) {
    const cached = pod.metadata.uid ? cache.podOn(pod.metadata.uid) : undefined;
    if (!cached || !inScope.has(cached.nodeName)) continue;
    const reason = unmovableReason(pod, input.pdbs);
    if (reason) reasons.set(cached.request.name, reason);
    placed.push({ pod: cached.request, node: cached.nodeName, gpus: cached.gpus, movable: reason === undefined });
  }
  const mayRun = (request: PodRequest, node: NodeState) => {
    const pod = podByKey.get(request.name);
    const object = nodeObjects.get(node.name);
    return Boolean(pod && object && !hot.has(node.name) && !placementRefusal(pod, object));
  };
  const byName = new Map(states.map((s) => [s.name, s]));
  /** Books the moves on the state and in `placed`, so the next plan sees them. */
  const book = (moves: { pod: string; to: string; gpus: number[] }[]) => {
    for (const m of moves) {
      const p = placed.find((x) => x.pod.name === m.pod)!;
      unassign(byName.get(p.node)!, p.pod, p.gpus);
      assign(byName.get(m.to)!, p.pod, m.gpus);
      p.node = m.to;
      p.gpus = m.gpus;
      p.movable = false; // moved once per run
    }
  };
  const split = (key: string) => ({ namespace: key.slice(0, key.indexOf("/")), name: key.slice(key.indexOf("/") + 1) });

  const plan: DefragPlan = { budget: input.budget, plans: [], unplanned: [] };
  let left = input.budget;
  const fragmented = found.pending
    .filter((p) => p.reason === "fragmented" && Number.isInteger(p.gpus) && p.gpus >= 1)
    .map((p) => podByKey.get(`${p.namespace}/${p.name}`)!)
    .filter((p) => input.pool === undefined || states.some((s) => !placementRefusal(p, nodeObjects.get(s.name)!)))
    .sort((a, b) => created(a).localeCompare(created(b)) || podKey(a).localeCompare(podKey(b)));
  for (const pod of fragmented) {
    const request = cache.pendingRequest(pod.metadata.uid ?? "");
    const trigger: DefragTrigger = { kind: "fragmented", namespace: pod.metadata.namespace ?? "default", name: pod.metadata.name, gpus: request?.numGpu ?? 0 };
    if (!request) continue;
    if (left === 0) {
      plan.unplanned.push({ trigger, reason: `the budget of ${input.budget} move(s) is spent` });
      continue;
    }
    const answer = planForPendingPod(states, placed, request, policy, { budget: left, mayRun });
    if (!answer || answer.moves.length === 0) {
      plan.unplanned.push({ trigger, reason: answer ? `node ${answer.target} fits it already` : `no plan of at most ${left} move(s) frees ${request.numGpu} GPU(s) on one node it may use: the pods in the way are unmovable or have nowhere to go` });
      continue;
    }
    const hold: DefragHold = { kind: "reserved-for", pod: podKey(pod) };
    plan.plans.push({
      trigger, node: answer.target, hold: formatDefragHold(hold), staying: [],
      moves: answer.moves.map((m) => ({ ...split(m.pod), from: placed.find((p) => p.pod.name === m.pod)!.node, to: m.to, gpus: m.gpus })),
    });
    book(answer.moves);
    const target = byName.get(answer.target)!;
    assign(target, request, policy.chooseGpus(target, request));
    left -= answer.moves.length;
  }
  for (const node of [...hot].sort()) {
    const trigger: DefragTrigger = { kind: "hot-node", node, gpus: found.hotGpus.filter((g) => g.node === node).map((g) => g.gpu) };
    const off = planOffNode(states, placed, node, policy, { budget: left, mayRun, avoid: hot });
    const staying = off.staying.map((key) => {
      const reason = reasons.get(key)
        ?? (off.moves.length >= left ? `over the budget of ${input.budget} move(s)` : "no other node it may run on has room");
      return { ...split(key), reason };
    });
    if (off.moves.length === 0) {
      plan.unplanned.push({ trigger, reason: staying.length === 0 ? "no pod runs on it" : `none of its ${staying.length} pod(s) can move: ${staying[0]!.namespace}/${staying[0]!.name}: ${staying[0]!.reason}` });
      continue;
    }
    plan.plans.push({
      trigger, node, hold: formatDefragHold({ kind: "draining" }), staying,
      moves: off.moves.map((m) => ({ ...split(m.pod), from: node, to: m.to, gpus: m.gpus })),
    });
    book(off.moves);
    left -= off.moves.length;
  }
  return plan;
}
