/**
 * kube-scheduler extender v1 wire format (k8s.io/kube-scheduler/extender/v1, types.go). The Go
 * types carry no json tags, so every key is the PascalCase field name. Request bodies are
 * validated with zod; only the parts of Pod and Node the extender reads are checked, the rest
 * passes through untouched (a Nodes-mode filter answers with the node objects it was given).
 *
 * What is checked, the API server checks too, so a request it could never have produced is a
 * 400 naming the field: pod and node names are DNS-1123 subdomains, namespaces DNS-1123
 * labels (k8s.io/apimachinery pkg/util/validation/validation.go, IsDNS1123Subdomain and
 * IsDNS1123Label: lower-case alphanumerics and '-', '.' between labels, at most 253 and 63
 * characters), a pod has at least one container (k8s.io/kubernetes pkg/apis/core/validation,
 * validateContainers), and every resource quantity parses (resource.Quantity's grammar).
 */
import { z } from "zod";
import { QuantityError, parseQuantity } from "../../gpu/quantity";

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Why `name` is not a DNS-1123 subdomain, or undefined when it is one. */
export function dns1123SubdomainProblem(name: string): string | undefined {
  if (name.length > 253) return `expected a DNS-1123 subdomain of at most 253 characters, got ${name.length}`;
  if (!DNS1123_SUBDOMAIN.test(name)) return `expected a DNS-1123 subdomain (lower-case alphanumerics, '-' and '.'), got ${JSON.stringify(name)}`;
  return undefined;
}

/** Why `name` is not a DNS-1123 label, or undefined when it is one. */
export function dns1123LabelProblem(name: string): string | undefined {
  if (name.length > 63) return `expected a DNS-1123 label of at most 63 characters, got ${name.length}`;
  if (!DNS1123_LABEL.test(name)) return `expected a DNS-1123 label (lower-case alphanumerics and '-'), got ${JSON.stringify(name)}`;
  return undefined;
}

const checked = (problem: (s: string) => string | undefined) =>
  z.string().superRefine((value, ctx) => {
    const message = problem(value);
    if (message) ctx.addIssue({ code: "custom", message });
  });
const subdomainName = checked(dns1123SubdomainProblem);
const labelName = checked(dns1123LabelProblem);

const quantity = z.union([z.string(), z.number()]).superRefine((value, ctx) => {
  try {
    parseQuantity(value);
  } catch (err) {
    if (!(err instanceof QuantityError)) throw err;
    ctx.addIssue({ code: "custom", message: err.message });
  }
});
const resourceList = z.record(z.string(), quantity);
const stringMap = z.record(z.string(), z.string());

export const objectMetaSchema = z.looseObject({
  name: subdomainName.optional(),
  namespace: labelName.optional(),
  uid: z.string().optional(),
  resourceVersion: z.string().optional(),
  labels: stringMap.nullish(),
  annotations: stringMap.nullish(),
});

const containerSchema = z.looseObject({
  name: z.string().optional(),
  restartPolicy: z.string().optional(),
  resources: z.looseObject({ requests: resourceList.nullish(), limits: resourceList.nullish() }).nullish(),
});

const nodeSelectorRequirement = z.looseObject({
  key: z.string(),
  operator: z.string(),
  values: z.array(z.string()).nullish(),
});

export const podSchema = z.looseObject({
  // A pod the scheduler hands over is stored: it has its name and namespace.
  metadata: objectMetaSchema.extend({ name: subdomainName, namespace: labelName }),
  spec: z.looseObject({
    nodeName: subdomainName.optional(),
    schedulerName: z.string().optional(),
    containers: z.array(containerSchema).min(1, "expected at least one container (the API server admits no pod without one)"),
    initContainers: z.array(containerSchema).nullish(),
    overhead: resourceList.nullish(),
    nodeSelector: stringMap.nullish(),
    affinity: z.looseObject({
      nodeAffinity: z.looseObject({
        requiredDuringSchedulingIgnoredDuringExecution: z.looseObject({
          nodeSelectorTerms: z.array(z.looseObject({
            matchExpressions: z.array(nodeSelectorRequirement).nullish(),
            matchFields: z.array(nodeSelectorRequirement).nullish(),
          })).nullish(),
        }).nullish(),
      }).nullish(),
    }).nullish(),
    tolerations: z.array(z.looseObject({
      key: z.string().optional(),
      operator: z.string().optional(),
      value: z.string().optional(),
      effect: z.string().optional(),
    })).nullish(),
  }),
  status: z.looseObject({ phase: z.string().optional() }).nullish(),
});

export const nodeSchema = z.looseObject({
  metadata: objectMetaSchema.extend({ name: subdomainName }),
  spec: z.looseObject({
    taints: z.array(z.looseObject({ key: z.string(), value: z.string().optional(), effect: z.string() })).nullish(),
  }).nullish(),
  status: z.looseObject({ allocatable: resourceList.nullish(), capacity: resourceList.nullish() }).nullish(),
});

export type K8sPod = z.infer<typeof podSchema>;
export type K8sNode = z.infer<typeof nodeSchema>;

