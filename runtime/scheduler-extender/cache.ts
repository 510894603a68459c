/**
 * The extender's view of the cluster: one NodeState per node (capacity minus the pods bound to
 * it), indexed by name, kept current by whichever source feeds it (snapshot file, Kubernetes
 * watch, the nodes a Nodes-mode request carries, telemetry scrapes) and by the extender's own
 * binds ("assumed" pods, as kube-scheduler assumes them, until the watch confirms).
 *
 * Invariants:
 * - A node's NodeState object is never replaced, only reset in place and re-filled, and every
 *   change bumps its `version`: the policies cache per node object keyed by version, so a new
 *   object per change would grow their caches without bound.
 * - A pod's usage is on at most one node; `pods` and `podsByNode` always agree.
 * - Nothing here throws on inconsistent input (over-committed nodes, stale annotations): the
 *   node is then recorded as full where it is full, and the problem is logged.
 */
import {
  assign, bestFitGpus, MILLI, type GpuAssignment, type GpuTelemetry, type NodeState, type PodRequest,
} from "../scheduling";
import { KIT_LABELS } from "../../gpu";
import { defragHoldOf, type DefragHold } from "./bind-guard";
import { decodeAssignment, nodeToState, podHoldsResources, podKey, podToRequest } from "./translate";
import type { K8sNode, K8sPod } from "./wire";

export interface CachedPod {
  uid: string;
  key: string;
  nodeName: string;
  request: PodRequest;
  gpus: GpuAssignment;
  /** Bound by this extender and not yet confirmed by the source. */
  assumed: boolean;
  /** Booked by a filter that answered this node alone, not bound yet: released at this time (ms) unless bound. */
  reservedUntil?: number;
}

/** Per-GPU telemetry and identity a scrape produced for one node, by device index. */
export interface NodeTelemetry {
  gpus: Map<number, GpuTelemetry & { uuid?: string }>;
}

/**
 * What the extender's verbs keep per node, reached with the one name lookup a request needs:
 * the state, the name's JSON forms, and the filter/prioritize verdicts per pod shape (verdicts.ts).
 */
export interface NodeSlot {
  state: NodeState;
  /** The name as a JSON string. */
  nameJson: string;
  /** `{"Host":<name>,"Score":` of a HostPriorityList entry. */
  hostJson: string;
  /** Indexed by the verdict cache's shape slot. */
  verdicts: unknown[];
  /** gpk defrag's hold on the node, read once per node change rather than per filter. */
  hold: DefragHold | undefined;
}

interface NodeEntry extends NodeSlot {
  signature: string;
  source: K8sNode;
  state: NodeState;
  uuids: (string | undefined)[];
  telemetry?: NodeTelemetry;
}

export type Logger = (message: string) => void;

function nodeSignature(node: K8sNode): string {
  const rv = node.metadata.resourceVersion;
  if (rv) return `rv:${rv}`;
  return JSON.stringify([node.status?.allocatable ?? node.status?.capacity ?? null, node.metadata.labels ?? null, node.metadata.annotations ?? null]);
}

export class ClusterCache {
  private readonly nodes = new Map<string, NodeEntry>();
  private readonly pods = new Map<string, CachedPod>();
  private readonly podsByNode = new Map<string, Set<string>>();
  /** Pods not bound yet, by UID (from the source): part of the observed workload. */
  private readonly pending = new Map<string, PodRequest>();
  /** UIDs of the pods booked by a filter and not bound yet (`reserve`). */
  private readonly reserved = new Set<string>();
  /** Bumped whenever the set of pods changes (the target workload is derived from it). */
  podsVersion = 0;

  constructor(private readonly log: Logger = () => {}) {}

  get nodeCount(): number {
    return this.nodes.size;
  }

  node(name: string): NodeState | undefined {
    return this.nodes.get(name)?.state;
  }

  /** The node's state with the extender's per-node memo (see NodeSlot). */
  slot(name: string): NodeSlot | undefined {
    return this.nodes.get(name);
  }

  /** The node object the state was built from (labels, taints). */
  nodeObject(name: string): K8sNode | undefined {
    return this.nodes.get(name)?.source;
  }

  nodeNames(): string[] {
    return [...this.nodes.keys()];
  }

  /** Every node's state with its pool (label `gpk.dev/pool`; "none" without one), by name. */
  nodesWithPool(): { name: string; pool: string; node: NodeState }[] {
    return [...this.nodes.entries()].map(([name, e]) => ({ name, pool: e.source.metadata.labels?.[KIT_LABELS.pool] ?? "none", node: e.state }));
  }

