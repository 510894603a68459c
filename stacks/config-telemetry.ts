/** `gpk:telemetry`: GPU metrics on every pool and the alert rules built on them. */
import { z } from "zod";
import { DEFAULT_MONITORING_NAMESPACE } from "../gpu";
import { dnsLabel, expect } from "./config-parts";


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
  })
  .strict()
  .prefault({});
