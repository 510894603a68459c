/**
 * `gpk:index:GpuTelemetry`: GPU metrics with DCGM exporter names on every GPU pool — the
 * pinned dcgm-exporter chart on eks, the kit's `runtime/telemetry` bundle on kind — and the
 * PrometheusRule that alerts on heat, sustained power-cap or thermal clock events, and XIDs.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { DEFAULT_MONITORING_NAMESPACE, KIT_LABELS, MANAGED_BY, NODE_AGENT_NAMESPACE, SYSTEM_NAMESPACE, tolerationFor } from "../gpu";
import { DCGM_GPU_LABELS, DCGM_METRICS } from "../gpu/metrics";
import { gpuPoolPlacement } from "./nvidia-device-plugin";
import { allowIngressSpec, namespacePeer } from "./network-policies";
import { CHARTS } from "./pins";
import { SIM_STATE_FILE } from "../runtime/device-plugin/container-spec";
import { restrictedPodSecurity } from "./pod-security";
import { RuntimeBundleConfigMap, runtimeContainerSecurity } from "./runtime-bundle";
import { GPU_SIM_TOOLS_DIR } from "./simulated-device-plugin";
import type { GpuPoolSummary, GpuTelemetrySummary, Target } from "./summaries";

/** dcgm-exporter's port; the simulated exporter uses the same. */
export const TELEMETRY_PORT = 9400;

/** Pod labels of the exporters: dcgm-exporter's chart names its pods so on eks; the kit's exporter on kind. */
export function telemetryExporterLabels(target: Target): Record<string, string> {
  return { "app.kubernetes.io/name": target === "eks" ? "dcgm-exporter" : "gpk-gpu-telemetry" };
}

export const TELEMETRY_DEFAULTS = {
  namespace: NODE_AGENT_NAMESPACE,
  alertRules: true,
  alertFor: "5m",
  maxGpuTempC: 85,
  monitoringNamespace: DEFAULT_MONITORING_NAMESPACE,
} as const;

export interface GpuTelemetryArgs {
  /** `eks`: the NVIDIA dcgm-exporter chart; `kind`: the kit's exporter on simulated GPUs. Required. */
  target: Target;
  /** Pools to run an exporter on (every node of each). */
  pools: GpuPoolSummary[];
  /** Namespace of the exporters. Default `gpk-node`. */
  namespace?: string;
  /** Create the PrometheusRule (needs the Prometheus Operator CRDs). Default true. */
  alertRules?: boolean;
  /** How long a condition holds before its alert fires. Default "5m". */
  alertFor?: string;
  /** GPU temperature that alerts, °C. Default 85. */
  maxGpuTempC?: number;
  /** Image holding the runtime bundles (kind). Default: bundle in a ConfigMap. */
  runtimeImage?: string;
  /** Namespace whose pods may scrape the exporters (NetworkPolicy). Default `monitoring`. */
  monitoringNamespace?: string;
  /** Other pods that may scrape them, e.g. the thermal-aware scheduler extender. Default none. */
  otherScrapers?: k8s.types.input.networking.v1.NetworkPolicyPeer[];
}

/** Window of the throttling rates in the alert rules. */
export const ALERT_RATE_WINDOW = "2m";

/**
 * The GPU alerts, on DCGM exporter metrics. Violation counters count microseconds of
 * throttling, so `rate(...) / 1e6` is the fraction of time the clocks were held back.
 * The measured H100 sat at its power cap for its whole 75 s burn at 69 °C
 * (data/h100/thermal_trace.csv): a power-cap alert is about capacity, not heat,
 * so it is a warning, while thermal throttling and XIDs are critical.
 */
