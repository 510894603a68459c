/**
 * What stops the extender from being a confused deputy. Its service account may create any
 * pod's Binding, so `/bind` must not place a pod anywhere the scheduler would not have: a bind
 * is accepted only for a pod this extender filtered recently, onto a node that filter passed,
 * and only while the pod still tolerates the node's taints, matches its node selector and
 * required node affinity, and belongs to the tenant of a node's dedicated pool. Everything
 * else is a 403 with the reason (docs/scheduler-extender.md).
 *
 * A node that `gpk defrag` holds (annotation `gpk.dev/defrag-hold`) refuses every pod but the
 * one it is reserved for, at filter and at bind.
 *
 * The taint, selector and affinity rules are kube-scheduler's own filter semantics
 * (k8s.io/kubernetes pkg/scheduler/framework/plugins: TaintToleration, NodeAffinity; the
 * toleration and selector matching of k8s.io/api core/v1 and component-helpers): a pod must
 * tolerate every NoSchedule and NoExecute taint; nodeSelector labels must all be equal;
 * required affinity terms are ORed, the requirements inside a term ANDed, and an empty term
 * matches nothing.
 */
import { KIT_ANNOTATIONS, KIT_LABELS, toleratesTaint } from "../../gpu";
import type { PodRequest } from "../scheduling";
import { podKey } from "./translate";
import { BadRequest, type K8sNode, type K8sPod } from "./wire";

export type RefusalReason = "not-filtered" | "node-not-passed" | "taint" | "node-selector" | "node-affinity" | "dedicated-pool" | "defrag-hold";

/** A bind the extender will not perform: answered 403 and counted by reason. */
export class BindRefused extends BadRequest {
  override readonly name: string = "BindRefused";
  constructor(readonly reason: RefusalReason, message: string) {
    super(message, 403);
  }
}

/** How long a filter answer stays good for a bind. kube-scheduler binds seconds after it filters; a pod waiting longer is filtered again. */
export const FILTER_TTL_MS = 5 * 60_000;
/** Filter answers remembered (the scheduler has few pods between filter and bind at a time). */
const LEDGER_CAPACITY = 1024;

export interface FilterRecord {
  at: number;
  pod: K8sPod;
  request: PodRequest;
  /** Nodes the filter passed, in request order. */
  passing: string[];
}

/** The filter answers of the last FILTER_TTL_MS, by pod UID, oldest evicted first. */
export class FilterLedger {
  private readonly records = new Map<string, FilterRecord>();

  constructor(private readonly clock: () => number = Date.now, private readonly ttlMs = FILTER_TTL_MS, private readonly capacity = LEDGER_CAPACITY) {}

  record(uid: string, pod: K8sPod, request: PodRequest, passing: string[]): void {
    this.records.delete(uid);
    this.records.set(uid, { at: this.clock(), pod, request, passing });
    if (this.records.size > this.capacity) this.records.delete(this.records.keys().next().value!);
  }

  /** The pod's filter answer while it is fresh. */
  get(uid: string): FilterRecord | undefined {
    const r = this.records.get(uid);
    if (r && this.clock() - r.at > this.ttlMs) {
      this.records.delete(uid);
      return undefined;
    }
    return r;
  }

  forget(uid: string): void {
    this.records.delete(uid);
  }

  /**
   * The pod's request when a bind of it onto `node` is one kube-scheduler could have made:
   * filtered here lately (same UID, name and namespace), onto a node that filter passed, and
   * passing placementRefusal. Throws BindRefused otherwise.
   */
  admit(bind: { PodUID: string; PodNamespace: string; PodName: string }, node: K8sNode): PodRequest {
    const key = `${bind.PodNamespace}/${bind.PodName}`;
    const record = this.get(bind.PodUID);
    if (!record || record.pod.metadata.namespace !== bind.PodNamespace || record.pod.metadata.name !== bind.PodName) {
      throw new BindRefused("not-filtered", `pod ${key} (${bind.PodUID}) was not filtered by this extender in the last ${this.ttlMs / 60_000} minutes; only a pod it filtered may be bound`);
    }
    if (!record.passing.includes(node.metadata.name)) {
      throw new BindRefused("node-not-passed", `node ${node.metadata.name} was not among the ${record.passing.length} node(s) the filter passed for pod ${key}`);
    }
    const refusal = placementRefusal(record.pod, node);
    if (refusal) throw refusal;
    return record.request;
  }
}

type Taint = NonNullable<NonNullable<K8sNode["spec"]>["taints"]>[number];
type Toleration = NonNullable<K8sPod["spec"]["tolerations"]>[number];
type SelectorTerm = NonNullable<NonNullable<NonNullable<NonNullable<K8sPod["spec"]["affinity"]>["nodeAffinity"]>["requiredDuringSchedulingIgnoredDuringExecution"]>["nodeSelectorTerms"]>[number];
type Requirement = NonNullable<SelectorTerm["matchExpressions"]>[number];

/** The first NoSchedule / NoExecute taint of the node that none of the pod's tolerations matches. */
export function untoleratedTaint(tolerations: Toleration[], taints: Taint[]): Taint | undefined {
  return taints.find((taint) => (taint.effect === "NoSchedule" || taint.effect === "NoExecute") && !tolerations.some((t) => toleratesTaint(t, taint)));
}

