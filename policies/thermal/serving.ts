/**
 * Load shedding for serving. An unbounded waiting queue turns overload into unbounded
 * latency and memory; an autoscaler without a max turns it into an unbounded GPU bill (and
 * pods that can never schedule once the pool is full).
 */
import type { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { findFlag } from "../lib/flags";
import { CHARTS } from "../../components/pins";
import {
  K8S_TYPES, containersOf, isServingDeployment, namespaceOf, objectName, podGpuCount, selectedPools, type Json,
} from "../lib/k8s";
import { components, ofTypes, type Found } from "../lib/stack";

/**
 * Flags that bound the waiting queue: the kit's engine (`gpk serve`, kind target) takes
 * `--max-waiting`; the vLLM image (eks target) gets `--max-num-queued-reqs` from VllmServing.
 */
export const QUEUE_BOUND_FLAGS = ["--max-waiting", "--max-num-queued-reqs"] as const;

export const servingBoundedQueue: ResourceValidationPolicy = {
  name: "serving-bounded-queue",
  description: `Checks whether every serving Deployment bounds its waiting queue (${QUEUE_BOUND_FLAGS.map((f) => `\`${f}\``).join(" or ")}, a positive integer), so overload is shed instead of queued without limit.`,
  enforcementLevel: "mandatory",
  validateResource: (args, reportViolation) => {
    if (!isServingDeployment(args.type, args.props)) return;
    const spec: Json = args.props.spec?.template?.spec ?? {};
    const values = containersOf(spec)
      .flatMap(({ container }) => QUEUE_BOUND_FLAGS.map((flag) => findFlag(container, flag)))
      .flatMap((hit) => (hit ? [hit.value] : []));
    const ok = values.some((v) => /^\d+$/.test(v!) && Number(v) > 0);
    if (!ok) {
      reportViolation(
        values.length === 0
          ? `Serving Deployment "${args.name}" bounds no waiting queue, so overload queues without limit; pass \`${QUEUE_BOUND_FLAGS[0]} <n>\` (kit engine) or \`${QUEUE_BOUND_FLAGS[1]} <n>\` (vLLM) to the engine.`
          : `Serving Deployment "${args.name}" bounds its waiting queue at ${values.join(", ")}; use a positive integer.`,
      );
    }
  },
};

interface Autoscaler {
  urn: string;
  kind: string;
  min: number;
  max?: number;
}

/** HPAs and KEDA ScaledObjects aimed at a Deployment, keyed by `namespace/name`. */
function autoscalers(resources: Found<Json>[]): Map<string, Autoscaler> {
  const out = new Map<string, Autoscaler>();
  for (const r of resources) {
    const spec: Json = r.props.spec ?? {};
    const target: Json = spec.scaleTargetRef ?? {};
    if ((target.kind ?? "Deployment") !== "Deployment" || typeof target.name !== "string") continue;
    const key = `${namespaceOf(r.props)}/${target.name}`;
    out.set(
      key,
      r.type === K8S_TYPES.hpa
        ? { urn: r.urn, kind: "HorizontalPodAutoscaler", min: spec.minReplicas ?? 1, max: spec.maxReplicas }
        : { urn: r.urn, kind: "ScaledObject", min: spec.minReplicaCount ?? 0, max: spec.maxReplicaCount },
    );
  }
  return out;
}

/** Names a Deployment may have: its metadata.name, or Pulumi's auto-name `<resource>-<7 chars>`. */
function findAutoscaler(scalers: Map<string, Autoscaler>, dep: Found<Json>): Autoscaler | undefined {
  const ns = namespaceOf(dep.props);
  const direct = scalers.get(`${ns}/${objectName(dep.props, dep.name)}`);
  if (direct || dep.props.metadata?.name) return direct;
  for (const [key, s] of scalers) if (new RegExp(`^${ns}/${dep.name}-[a-z0-9]{7}$`).test(key)) return s;
  return undefined;
}

