/**
 * Alert rules a GPU fleet needs before it runs hot: temperature at the limit, sustained
 * power-cap or thermal clock events (the H100 capture in data/h100 held its 700 W
 * cap with the SM clock down from 1980 to ~1365 MHz), and XID errors.
 */
import type { StackValidationPolicy } from "@pulumi/policy";
import { DCGM_METRICS } from "../../gpu/metrics";
import { configSchema, readConfig } from "../lib/config";
import { K8S_TYPES, type Json } from "../lib/k8s";
import { components, ofTypes } from "../lib/stack";

export const DCGM = {
  temp: DCGM_METRICS.gpuTemp,
  xid: DCGM_METRICS.xidErrors,
  power: DCGM_METRICS.powerUsage,
  /**
   * Clock-event signals: the event-reason bitmask (dcgm-exporter ≥ 3.3 name, then the older
   * "throttle" name) and DCGM's power / thermal violation counters (µs spent capped).
   */
  clockEvents: [DCGM_METRICS.clockEventReasons, DCGM_METRICS.clockThrottleReasons, DCGM_METRICS.powerViolation, DCGM_METRICS.thermalViolation],
} as const;

export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
}

export function alertRules(resources: { props: Json }[]): AlertRule[] {
  return resources.flatMap((r) =>
    ((r.props.spec?.groups ?? []) as Json[]).flatMap((g) =>
      ((g.rules ?? []) as Json[])
        .filter((rule) => typeof rule.alert === "string" && typeof rule.expr === "string")
        .map((rule) => ({ alert: rule.alert, expr: rule.expr, for: rule.for })),
    ),
  );
}

/** The temperature an expression alerts at (`… > 84` fires at 85 and up), if it compares the GPU temperature. */
export function tempThreshold(expr: string): number | undefined {
  const at = expr.indexOf(DCGM.temp);
  if (at < 0) return undefined;
  const m = /(>=|>)\s*(\d+(?:\.\d+)?)/.exec(expr.slice(at));
  if (!m) return undefined;
  const value = Number(m[2]);
  return m[1] === ">=" ? value : Math.floor(value) + 1;
}

/** Sustained: a non-zero `for:` or a range-vector window over the metric. */
export function isSustained(rule: AlertRule): boolean {
  return (typeof rule.for === "string" && /[1-9]/.test(rule.for)) || /\[\s*\d+[smh]\s*\]/.test(rule.expr);
}

export const gpuAlertRules: StackValidationPolicy = {
  name: "gpu-alert-rules",
  description:
    "Checks whether PrometheusRules alert on GPU temperature at or above `maxGpuTempC`, on sustained power-cap or thermal clock events, and on XID errors.",
  enforcementLevel: "mandatory",
  configSchema: configSchema("maxGpuTempC"),
  validateStack: (args, reportViolation) => {
    const pools = components(args.resources, "gpuNodeGroup");
    if (pools.length === 0) return;
    const { maxGpuTempC } = readConfig(args, "maxGpuTempC");
    const rules = alertRules(ofTypes(args.resources, K8S_TYPES.prometheusRule));
    const urn = components(args.resources, "telemetry")[0]?.urn ?? pools[0].urn;
    const missing: string[] = [];
    if (!rules.some((r) => (tempThreshold(r.expr) ?? Infinity) <= maxGpuTempC)) {
      missing.push(`one firing when ${DCGM.temp} reaches ${maxGpuTempC} °C (e.g. \`${DCGM.temp} >= ${maxGpuTempC}\`)`);
    }
    const throttle = [DCGM.power, ...DCGM.clockEvents];
    if (!rules.some((r) => throttle.some((m) => r.expr.includes(m)) && isSustained(r))) {
      missing.push(`one on sustained power-cap or thermal clock events (${throttle.join(" or ")} with a \`for:\` duration)`);
    }
    if (!rules.some((r) => r.expr.includes(DCGM.xid))) {
      missing.push(`one on XID errors (${DCGM.xid})`);
    }
    for (const what of missing) {
      reportViolation(`No PrometheusRule alert covers GPU safety: add ${what}.`, urn);
    }
  },
};

export const alertPolicies = [gpuAlertRules];
