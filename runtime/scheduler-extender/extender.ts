/**
 * The extender's three verbs on the placement code of runtime/scheduling, independent of HTTP:
 *
 * - filter: the feasibility filter (`fits`, `unfitReason`) on the candidate nodes; failures a preemption cannot cure (no GPU of
 *   an acceptable model, or more than the node has in total) go to FailedAndUnresolvableNodes.
 *   A node `gpk defrag` holds for another pod fails too (bind-guard.ts, `defragHoldRefusal`).
 *   In `pick` mode (the default) a filter that finds the pod a node answers with the one node the
 *   policy ranks best and no failure reasons: kube-scheduler, left exactly one feasible node,
 *   binds it without running its score plugins or the prioritize verb (schedule_one.go,
 *   `schedulePod`, k8s v1.35.4), which halves the round trips per pod. The node is the one
 *   prioritize would have scored 10, so placement is the same. With no node found the answer
 *   carries every reason, as in `all` mode, for the scheduler's event and preemption.
 * - prioritize: `extenderScores` (scoreNodes' mapping) — the node the simulator would pick is
 *   the only one scored 10; nodes the pod does not fit score 0.
 * - bind: only a pod this extender filtered lately, onto a node that filter passed and whose
 *   taints, selector, affinity and pool the pod still satisfies (bind-guard.ts: anything else
 *   is a 403). The policy's GPU choice on the node is booked in the cache at once (so the
 *   next pod sees it even before the API answers), then the Binding is created with the
 *   choice in the `gpk.dev/gpu-assignment` annotation (the API server copies a Binding's
 *   annotations onto the pod atomically with the node name); a failed Binding is undone.
 */
import { KIT_ANNOTATIONS } from "../../gpu";
import { bestIndexWith, extenderScoresWith, fits, unfitReason, type PodRequest } from "../scheduling";
import { FilterLedger, defragHoldRefusal } from "./bind-guard";
import type { FilterAnswer } from "./options";
import type { ClusterCache, NodeSlot } from "./cache";
import type { PolicyHolder } from "./placement";
import { encodeAssignment, podKey, podToRequest } from "./translate";
import { VerdictCache, type Shape } from "./verdicts";
import {
  BadRequest, type ExtenderArgs, type ExtenderBindingArgs, type ExtenderBindingResult, type FilterOutcome,
  type PriorityOutcome,
} from "./wire";

/** Creates the Binding (with annotations) in the cluster; absent in snapshot / local mode. */
export interface Binder {
  bind(target: { namespace: string; name: string; uid: string; node: string; annotations: Record<string, string> }): Promise<void>;
}

export interface BindEvent {
  pod: string;
  node: string;
  gpus: number[];
  uuids?: string[];
}

/**
 * How long a pick stays booked for its bind (pick mode). kube-scheduler binds right after the
 * filter, within its extender httpTimeout (the kit renders 5 s); an answer not bound by then
 * was dropped (the pod was deleted, a later plugin refused it) and its GPUs go back.
 */
export const PICK_RESERVATION_MS = 30_000;

export class Extender {
  private readonly verdicts = new VerdictCache();
  private readonly filtered = new FilterLedger();

  constructor(
    readonly cache: ClusterCache,
    readonly policy: PolicyHolder,
    private readonly binder?: Binder,
    private readonly onBind: (event: BindEvent) => void = () => {},
    readonly filterAnswer: FilterAnswer = "pick",
    private readonly clock: () => number = Date.now,
  ) {}

  filter(args: ExtenderArgs): FilterOutcome {
    const pod = podToRequest(args.Pod);
    if (this.filterAnswer === "pick") {
      this.cache.releaseExpired(this.clock());
      // Filtered again: the last answer was not bound, so its booking must not count against the pod itself.
      if (args.Pod.metadata.uid) this.cache.release(args.Pod.metadata.uid);
    }
    const slots = this.candidates(args);
    const shape = this.verdicts.forPod(pod);
    const passing: string[] = [];
    const passingJson: string[] = [];
    const passingSlots: NodeSlot[] = [];
    const failed: string[] = [];
    const unresolvable: string[] = [];
    const key = podKey(args.Pod);
    for (const slot of slots) {
      // A node gpk defrag holds for another pod (or drains) fails for this one, whatever fits.
      const held = slot.hold && defragHoldRefusal(key, slot.state.name, slot.hold);
      if (held) {
        failed.push(`${slot.nameJson}:${JSON.stringify(held.message)}`);
        continue;
      }
      const v = VerdictCache.verdict(slot, shape, pod);
      if (v.passes) {
        passing.push(slot.state.name);
        passingJson.push(slot.nameJson);
        passingSlots.push(slot);
      } else {
        (v.unresolvable ? unresolvable : failed).push(v.failedJson);
      }
    }
    const uid = args.Pod.metadata.uid;
    if (this.filterAnswer === "pick" && passing.length > 0) return this.answerPick(args, pod, passingSlots, shape, uid);
    if (uid && passing.length > 0) this.filtered.record(uid, args.Pod, pod, passing);
    const outcome: FilterOutcome = { passing, passingJson, failedJson: failed, unresolvableJson: unresolvable };
    if (args.Nodes?.items) {
      const keep = new Set(passing);
      outcome.nodeList = { ...args.Nodes, items: args.Nodes.items.filter((n) => keep.has(n.metadata.name)) };
    }
    return outcome;
  }

