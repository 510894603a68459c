/**
 * Where the serving autoscaler's metric comes from. An HPA on the pods metric
 * `vllm:num_requests_waiting` needs something serving the custom metrics API; KEDA replaces
 * the HPA with a ScaledObject that queries Prometheus itself. Pure builders; VllmServing and
 * Platform render them. Sources:
 * - prometheus-adapter rules: charts/prometheus-adapter values.yaml `rules.custom`
 *   (seriesQuery, resources.overrides, name.as, metricsQuery), chart 5.3.0;
 * - KEDA's Prometheus trigger: pkg/scalers/prometheus_scaler.go at v2.20.2 (serverAddress,
 *   query and threshold required; metricType AverageValue by default, i.e. the query's value
 *   divided by the replicas, as the HPA's AverageValue target); the ScaledObject schema in
 *   data/schemas/keda-v2.20.2.
 */
import { VLLM_METRICS } from "../gpu/metrics";
import type { ServingEntry } from "../stacks/config-serving";

export const SERVING_METRICS_SOURCES = ["prometheus-adapter", "keda", "external"] as const;
export type ServingMetricsSource = (typeof SERVING_METRICS_SOURCES)[number];

/** The Prometheus a monitoring namespace runs under the Prometheus Operator (`prometheus-operated`). */
export function defaultPrometheusUrl(monitoringNamespace: string): string {
  return `http://prometheus-operated.${monitoringNamespace}.svc:9090`;
}

/** Pods of one endpoint's Deployment, as Kubernetes service discovery labels them (`<deployment>-<hash>-<id>`). */
export function servingPodMatchers(s: Pick<ServingEntry, "name">, namespace: string): string {
  return `namespace="${namespace}",pod=~"${s.name}-[a-z0-9]+-[a-z0-9]+"`;
}

/** The queue the autoscaler acts on: waiting requests summed over the endpoint's pods. */
export function servingWaitingQuery(s: Pick<ServingEntry, "name">, namespace: string): string {
  return `sum(${VLLM_METRICS.waiting}{${servingPodMatchers(s, namespace)}})`;
}

/** Scale-in pace shared by the HPA and KEDA's: a replica takes minutes to load its model. */
export function servingScaleDown() {
  return { stabilizationWindowSeconds: 600, policies: [{ type: "Pods", value: 1, periodSeconds: 300 }] };
}

/** A KEDA ScaledObject in place of the HPA: the same bounds, target and scale-in pace. */
export function kedaScaledObjectSpec(s: ServingEntry, namespace: string, prometheusUrl: string) {
  return {
    scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: s.name },
    minReplicaCount: s.minReplicas,
    maxReplicaCount: s.maxReplicas,
    advanced: { horizontalPodAutoscalerConfig: { behavior: { scaleDown: servingScaleDown() } } },
    triggers: [{
      type: "prometheus",
      metricType: "AverageValue",
      metadata: { serverAddress: prometheusUrl, query: servingWaitingQuery(s, namespace), threshold: String(s.targetWaitingPerReplica) },
    }],
  };
}

/** The adapter rule that serves `vllm:num_requests_waiting` per pod on the custom metrics API. */
export const WAITING_ADAPTER_RULE = {
  seriesQuery: `${VLLM_METRICS.waiting}{namespace!="",pod!=""}`,
  resources: { overrides: { namespace: { resource: "namespace" }, pod: { resource: "pod" } } },
  name: { as: VLLM_METRICS.waiting },
  metricsQuery: "sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)",
} as const;

/** Helm values of prometheus-adapter: the Prometheus to read, and only the serving rule. */
export function prometheusAdapterValues(prometheusUrl: string) {
  const url = new URL(prometheusUrl);
  return {
    prometheus: { url: `${url.protocol}//${url.hostname}`, port: Number(url.port || (url.protocol === "https:" ? 443 : 80)), path: url.pathname === "/" ? "" : url.pathname },
    rules: { default: false, custom: [WAITING_ADAPTER_RULE] },
  };
}

/** The adapter's query for one pod set, as it fills the rule's template (LabelMatchers, GroupBy). */
export function adapterQuery(labelMatchers: string, groupBy: string): string {
  return WAITING_ADAPTER_RULE.metricsQuery.replace("<<.Series>>", VLLM_METRICS.waiting).replace("<<.LabelMatchers>>", labelMatchers).replace("<<.GroupBy>>", groupBy);
}