export function gpuAlertRules(opts: { maxGpuTempC: number; alertFor: string }) {
  // The throttling rates are taken over a short window and the alert waits `for` on top. Over
  // `alertFor` itself (as first written), rate() averages the whole window, so a GPU capped
  // from some moment reads above half only once half the window has passed, and `for` then
  // waits again: promtool had the power-cap alert firing 10–12 minutes after the cap began
  // with `for: 5m`. A 2m window keeps four samples at a 30 s scrape.
  const by = DCGM_GPU_LABELS;
  const m = DCGM_METRICS;
  return [{
    name: "gpk-gpu",
    rules: [
      {
        alert: "GpuTemperatureHigh",
        expr: `max by (${by}) (${m.gpuTemp}) >= ${opts.maxGpuTempC}`,
        for: opts.alertFor,
        labels: { severity: "critical" },
        annotations: { summary: `GPU {{ $labels.gpu }} on {{ $labels.Hostname }} is at {{ $value }} °C (limit ${opts.maxGpuTempC} °C).` },
      },
      {
        alert: "GpuPowerCapSustained",
        expr: `sum by (${by}) (rate(${m.powerViolation}[${ALERT_RATE_WINDOW}])) / 1e6 > 0.5`,
        for: opts.alertFor,
        labels: { severity: "warning" },
        annotations: { summary: "GPU {{ $labels.gpu }} on {{ $labels.Hostname }} has been power-capped more than half the time; its clocks are reduced." },
      },
      {
        alert: "GpuThermalThrottling",
        expr: `sum by (${by}) (rate(${m.thermalViolation}[${ALERT_RATE_WINDOW}])) > 0`,
        for: opts.alertFor,
        labels: { severity: "critical" },
        annotations: { summary: "GPU {{ $labels.gpu }} on {{ $labels.Hostname }} is slowing its clocks for heat: check cooling." },
      },
      {
        alert: "GpuXidError",
        expr: `max by (${by}) (${m.xidErrors}) > 0`,
        for: "0m",
        labels: { severity: "critical" },
        annotations: { summary: "GPU {{ $labels.gpu }} on {{ $labels.Hostname }} reported XID {{ $value }}." },
      },
    ],
  }];
}

/**
 * Environment of the simulated exporter. The simulated device plugin owns each node's GPU
 * model and writes its state to the host; the exporter follows that file (read-only), so
 * both report the same GPUs, health and XIDs.
 */
export function simulatedTelemetryEnv(pool: GpuPoolSummary) {
  return [
    { name: "NODE_NAME", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } },
    { name: "GPK_SIM_PRODUCT", value: pool.product },
    { name: "GPK_SIM_GPUS", value: String(pool.gpusPerNode) },
    { name: "GPK_SIM_STATE", value: `${GPU_SIM_TOOLS_DIR}/${SIM_STATE_FILE}` },
    { name: "GPK_TELEMETRY_SOURCE", value: "sim" },
    { name: "GPK_TELEMETRY_PORT", value: String(TELEMETRY_PORT) },
  ];
}

export class GpuTelemetry extends pulumi.ComponentResource {
  public readonly summary: GpuTelemetrySummary;

