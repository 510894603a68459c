/**
 * Kubernetes objects → the placement model of runtime/scheduling.
 *
 * Node: allocatable CPU/memory; GPUs from allocatable `nvidia.com/gpu` (divided by the GFD
 * `nvidia.com/gpu.replicas` label when time-slicing advertises replicas), their model and
 * memory from the GFD labels, their NUMA domains from the `gpk.dev/gpu-numa` annotation.
 *
 * Pod: requests as kube-scheduler counts them (resource/helpers.go PodRequests): the sum over
 * containers, or the largest init container if bigger (restartable "sidecar" init containers
 * add to both), plus pod overhead. A request defaults to the limit when only the limit is set.
 * GPUs come from `nvidia.com/gpu`; `gpk.dev/gpu-milli` asks for a share of one GPU; acceptable
 * GPU models come from nodeSelector / required node affinity on `nvidia.com/gpu.product`.
 *
 * MIG (`mixed` strategy): a node's `nvidia.com/mig-<profile>` devices follow its whole GPUs in
 * the device list, profiles in name order, each a device of its own kind; a pod asking for
 * `nvidia.com/mig-<profile>` takes that many of them whole.
 */
import { GFD_LABELS, GPU_RESOURCE, KIT_ANNOTATIONS } from "../../gpu";
import { migProfileOfResource } from "../../gpu/mig";
import { MILLI, makeNode, type NodeState, type PodRequest } from "../scheduling";
import { QuantityError, cpuMilli, memoryMiB, parseQuantity } from "../../gpu/quantity";
import { BadRequest, type K8sNode, type K8sPod } from "./wire";

type Resources = { requests?: Record<string, string | number> | null; limits?: Record<string, string | number> | null } | null | undefined;

function quantityAt(path: string, raw: string | number, parse: (q: string | number) => number): number {
  try {
    const v = parse(raw);
    if (v < 0) throw new QuantityError(`expected a non-negative quantity, got ${JSON.stringify(raw)}`);
    return v;
  } catch (err) {
    throw new BadRequest(`${path}: ${(err as Error).message}`);
  }
}

function wholeGpus(path: string, raw: string | number): number {
  const n = quantityAt(path, raw, parseQuantity);
  if (!Number.isInteger(n)) throw new BadRequest(`${path}: expected a whole number of GPUs, got ${JSON.stringify(raw)}`);
  return n;
}

/**
 * [cpu milli, memory MiB, GPUs or MIG devices] of one container. The device resource (whole GPUs
 * or one MIG profile) is recorded in `kinds`, so a pod mixing two is refused by name.
 */
function containerDemand(res: Resources, path: string, kinds: Map<string, string>): [number, number, number] {
  const req = res?.requests ?? {};
  const lim = res?.limits ?? {};
  const pick = (name: string) => req[name] ?? lim[name];
  const cpu = pick("cpu");
  const mem = pick("memory");
  let devices = 0;
  for (const resource of new Set([...Object.keys(lim), ...Object.keys(req)])) {
    if (resource !== GPU_RESOURCE && migProfileOfResource(resource) === undefined) continue;
    const n = wholeGpus(`${path}.resources.limits["${resource}"]`, lim[resource] ?? req[resource]!);
    if (n === 0) continue;
    if (!kinds.has(resource)) kinds.set(resource, path);
    devices += n;
  }
  return [
    cpu === undefined ? 0 : quantityAt(`${path}.resources.requests.cpu`, cpu, cpuMilli),
    mem === undefined ? 0 : quantityAt(`${path}.resources.requests.memory`, mem, (q) => memoryMiB(q, "up")),
    devices,
  ];
}

const add = (a: number[], b: number[]) => a.map((x, i) => x + b[i]!);
const max = (a: number[], b: number[]) => a.map((x, i) => Math.max(x, b[i]!));

/** GPU models the pod accepts: nodeSelector ∩ (union over required affinity terms); [] = any. */
export function acceptedGpuModels(pod: K8sPod): string[] {
  const selected = pod.spec?.nodeSelector?.[GFD_LABELS.product];
  let fromAffinity: Set<string> | null = null;
  const terms = pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? [];
  if (terms.length > 0) {
    fromAffinity = new Set();
    for (const term of terms) {
      const exprs = (term.matchExpressions ?? []).filter((e) => e.key === GFD_LABELS.product && e.operator === "In");
      // A term that does not restrict the product accepts any model, so the union is "any".
      if (exprs.length === 0) {
        fromAffinity = null;
        break;
      }
      const allowed = exprs.map((e) => new Set(e.values ?? [])).reduce((a, b) => new Set([...a].filter((v) => b.has(v))));
      for (const v of allowed) fromAffinity.add(v);
    }
  }
  if (selected !== undefined) return fromAffinity === null || fromAffinity.has(selected) ? [selected] : ["<none>"];
  return fromAffinity === null ? [] : [...fromAffinity].sort();
}

/** `namespace/name` of a pod. */
export function podKey(pod: K8sPod): string {
  return `${pod.metadata?.namespace ?? "default"}/${pod.metadata?.name ?? ""}`;
}