  /** GPU UUIDs of a node by index, as far as telemetry has told them. */
  gpuUuids(name: string, gpus: GpuAssignment): string[] | undefined {
    const entry = this.nodes.get(name);
    if (!entry) return undefined;
    const uuids = gpus.map((i) => entry.telemetry?.gpus.get(i)?.uuid ?? entry.uuids[i]);
    return uuids.every((u): u is string => u !== undefined) ? uuids : undefined;
  }

  /** Adds or refreshes a node; unchanged nodes (same resourceVersion or content) cost nothing. */
  upsertNode(node: K8sNode): NodeState {
    const name = node.metadata.name;
    const signature = nodeSignature(node);
    const existing = this.nodes.get(name);
    if (existing && existing.signature === signature) return existing.state;
    const fresh = nodeToState(node);
    if (!existing) {
      const nameJson = JSON.stringify(name);
      const entry: NodeEntry = { signature, source: node, state: fresh, uuids: [], nameJson, hostJson: `{"Host":${nameJson},"Score":`, verdicts: [], hold: defragHoldOf(node) };
      this.nodes.set(name, entry);
      this.refill(entry);
      return fresh;
    }
    existing.signature = signature;
    existing.source = node;
    existing.hold = defragHoldOf(node);
    this.refill(existing);
    return existing.state;
  }

  deleteNode(name: string): void {
    this.nodes.delete(name);
  }

  /** Records a pod from the source: bound pods hold resources, pending ones count in the observed workload. */
  upsertPod(pod: K8sPod): void {
    const uid = pod.metadata?.uid;
    if (!uid) return;
    let request: PodRequest;
    try {
      request = podToRequest(pod);
    } catch (err) {
      this.log(`pod ${podKey(pod)}: ${(err as Error).message}; ignored`);
      this.deletePod(uid);
      return;
    }
    if (!podHoldsResources(pod)) {
      const wasBound = this.pods.has(uid) && !this.pods.get(uid)!.assumed;
      if (wasBound || !this.pods.has(uid)) this.deletePod(uid);
      const waiting = !pod.spec?.nodeName && pod.status?.phase !== "Succeeded" && pod.status?.phase !== "Failed";
      if (waiting && !this.pods.has(uid)) this.pending.set(uid, request);
      return;
    }
    const nodeName = pod.spec!.nodeName!;
    this.pending.delete(uid);
    const recorded = decodeAssignment(pod, nodeName);
    const old = this.pods.get(uid);
    // A confirmed pod that matches what we assumed changes nothing.
    if (old && old.nodeName === nodeName && (!recorded || sameGpus(old.gpus, recorded.gpus))) {
      old.assumed = false;
      delete old.reservedUntil;
      this.reserved.delete(uid);
      return;
    }
    this.removeUsage(uid);
    this.addUsage({ uid, key: podKey(pod), nodeName, request, gpus: recorded?.gpus ?? [], assumed: false });
  }

  deletePod(uid: string): void {
    this.pending.delete(uid);
    if (this.removeUsage(uid)) this.podsVersion++;
  }

  /** Books a pod this extender is binding, before the API confirms it. */
  assume(pod: Omit<CachedPod, "assumed">): void {
    this.pending.delete(pod.uid);
    this.removeUsage(pod.uid);
    this.addUsage({ ...pod, assumed: true });
  }

  /** Undoes `assume` (the Binding failed). */
  forget(uid: string): void {
    const pod = this.pods.get(uid);
    if (pod?.assumed) this.deletePod(uid);
  }

  /**
   * Books a pod on the one node its filter answered, before kube-scheduler binds it there: its
   * binding cycle runs beside the next pod's scheduling cycle, so the next filter may arrive
   * before this bind does, and must already see these GPUs taken. Until `until` (ms) unless bound.
   */
  reserve(pod: Omit<CachedPod, "assumed" | "reservedUntil">, until: number): void {
    this.assume(pod);
    this.pods.get(pod.uid)!.reservedUntil = until;
    this.reserved.add(pod.uid);
  }

  /** A reservation turned into a bind: the pod stays assumed until the source confirms it. */
  claim(uid: string): void {
    const pod = this.pods.get(uid);
    if (pod) delete pod.reservedUntil;
    this.reserved.delete(uid);
  }

  /** Drops a pod's reservation (filtered again, or its time ran out): it counts as waiting again. */
  release(uid: string): void {
    const pod = this.pods.get(uid);
    if (pod?.reservedUntil === undefined) return;
    this.removeUsage(uid);
    this.pending.set(uid, pod.request);
  }

  /** Releases the reservations whose time has passed. */
  releaseExpired(now: number): void {
    for (const uid of this.reserved) {
      const until = this.pods.get(uid)?.reservedUntil;
      if (until === undefined) this.reserved.delete(uid);
      else if (until <= now) this.release(uid);
    }
  }

