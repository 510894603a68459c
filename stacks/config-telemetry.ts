/** `gpk:telemetry`: GPU metrics on every pool and the alert rules built on them. */
import { z } from "zod";
import { DASHBOARD_DEFAULTS } from "../components/dashboards";
import { DEFAULT_MONITORING_NAMESPACE } from "../gpu";
import { SERVING_METRICS_SOURCES } from "../components/serving-metrics";
import { dnsLabel, expect, oneOf } from "./config-parts";


export const telemetrySchema = z
  .object({
    /** Run a GPU metrics exporter on every GPU node (dcgm-exporter on eks, the simulated one on kind). Default true. */
    enabled: z.boolean(expect("true or false")).default(true),
    /**
     * Create a PrometheusRule with the GPU alerts (needs the Prometheus Operator CRDs in the
     * cluster). Default true.
     */
    alertRules: z.boolean(expect("true or false")).default(true),
    /** How long a condition must hold before its alert fires. Default "5m". */
    alertFor: z.string().regex(/^[0-9]+(s|m|h)$/, expect('a duration such as "5m"')).default("5m"),
    /**
     * Namespace of the metrics scrapers (Prometheus): the only namespace the kit's NetworkPolicies
     * let reach the GPU exporters and the scheduler's and extender's metrics. Default "monitoring".
     */
    monitoringNamespace: dnsLabel().default(DEFAULT_MONITORING_NAMESPACE),
    /**
     * What serves the serving autoscaler's `vllm:num_requests_waiting`: "prometheus-adapter"
     * (the kit installs the pinned chart), "keda" (ScaledObjects instead of HPAs; KEDA must be
     * installed) or "external" (you run a custom-metrics adapter). Default "prometheus-adapter".
     */
    servingMetrics: z.object({
      source: oneOf([...SERVING_METRICS_SOURCES]).default("prometheus-adapter"),
      /** Prometheus the adapter or KEDA reads. Default: prometheus-operated in monitoringNamespace. */
      prometheusUrl: z.string(expect("a URL")).regex(/^https?:\/\/[^\s/]+(\/\S*)?$/, expect('a URL such as "http://prometheus.monitoring.svc:9090"')).optional(),
    }).strict().prefault({}),
    /** Grafana dashboards (GPU fleet, serving SLOs, placement) as ConfigMaps for Grafana's sidecar. */
    dashboards: z.object({
      /** Default true. */
      enabled: z.boolean(expect("true or false")).default(true),
      /** Namespace of the ConfigMaps; the sidecar must search it. Default "gpk-system". */
      namespace: dnsLabel().default(DASHBOARD_DEFAULTS.namespace),
      /** Label the sidecar selects. Default {key: grafana_dashboard, value: "1"}. */
      label: z.object({
        key: z.string(expect("a label key")).regex(/^([a-z0-9.-]+\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/, expect("a label key")),
        value: z.string(expect("a label value")).regex(/^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/, expect("a label value")),
      }).strict().default({ ...DASHBOARD_DEFAULTS.label }),
    }).strict().prefault({}),
  })
  .strict()
  .prefault({});