  /** `pick` mode with a node passing: the policy's best of those passing alone (their verdicts are cached, so this adds only the scores). */
  private answerPick(args: ExtenderArgs, pod: PodRequest, passing: NodeSlot[], shape: Shape, uid: string | undefined): FilterOutcome {
    const policy = this.policy.current();
    const nodes = passing.map((s) => s.state);
    const best = passing[bestIndexWith(nodes, (_node, i) => VerdictCache.raw(VerdictCache.verdict(passing[i]!, shape, pod), pod, policy))]!;
    const name = best.state.name;
    if (uid) {
      this.filtered.record(uid, args.Pod, pod, [name]);
      this.cache.reserve({ uid, key: podKey(args.Pod), nodeName: name, request: pod, gpus: policy.chooseGpus(best.state, pod) }, this.clock() + PICK_RESERVATION_MS);
    }
    const outcome: FilterOutcome = { passing: [name], passingJson: [best.nameJson], failedJson: [], unresolvableJson: [] };
    if (args.Nodes?.items) outcome.nodeList = { ...args.Nodes, items: args.Nodes.items.filter((n) => n.metadata.name === name) };
    return outcome;
  }

  prioritize(args: ExtenderArgs): PriorityOutcome {
    const pod = podToRequest(args.Pod);
    const slots = this.candidates(args);
    const policy = this.policy.current();
    const shape = this.verdicts.forPod(pod);
    const nodes = slots.map((s) => s.state);
    const scores = extenderScoresWith(nodes, (_node, i) => {
      const v = VerdictCache.verdict(slots[i]!, shape, pod);
      return v.passes ? VerdictCache.raw(v, pod, policy) : undefined;
    });
    return { hostJson: slots.map((s) => s.hostJson), scores };
  }

  async bind(args: ExtenderBindingArgs): Promise<ExtenderBindingResult> {
    const node = this.cache.node(args.Node);
    if (!node) throw new BadRequest(`Node: unknown node ${JSON.stringify(args.Node)} (the extender knows ${this.cache.nodeCount} nodes)`);
    const key = `${args.PodNamespace}/${args.PodName}`;
    const already = this.cache.podOn(args.PodUID);
    const reserved = already?.reservedUntil !== undefined;
    if (already && !reserved && already.nodeName === args.Node) return { Error: "" };
    const pod = this.filtered.admit(args, this.cache.nodeObject(node.name)!);
    let gpus: number[];
    if (reserved && already!.nodeName === node.name) {
      // The filter booked these GPUs when it answered this node alone.
      gpus = already!.gpus;
      this.cache.claim(args.PodUID);
    } else {
      if (reserved) this.cache.release(args.PodUID);
      // Re-check against the current state: other binds may have landed since prioritize.
      if (!fits(node, pod)) return { Error: `node ${node.name} can no longer take pod ${key}: ${unfitReason(node, pod) ?? "does not fit"}` };
      gpus = this.policy.current().chooseGpus(node, pod);
      this.cache.assume({ uid: args.PodUID, key, nodeName: node.name, request: pod, gpus });
    }
    const uuids = this.cache.gpuUuids(node.name, gpus);
    const annotations = {
      [KIT_ANNOTATIONS.gpuAssignment]: encodeAssignment({ node: node.name, gpus, ...(uuids ? { uuids } : {}), milliPerGpu: pod.gpuMilli }),
    };
    if (this.binder) {
      try {
        await this.binder.bind({ namespace: args.PodNamespace, name: args.PodName, uid: args.PodUID, node: node.name, annotations });
      } catch (err) {
        this.cache.forget(args.PodUID);
        return { Error: `binding ${key} to ${node.name} failed: ${(err as Error).message}` };
      }
    }
    this.filtered.forget(args.PodUID);
    this.onBind({ pod: key, node: node.name, gpus, uuids });
    return { Error: "" };
  }

  /** The request's candidate nodes, ranked by their position (the tie-break). */
  private candidates(args: ExtenderArgs): NodeSlot[] {
    const slots: NodeSlot[] = [];
    if (args.Nodes?.items) {
      args.Nodes.items.forEach((item, i) => {
        this.cache.upsertNode(item).rank = i;
        slots.push(this.cache.slot(item.metadata.name)!);
      });
      return slots;
    }
    if (!args.NodeNames) throw new BadRequest("NodeNames: expected the candidate node names (nodeCacheCapable) or Nodes with their objects");
    let unknown: string[] | undefined;
    const names = args.NodeNames;
    for (let i = 0; i < names.length; i++) {
      const slot = this.cache.slot(names[i]!);
      if (!slot) {
        (unknown ??= []).push(names[i]!);
        continue;
      }
      slot.state.rank = i;
      slots.push(slot);
    }
    if (unknown) {
      const shown = unknown.slice(0, 5).map((n) => JSON.stringify(n)).join(", ");
      throw new BadRequest(`NodeNames: ${unknown.length} unknown node(s) ${shown}${unknown.length > 5 ? ", ..." : ""} (the extender's cache has ${this.cache.nodeCount} nodes)`);
    }
    return slots;
  }
}