/** ExtenderArgs: the pod and either the candidate nodes or (nodeCacheCapable) their names. */
export const extenderArgsSchema = z.object({
  Pod: podSchema,
  Nodes: z.looseObject({ items: z.array(nodeSchema).nullish() }).nullish(),
  // Checked by hand: zod's per-element array check costs more than the rest of a 500-name filter.
  NodeNames: z.custom<string[]>((v) => Array.isArray(v) && v.every((n) => typeof n === "string"), {
    message: "expected an array of node names (strings)",
  }).superRefine((names, ctx) => {
    // A plain loop: 5,000 names cost microseconds here, against milliseconds through a per-element schema.
    for (let i = 0; i < names.length; i++) {
      const message = names[i]!.length > 0 && names[i]!.length <= 253 && DNS1123_SUBDOMAIN.test(names[i]!) ? undefined : dns1123SubdomainProblem(names[i]!);
      if (message) {
        ctx.addIssue({ code: "custom", path: [i], message });
        return;
      }
    }
  }).nullish(),
});
export type ExtenderArgs = z.infer<typeof extenderArgsSchema>;

/** ExtenderBindingArgs. */
export const bindingArgsSchema = z.object({
  PodName: subdomainName,
  PodNamespace: labelName,
  PodUID: z.string().min(1),
  Node: subdomainName,
});
export type ExtenderBindingArgs = z.infer<typeof bindingArgsSchema>;

/** ExtenderFilterResult. */
export interface ExtenderFilterResult {
  Nodes?: { apiVersion?: string; kind?: string; metadata?: unknown; items: K8sNode[] } | null;
  NodeNames?: string[] | null;
  FailedNodes: Record<string, string>;
  FailedAndUnresolvableNodes: Record<string, string>;
  Error: string;
}

/** HostPriorityList: scores 0..MaxExtenderPriority (10). */
export type HostPriorityList = { Host: string; Score: number }[];

/** ExtenderBindingResult. */
export interface ExtenderBindingResult {
  Error: string;
}

/** What filter decided, before serialisation (failures as ready JSON members, reused per node while it is unchanged). */
export interface FilterOutcome {
  passing: string[];
  /** `passing` as JSON strings. */
  passingJson: string[];
  /** FailedNodes entries, each `"name":"reason"` (JSON). */
  failedJson: string[];
  /** FailedAndUnresolvableNodes entries, same form. */
  unresolvableJson: string[];
  /** Nodes mode: the NodeList to answer with (the passing items, as given). */
  nodeList?: { items: K8sNode[] } & Record<string, unknown>;
}

/** What prioritize decided: scores 0..10 aligned with `hosts` (-1: the pod does not fit). */
export interface PriorityOutcome {
  /** Per candidate, `{"Host":<name>,"Score":` (the cache keeps one per node). */
  hostJson: string[];
  scores: Int8Array;
}

/** ExtenderFilterResult JSON, built directly: a 5,000-node answer is the hot path. */
export function filterResultJson(o: FilterOutcome): string {
  const nodes = o.nodeList ? JSON.stringify(o.nodeList) : "null";
  const names = o.nodeList ? "null" : `[${o.passingJson.join(",")}]`;
  return `{"Nodes":${nodes},"NodeNames":${names},"FailedNodes":{${o.failedJson.join(",")}},"FailedAndUnresolvableNodes":{${o.unresolvableJson.join(",")}},"Error":""}`;
}

const SCORE_SUFFIX = Array.from({ length: 11 }, (_, s) => `${s}}`);

/** HostPriorityList JSON: every candidate in request order, a node the pod does not fit at 0. */
export function priorityListJson(o: PriorityOutcome): string {
  let out = "[";
  for (let i = 0; i < o.hostJson.length; i++) out += (i === 0 ? "" : ",") + o.hostJson[i]! + SCORE_SUFFIX[Math.max(0, o.scores[i]!)]!;
  return `${out}]`;
}

/** A request the extender refuses: answered 4xx with this message, never a crash. */
export class BadRequest extends Error {
  override readonly name: string = "BadRequest";
  constructor(message: string, readonly status = 400) {
    super(message);
  }
}

/** zod issues as one line naming each field, e.g. `Pod.spec.containers[0].resources.limits: expected record`. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => {
      const path = i.path
        .map((p) => (typeof p === "number" ? `[${p}]` : /^[A-Za-z_][\w-]*$/.test(String(p)) ? `.${String(p)}` : `[${JSON.stringify(String(p))}]`))
        .join("")
        .replace(/^\./, "");
      return `${path || "body"}: ${i.message}`;
    })
    .join("; ");
}

/** Parses and validates a request body, throwing BadRequest with a message naming the field. */
export function parseBody<T>(schema: z.ZodType<T>, raw: string): T {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (err) {
    throw new BadRequest(`malformed JSON: ${(err as Error).message}`);
  }
  if (json === null || typeof json !== "object" || Array.isArray(json)) throw new BadRequest("body: expected a JSON object");
  const result = schema.safeParse(json);
  if (!result.success) throw new BadRequest(describeIssues(result.error));
  return result.data;
}