/** The pod's placement request. Throws BadRequest naming the field on a bad quantity. */
export function podToRequest(pod: K8sPod): PodRequest {
  let sum = [0, 0, 0];
  let sidecars = [0, 0, 0];
  let initPeak = [0, 0, 0];
  const kinds = new Map<string, string>();
  (pod.spec?.initContainers ?? []).forEach((c, i) => {
    const d = containerDemand(c.resources, `Pod.spec.initContainers[${i}]`, kinds);
    if (c.restartPolicy === "Always") {
      sidecars = add(sidecars, d);
      initPeak = max(initPeak, sidecars);
    } else {
      initPeak = max(initPeak, add(d, sidecars));
    }
  });
  (pod.spec?.containers ?? []).forEach((c, i) => {
    sum = add(sum, containerDemand(c.resources, `Pod.spec.containers[${i}]`, kinds));
  });
  if (kinds.size > 1) {
    const [[a, atA], [b, atB]] = [...kinds];
    throw new BadRequest(`${atB}: the extender places one kind of GPU device per pod, but it asks for "${b}" and ${atA} for "${a}"`);
  }
  const migProfile = kinds.size === 1 ? migProfileOfResource([...kinds.keys()][0]!) : undefined;
  let [cpu, mem, gpus] = max(add(sum, sidecars), initPeak) as [number, number, number];
  const overhead = pod.spec?.overhead ?? {};
  if (overhead.cpu !== undefined) cpu += quantityAt("Pod.spec.overhead.cpu", overhead.cpu, cpuMilli);
  if (overhead.memory !== undefined) mem += quantityAt("Pod.spec.overhead.memory", overhead.memory, (q) => memoryMiB(q, "up"));
  let gpuMilli = gpus > 0 ? MILLI : 0;
  const share = pod.metadata?.annotations?.[KIT_ANNOTATIONS.gpuMilli];
  if (share !== undefined) {
    const at = `Pod.metadata.annotations["${KIT_ANNOTATIONS.gpuMilli}"]`;
    const milli = Number(share);
    if (!/^[0-9]+$/.test(share) || milli < 1 || milli > MILLI) throw new BadRequest(`${at}: expected an integer milli-GPU between 1 and ${MILLI}, got ${JSON.stringify(share)}`);
    if (migProfile !== undefined) throw new BadRequest(`${at}: a shared GPU share does not apply to MIG devices (nvidia.com/mig-${migProfile}); they are handed out whole`);
    if (gpus > 1) throw new BadRequest(`${at}: a shared GPU share applies to one GPU, but the pod asks for ${gpus} "${GPU_RESOURCE}"`);
    gpus = 1;
    gpuMilli = milli;
  }
  const request: PodRequest = { name: podKey(pod), cpuMilli: cpu, memoryMiB: mem, numGpu: gpus, gpuMilli, gpuModels: acceptedGpuModels(pod) };
  if (migProfile !== undefined) request.migProfile = migProfile;
  return request;
}

/**
 * Most physical GPUs one node may claim. Real nodes carry 8 (16 at most on HGX-2-class
 * systems); a node object claiming more is bad input, and trusting it would let one request
 * make the extender allocate per-GPU state without bound. The simulated node caps at the same.
 */
export const MAX_GPUS_PER_NODE = 64;

/** Capacity of a node as an idle NodeState (usage is applied by the cache). */
export function nodeToState(node: K8sNode, rank = 0): NodeState {
  const name = node.metadata.name;
  const alloc = node.status?.allocatable ?? node.status?.capacity ?? {};
  const labels = node.metadata.labels ?? {};
  const at = (key: string) => `Nodes.items[${name}].status.allocatable["${key}"]`;
  const cpu = alloc.cpu === undefined ? 0 : Math.floor(quantityAt(at("cpu"), alloc.cpu, parseQuantity) * 1000 + 1e-9);
  const mem = alloc.memory === undefined ? 0 : quantityAt(at("memory"), alloc.memory, (q) => memoryMiB(q, "down"));
  const advertised = alloc[GPU_RESOURCE] === undefined ? 0 : wholeGpus(at(GPU_RESOURCE), alloc[GPU_RESOURCE]);
  const replicas = Math.max(1, Number(labels[GFD_LABELS.replicas] ?? 1) || 1);
  const gpuCount = Math.floor(advertised / replicas);
  if (gpuCount > MAX_GPUS_PER_NODE) {
    throw new BadRequest(`${at(GPU_RESOURCE)}: ${advertised} GPUs (${replicas} per physical GPU) is more than the ${MAX_GPUS_PER_NODE} physical GPUs a node can hold`);
  }
  const model = labels[GFD_LABELS.product] ?? "";
  const state = makeNode({ name, cpuMilli: cpu, memoryMiB: mem, gpuCount, gpuModel: model, rank });
  const gpuMemory = Number(labels[GFD_LABELS.memory]);
  const numa = (node.metadata.annotations?.[KIT_ANNOTATIONS.gpuNuma] ?? "").split(",").map((s) => Number(s.trim()));
  state.gpus.forEach((g, i) => {
    if (Number.isFinite(gpuMemory) && gpuMemory > 0) g.memoryMiB = gpuMemory;
    // The annotation only counts when it names a domain for every GPU.
    if (numa.length === gpuCount && numa.every((n) => Number.isInteger(n) && n >= 0)) g.numaNode = numa[i];
  });
  for (const resource of Object.keys(alloc).filter((k) => migProfileOfResource(k) !== undefined).sort()) {
    const count = wholeGpus(at(resource), alloc[resource]!);
    if (state.gpus.length + count > MAX_GPUS_PER_NODE) {
      throw new BadRequest(`${at(resource)}: ${count} more MIG devices make more than the ${MAX_GPUS_PER_NODE} devices a node can hold`);
    }
    for (let i = 0; i < count; i++) state.gpus.push({ model, usedMilli: 0, migProfile: migProfileOfResource(resource)! });
  }
  return state;
}

// The assignment record lives in its own zod-free module so the device plugin's bundle can read it.
export { decodeAssignment, encodeAssignment, type GpuAssignmentRecord } from "./assignment";

/** A pod holds node resources while bound and not finished (as kube-scheduler's cache counts). */
export function podHoldsResources(pod: K8sPod): boolean {
  const phase = pod.status?.phase;
  return Boolean(pod.spec?.nodeName) && phase !== "Succeeded" && phase !== "Failed";
}