  /** Every pod request the cache knows (bound and pending): the observed workload. */
  podRequests(): PodRequest[] {
    return [...[...this.pods.values()].map((p) => p.request), ...this.pending.values()];
  }

  /** UIDs of every pod the cache holds (bound, assumed or pending). */
  podUids(): string[] {
    return [...new Set([...this.pods.keys(), ...this.pending.keys()])];
  }

  /** A pod the source reported unbound, by UID: its request. */
  pendingRequest(uid: string): PodRequest | undefined {
    return this.pending.get(uid);
  }

  podOn(uid: string): CachedPod | undefined {
    return this.pods.get(uid);
  }

  /**
   * Sets a node's GPU telemetry. Bumps the node's version only when a health-relevant value
   * changed, so a steady scrape keeps the policies' caches warm.
   */
  setTelemetry(name: string, telemetry: NodeTelemetry): boolean {
    const entry = this.nodes.get(name);
    if (!entry) return false;
    entry.telemetry = telemetry;
    let changed = false;
    entry.state.gpus.forEach((g, i) => {
      const t = telemetry.gpus.get(i);
      const next: GpuTelemetry | undefined = t ? { temperatureC: t.temperatureC, powerCapped: t.powerCapped } : undefined;
      if (next?.temperatureC !== g.telemetry?.temperatureC || next?.powerCapped !== g.telemetry?.powerCapped) {
        if (next) g.telemetry = next;
        else delete g.telemetry;
        changed = true;
      }
      if (t?.uuid) entry.uuids[i] = t.uuid;
    });
    if (changed) entry.state.version++;
    return changed;
  }

  private addUsage(pod: CachedPod): void {
    this.pods.set(pod.uid, pod);
    let set = this.podsByNode.get(pod.nodeName);
    if (!set) this.podsByNode.set(pod.nodeName, (set = new Set()));
    set.add(pod.uid);
    this.podsVersion++;
    const entry = this.nodes.get(pod.nodeName);
    if (entry) this.apply(entry.state, pod);
  }

  /** Removes a pod's usage (refilling its node from scratch); true when it was there. */
  private removeUsage(uid: string): boolean {
    const pod = this.pods.get(uid);
    if (!pod) return false;
    this.pods.delete(uid);
    this.reserved.delete(uid);
    this.podsByNode.get(pod.nodeName)?.delete(uid);
    const entry = this.nodes.get(pod.nodeName);
    if (entry) this.refill(entry);
    return true;
  }

  /** Resets a node to its capacity (in place) and re-applies its pods, assumed ones last. */
  private refill(entry: NodeEntry): void {
    const fresh = nodeToState(entry.source);
    const state = entry.state;
    state.cpuMilli = fresh.cpuMilli;
    state.memoryMiB = fresh.memoryMiB;
    state.cpuUsedMilli = 0;
    state.memoryUsedMiB = 0;
    state.gpuPodClasses = {};
    const telemetry = state.gpus.map((g) => g.telemetry);
    state.gpus = fresh.gpus;
    state.gpus.forEach((g, i) => {
      if (telemetry[i]) g.telemetry = telemetry[i];
    });
    state.version++;
    const uids = [...(this.podsByNode.get(state.name) ?? [])];
    const pods = uids.map((u) => this.pods.get(u)!).sort((a, b) => Number(a.assumed) - Number(b.assumed));
    for (const pod of pods) this.apply(state, pod);
  }

  /** Puts a pod's usage on a node: its recorded GPUs if they still fit, else the best-fit ones. */
  private apply(node: NodeState, pod: CachedPod): void {
    const req = pod.request;
    const valid = pod.gpus.length === req.numGpu && pod.gpus.every((i) => i < node.gpus.length && MILLI - node.gpus[i]!.usedMilli >= req.gpuMilli);
    const gpus = valid ? pod.gpus : bestFitGpus(node, req);
    try {
      assign(node, req, gpus);
      pod.gpus = gpus;
    } catch (err) {
      // Over-committed or inconsistent (e.g. capacity shrank): count the usage anyway so the
      // node reads as full, never as free.
      this.log(`pod ${pod.key} on node ${node.name}: ${(err as Error).message}; counted as over-committed`);
      node.cpuUsedMilli += req.cpuMilli;
      node.memoryUsedMiB += req.memoryMiB;
      let left = req.numGpu;
      for (const g of node.gpus) {
        if (left === 0) break;
        if (g.usedMilli < MILLI) {
          g.usedMilli = Math.min(MILLI, g.usedMilli + req.gpuMilli);
          left--;
        }
      }
      node.version++;
    }
  }
}

function sameGpus(a: GpuAssignment, b: GpuAssignment): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