export const servingAutoscalerBounded: StackValidationPolicy = {
  name: "serving-autoscaler-bounded",
  description:
    "Checks whether every serving Deployment has an autoscaler (HorizontalPodAutoscaler or KEDA ScaledObject) with an explicit max that its GPU pool can hold.",
  enforcementLevel: "mandatory",
  validateStack: (args, reportViolation) => {
    const scalers = autoscalers(ofTypes(args.resources, K8S_TYPES.hpa, K8S_TYPES.scaledObject));
    const pools = new Map(components(args.resources, "gpuNodeGroup").map((p) => [p.props.poolName, p.props]));
    for (const dep of ofTypes(args.resources, K8S_TYPES.deployment)) {
      if (!isServingDeployment(dep.type, dep.props)) continue;
      const name = objectName(dep.props, dep.name);
      const scaler = findAutoscaler(scalers, dep);
      if (!scaler) {
        reportViolation(`Serving Deployment "${name}" has no autoscaler; add a HorizontalPodAutoscaler (or KEDA ScaledObject) targeting it with \`maxReplicas\`.`, dep.urn);
        continue;
      }
      if (typeof scaler.max !== "number" || scaler.max < Math.max(1, scaler.min)) {
        reportViolation(`The ${scaler.kind} of serving Deployment "${name}" has no usable max (got ${scaler.max}); set it to at least its min (${scaler.min}).`, scaler.urn);
        continue;
      }
      const podSpec: Json = dep.props.spec?.template?.spec ?? {};
      const gpus = podGpuCount(podSpec);
      for (const poolName of selectedPools(podSpec) ?? []) {
        const pool = pools.get(poolName);
        if (pool && gpus > 0 && scaler.max * gpus > pool.gpuCapacity) {
          reportViolation(
            `The ${scaler.kind} of serving Deployment "${name}" may scale to ${scaler.max} replicas × ${gpus} GPUs, more than the ${pool.gpuCapacity} GPUs of pool "${poolName}"; ` +
              `lower its max to ${Math.floor(pool.gpuCapacity / gpus)} or less.`,
            scaler.urn,
          );
        }
      }
    }
  },
};

/** HPA metric types read from the custom or external metrics API, which needs an adapter. */
const ADAPTER_METRIC_TYPES = new Set(["Pods", "Object", "External"]);

/**
 * An HPA on `vllm:num_requests_waiting` reads the custom metrics API. Without an adapter
 * serving it the HPA reports FailedGetPodsMetric and never scales: the endpoint sheds load
 * with 429s at its minimum size, or (queue unbounded) its GPUs run flat out.
 */
export const servingAutoscalerMetricsSource: StackValidationPolicy = {
  name: "serving-autoscaler-metrics-source",
  description:
    "Checks whether every HorizontalPodAutoscaler on a custom or external metric has a metrics source in the stack: the prometheus-adapter chart, or a serving endpoint declared `external`.",
  enforcementLevel: "mandatory",
  validateStack: (args, reportViolation) => {
    const adapter = ofTypes(args.resources, K8S_TYPES.helmRelease).some((r) => r.props.chart === CHARTS.prometheusAdapter.chart);
    if (adapter) return;
    const external = new Set(
      components(args.resources, "serving").filter((s) => s.props.metricsSource === "external").map((s) => `${s.props.namespace}/${s.props.name}`),
    );
    for (const hpa of ofTypes(args.resources, K8S_TYPES.hpa)) {
      const metrics = ((hpa.props.spec?.metrics ?? []) as Json[]).filter((m) => ADAPTER_METRIC_TYPES.has(m.type));
      if (metrics.length === 0) continue;
      if (external.has(`${hpa.props.metadata?.namespace}/${hpa.props.spec?.scaleTargetRef?.name}`)) continue;
      const names = metrics.map((m) => m.pods?.metric?.name ?? m.object?.metric?.name ?? m.external?.metric?.name ?? m.type).join(", ");
      reportViolation(
        `HorizontalPodAutoscaler "${objectName(hpa.props, hpa.name)}" scales on ${names} from the custom metrics API, and nothing in the stack serves it; ` +
          "set `gpk:telemetry.servingMetrics.source` to prometheus-adapter (the kit installs it) or keda, or to external if you run an adapter.",
        hpa.urn,
      );
    }
  },
};

export const servingPolicies = [servingBoundedQueue, servingAutoscalerBounded, servingAutoscalerMetricsSource];