/** The first nodeSelector label the node lacks or holds with another value. */
export function nodeSelectorMismatch(selector: Record<string, string>, labels: Record<string, string>): string | undefined {
  return Object.keys(selector).find((key) => labels[key] !== selector[key]);
}

function requirementHolds(r: Requirement, value: string | undefined): boolean {
  const values = r.values ?? [];
  switch (r.operator) {
    case "In": return value !== undefined && values.includes(value);
    case "NotIn": return value === undefined || !values.includes(value);
    case "Exists": return value !== undefined;
    case "DoesNotExist": return value === undefined;
    case "Gt":
    case "Lt": {
      // Integer comparison of the label's value with the single given value.
      if (value === undefined || values.length !== 1 || !/^-?\d+$/.test(value) || !/^-?\d+$/.test(values[0]!)) return false;
      return r.operator === "Gt" ? BigInt(value) > BigInt(values[0]!) : BigInt(value) < BigInt(values[0]!);
    }
    default: return false;
  }
}

/** Whether the node satisfies required node affinity: some term whose every requirement holds. */
export function requiredAffinityHolds(terms: SelectorTerm[], node: { name: string; labels: Record<string, string> }): boolean {
  return terms.some((term) => {
    const exprs = term.matchExpressions ?? [];
    const fields = term.matchFields ?? [];
    if (exprs.length === 0 && fields.length === 0) return false;
    return exprs.every((r) => requirementHolds(r, node.labels[r.key]))
      // The only field a node selector term may name is metadata.name.
      && fields.every((r) => r.key === "metadata.name" && requirementHolds(r, node.name));
  });
}

/** What a `gpk.dev/defrag-hold` annotation says: the pod a node is reserved for, or that it drains. */
export type DefragHold = { kind: "reserved-for"; pod: string } | { kind: "draining" };

export function formatDefragHold(hold: DefragHold): string {
  return hold.kind === "draining" ? "draining" : `reserved-for=${hold.pod}`;
}

/** The node's hold, or undefined; a value it cannot read holds nothing (gpk defrag writes only the two forms). */
export function defragHoldOf(node: K8sNode): DefragHold | undefined {
  const raw = node.metadata.annotations?.[KIT_ANNOTATIONS.defragHold];
  if (raw === "draining") return { kind: "draining" };
  const m = /^reserved-for=([^/\s]+\/[^/\s]+)$/.exec(raw ?? "");
  return m ? { kind: "reserved-for", pod: m[1]! } : undefined;
}

/**
 * Why a node that `gpk defrag` holds refuses the pod `<namespace>/<name>`, or undefined. A node
 * reserved for a pending pod takes only that pod, so the pods moved off it do not land back; a
 * draining (hot) node takes none. The extender's filter passes the hold its cache read.
 */
export function defragHoldRefusal(pod: string, nodeName: string, hold: DefragHold | undefined): BindRefused | undefined {
  if (!hold || (hold.kind === "reserved-for" && hold.pod === pod)) return undefined;
  const why = hold.kind === "draining" ? "is being drained (hot)" : `is reserved for pod ${hold.pod}`;
  return new BindRefused("defrag-hold", `node ${nodeName} ${why} by gpk defrag (annotation ${KIT_ANNOTATIONS.defragHold})`);
}

/**
 * Why kube-scheduler would not have put `pod` on `node`, by the rules above, or undefined.
 * A node of a pool dedicated to a tenant (label `gpk.dev/tenant=<tenant>`) takes only pods of
 * that tenant's namespace, which bears the tenant's name (components/tenant.ts).
 */
export function placementRefusal(pod: K8sPod, node: K8sNode): BindRefused | undefined {
  const spec = pod.spec;
  const nodeName = node.metadata.name;
  const labels = node.metadata.labels ?? {};
  const taint = untoleratedTaint(spec.tolerations ?? [], node.spec?.taints ?? []);
  if (taint) return new BindRefused("taint", `node ${nodeName} has the taint ${taint.key}${taint.value ? `=${taint.value}` : ""}:${taint.effect}, which the pod does not tolerate`);
  const label = nodeSelectorMismatch(spec.nodeSelector ?? {}, labels);
  if (label !== undefined) return new BindRefused("node-selector", `node ${nodeName} does not match the pod's nodeSelector ${label}=${spec.nodeSelector![label]}`);
  const terms = spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  if (terms && !requiredAffinityHolds(terms, { name: nodeName, labels })) {
    return new BindRefused("node-affinity", `node ${nodeName} matches none of the pod's required node affinity terms`);
  }
  const tenant = labels[KIT_LABELS.tenant];
  if (tenant !== undefined && tenant !== pod.metadata.namespace) {
    return new BindRefused("dedicated-pool", `node ${nodeName} is in a pool dedicated to tenant ${tenant}; namespace ${pod.metadata.namespace} may not use it`);
  }
  return defragHoldRefusal(podKey(pod), nodeName, defragHoldOf(node));
}
