/**
 * A hint source for GetPreferredAllocation from the gpk scheduler extender's GPU choice.
 *
 * kubelet's request names no pod, so the request is matched to a pod the way GPU-sharing device
 * plugins do it (Alibaba's gpushare device plugin takes the oldest "assumed" pod on the node
 * with the same request): among pods bound to this node that carry the extender's assignment
 * annotation (KIT_ANNOTATIONS.gpuAssignment), are still Pending and request `nvidia.com/gpu`,
 * the oldest whose assignment has exactly `allocation_size` GPUs, all of them available, wins.
 * Each pod's assignment serves one allocation. No match, or no API server → no hint, and the
 * NUMA rule of preferred-allocation.ts decides alone; the RPC never fails for this.
 */
import { GPU_RESOURCE } from "../../gpu";
import { KubeClient, Reflector, type KubeConnection } from "../scheduler-extender/kube";
import { decodeAssignment } from "../scheduler-extender/assignment";
import type { K8sPod } from "../scheduler-extender/wire";
import type { Candidate } from "./preferred-allocation";
import type { AllocationHints } from "./server";

/** A pending pod's assignment on this node, as the matcher needs it. */
export interface PendingAssignment {
  /** Pod UID (namespace/name when the UID is missing): the unit of "consumed". */
  readonly key: string;
  /** namespace/name, for logs and as the last tie-break. */
  readonly name: string;
  /** Physical GPU indices on the node, in the extender's order. */
  readonly gpus: readonly number[];
  /** Their UUIDs in the same order, when the extender knew them. */
  readonly uuids?: readonly string[];
  /**
   * Age order: the extender's record carries no bind time, so the pod's creationTimestamp
   * (ms since epoch; NaN when absent sorts last).
   */
  readonly createdMs: number;
}

/** The pod's pending assignment for `nodeName`, or undefined when it should not take part. */
export function pendingAssignmentOf(pod: K8sPod, nodeName: string): PendingAssignment | undefined {
  if (pod.spec?.nodeName !== nodeName || pod.status?.phase !== "Pending") return undefined;
  if (!requestsGpus(pod)) return undefined;
  const record = decodeAssignment(pod, nodeName);
  if (!record || record.gpus.length === 0) return undefined;
  const uuids = Array.isArray(record.uuids) && record.uuids.length === record.gpus.length && record.uuids.every((u) => typeof u === "string")
    ? record.uuids
    : undefined;
  const name = `${pod.metadata?.namespace ?? ""}/${pod.metadata?.name ?? ""}`;
  return {
    key: pod.metadata?.uid || name,
    name,
    gpus: record.gpus,
    uuids,
    createdMs: Date.parse(String(pod.metadata?.creationTimestamp ?? "")),
  };
}

function requestsGpus(pod: K8sPod): boolean {
  const containers = (pod.spec?.containers ?? []) as { resources?: { requests?: Record<string, unknown> | null; limits?: Record<string, unknown> | null } | null }[];
  return containers.some((c) => Number(c.resources?.requests?.[GPU_RESOURCE] ?? c.resources?.limits?.[GPU_RESOURCE] ?? 0) > 0);
}

export interface AssignmentMatch {
  readonly pod: PendingAssignment;
  /** The UUIDs to hint, in the extender's order. */
  readonly uuids: string[];
}

/**
 * The oldest not-yet-consumed assignment with `size` GPUs that are all available. Indices map
 * to UUIDs through the available candidates (a GPU index absent from them is unavailable).
 */
export function matchAssignment(
  pending: Iterable<PendingAssignment>,
  consumed: ReadonlySet<string>,
  size: number,
  available: readonly Candidate[],
): AssignmentMatch | undefined {
  const availableUuids = new Set(available.map((c) => c.uuid));
  const uuidOfIndex = new Map(available.map((c) => [c.gpuIndex, c.uuid]));
  const ordered = [...pending].filter((p) => !consumed.has(p.key) && p.gpus.length === size).sort(byAge);
  for (const pod of ordered) {
    const uuids = pod.uuids ? [...pod.uuids] : pod.gpus.map((i) => uuidOfIndex.get(i));
    if (uuids.every((u): u is string => u !== undefined && availableUuids.has(u))) return { pod, uuids };
  }
  return undefined;
}