  constructor(name: string, args: GpuTelemetryArgs, opts?: pulumi.ComponentResourceOptions) {
    super("gpk:index:GpuTelemetry", name, {}, opts);
    const namespace = args.namespace ?? TELEMETRY_DEFAULTS.namespace;
    const alertRules = args.alertRules ?? TELEMETRY_DEFAULTS.alertRules;
    if (args.target === "eks") {
      new k8s.helm.v3.Release(name, {
        chart: CHARTS.dcgmExporter.chart,
        version: CHARTS.dcgmExporter.version,
        repositoryOpts: { repo: CHARTS.dcgmExporter.repo },
        namespace,
        values: {
          ...gpuPoolPlacement(args.pools),
          serviceMonitor: { enabled: alertRules },
          service: { port: TELEMETRY_PORT },
        },
        atomic: true,
      }, { parent: this });
    } else {
      this.simulatedExporters(name, args, namespace);
    }
    if (alertRules) {
      new k8s.apiextensions.CustomResource(`${name}-alerts`, {
        apiVersion: "monitoring.coreos.com/v1",
        kind: "PrometheusRule",
        metadata: { name: "gpk-gpu-alerts", namespace: SYSTEM_NAMESPACE, labels: { [KIT_LABELS.managedBy]: MANAGED_BY } },
        spec: { groups: gpuAlertRules({ maxGpuTempC: args.maxGpuTempC ?? TELEMETRY_DEFAULTS.maxGpuTempC, alertFor: args.alertFor ?? TELEMETRY_DEFAULTS.alertFor }) },
      }, { parent: this });
    }
    const exporters = telemetryExporterLabels(args.target);
    new k8s.networking.v1.NetworkPolicy(`${name}-ingress`, {
      metadata: { name: "gpk-gpu-telemetry-ingress", namespace, labels: { [KIT_LABELS.managedBy]: MANAGED_BY } },
      spec: allowIngressSpec(exporters, [{ from: [namespacePeer(args.monitoringNamespace ?? TELEMETRY_DEFAULTS.monitoringNamespace), ...(args.otherScrapers ?? [])], port: TELEMETRY_PORT }]),
    }, { parent: this });
    this.summary = { target: args.target, namespace, pools: args.pools.map((p) => p.poolName) };
    this.registerOutputs({ ...this.summary });
  }

  /** One DaemonSet per pool (product and GPU count differ by pool) and a Service to scrape them all. */
  private simulatedExporters(name: string, args: GpuTelemetryArgs, namespace: string): void {
    const runtime = new RuntimeBundleConfigMap(`${name}-runtime`, { pkg: "telemetry", namespace, image: args.runtimeImage }, { parent: this });
    const parts = runtime.podParts;
    const appLabel = telemetryExporterLabels(args.target);
    for (const pool of args.pools) {
      const labels = { ...appLabel, [KIT_LABELS.pool]: pool.poolName, [KIT_LABELS.managedBy]: MANAGED_BY };
      new k8s.apps.v1.DaemonSet(`${name}-${pool.poolName}`, {
        metadata: { name: `gpk-gpu-telemetry-${pool.poolName}`, namespace, labels },
        spec: {
          selector: { matchLabels: labels },
          template: {
            metadata: { labels, annotations: parts.annotations },
            spec: {
              nodeSelector: { [KIT_LABELS.pool]: pool.poolName },
              tolerations: pool.nodeTaints.map(tolerationFor),
              automountServiceAccountToken: false,
              securityContext: restrictedPodSecurity(),
              containers: [{
                name: "exporter",
                image: parts.image,
                command: parts.command,
                env: simulatedTelemetryEnv(pool),
                ports: [{ name: "metrics", containerPort: TELEMETRY_PORT }],
                readinessProbe: { httpGet: { path: "/metrics", port: "metrics" }, periodSeconds: 10 },
                securityContext: runtimeContainerSecurity(),
                resources: { requests: { cpu: "10m", memory: "48Mi" }, limits: { cpu: "200m", memory: "128Mi" } },
                volumeMounts: [...parts.volumeMounts, { name: "gpu-sim-state", mountPath: GPU_SIM_TOOLS_DIR, readOnly: true }],
              }],
              // Read-only view of the device plugin's GPU state (the node-agent namespace allows hostPath).
              volumes: [...parts.volumes, { name: "gpu-sim-state", hostPath: { path: GPU_SIM_TOOLS_DIR, type: "DirectoryOrCreate" } }],
            },
          },
        },
      }, { parent: this });
    }
    new k8s.core.v1.Service(`${name}-metrics`, {
      metadata: { name: "gpk-gpu-telemetry", namespace, labels: { ...appLabel, [KIT_LABELS.managedBy]: MANAGED_BY } },
      spec: { clusterIP: "None", selector: appLabel, ports: [{ name: "metrics", port: TELEMETRY_PORT, targetPort: "metrics" }] },
    }, { parent: this });
  }
}