/**
 * How long a hint request waits for the first pods list: the kubelet's GetPreferredAllocation
 * call is on the pod's admission path, so the wait is short, and after it the NUMA rule answers.
 */
export const FIRST_LIST_WAIT_MS = 3_000;

function byAge(a: PendingAssignment, b: PendingAssignment): number {
  const ta = Number.isNaN(a.createdMs) ? Infinity : a.createdMs;
  const tb = Number.isNaN(b.createdMs) ? Infinity : b.createdMs;
  if (ta !== tb) return ta < tb ? -1 : 1;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/**
 * Keeps the node's pending assignments from a pods list+watch (fieldSelector on this node) and
 * answers hints from them. Consumed keys are forgotten once the pod leaves Pending or goes away.
 */
export class AssignmentHintSource {
  private readonly pending = new Map<string, PendingAssignment>();
  private readonly consumed = new Set<string>();
  private readonly client: KubeClient;
  private readonly reflector: Reflector<K8sPod>;

  constructor(
    connection: KubeConnection,
    private readonly nodeName: string,
    private readonly log: (message: string) => void = () => {},
    backoffMs?: (attempt: number) => number,
  ) {
    this.client = new KubeClient(connection);
    const path = `/api/v1/pods?fieldSelector=${encodeURIComponent(`spec.nodeName=${nodeName}`)}`;
    this.reflector = new Reflector<K8sPod>(this.client, path, {
      replace: (pods) => {
        this.pending.clear();
        for (const pod of pods) this.upsert(pod);
        for (const key of this.consumed) if (!this.pending.has(key)) this.consumed.delete(key);
      },
      upsert: (pod) => this.upsert(pod),
      remove: (pod) => {
        const key = keyOf(pod);
        this.pending.delete(key);
        this.consumed.delete(key);
      },
    }, (m) => log(`device-plugin: assignments: ${m}`), backoffMs);
  }

  private isSynced = false;

  /** Resolves after the first successful list. */
  get synced(): Promise<void> {
    return this.reflector.synced;
  }

  start(): void {
    this.reflector.start();
    void this.reflector.synced.then(() => (this.isSynced = true), () => undefined);
  }

  stop(): void {
    this.reflector.stop();
    this.client.close();
  }

  readonly hints: AllocationHints = async (request, available) => {
    let match = matchAssignment(this.pending.values(), this.consumed, request.allocation_size, available);
    if (!match && !this.isSynced) {
      // A plugin that just (re)started may be asked before its first list lands, for a pod the
      // extender placed meanwhile: wait for the list a moment rather than answer blind.
      await Promise.race([this.synced, new Promise((r) => setTimeout(r, FIRST_LIST_WAIT_MS).unref())]);
      match = matchAssignment(this.pending.values(), this.consumed, request.allocation_size, available);
    }
    if (!match) return undefined;
    this.consumed.add(match.pod.key);
    this.log(`device-plugin: allocation of ${request.allocation_size} follows the extender's assignment of ${match.pod.name}: GPUs ${match.pod.gpus.join(",")}`);
    return match.uuids;
  };

  private upsert(pod: K8sPod): void {
    const key = keyOf(pod);
    const assignment = pendingAssignmentOf(pod, this.nodeName);
    if (assignment) this.pending.set(key, assignment);
    else {
      this.pending.delete(key);
      this.consumed.delete(key);
    }
  }
}

function keyOf(pod: K8sPod): string {
  return pod.metadata?.uid || `${pod.metadata?.namespace ?? ""}/${pod.metadata?.name ?? ""}`;
}
