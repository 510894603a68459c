/**
 * Grafana dashboards as code, built with Grafana's own typed builders
 * (@grafana/grafana-foundation-sdk, Apache-2.0), and `gpk:index:GrafanaDashboards`, which ships
 * each one as a ConfigMap the Grafana dashboard sidecar loads (kube-prometheus-stack's
 * `sidecar.dashboards`: label `grafana_dashboard: "1"`). Every query reads its metric names
 * from gpu/metrics.ts, the names the exporters register and the alert rules use.
 *
 * Queries use Grafana's `$__rate_interval` for rate windows; `dashboardQueries` lists them
 * with the macro, for anyone (the tests) who evaluates them against Prometheus directly.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { DashboardBuilder, DatasourceVariableBuilder, RowBuilder } from "@grafana/grafana-foundation-sdk/dashboard";
import { DataqueryBuilder } from "@grafana/grafana-foundation-sdk/prometheus";
import { PanelBuilder } from "@grafana/grafana-foundation-sdk/timeseries";
import { KIT_LABELS, MANAGED_BY, SYSTEM_NAMESPACE } from "../gpu";
import { CLOCK_EVENT_BITS, DCGM_GPU_LABELS, DCGM_METRICS as D, EXTENDER_METRICS as E, SERVING_METRICS as S, VLLM_METRICS as V } from "../gpu/metrics";

export const DASHBOARD_DEFAULTS = {
  /** The label kube-prometheus-stack's Grafana sidecar looks for (`sidecar.dashboards.label`/`labelValue`). */
  label: { key: "grafana_dashboard", value: "1" },
  /**
   * Namespace of the ConfigMaps: the kit's own system namespace, which always exists. The
   * sidecar must search it (`sidecar.dashboards.searchNamespace: ALL`, or list it).
   */
  namespace: SYSTEM_NAMESPACE,
} as const;

const RATE = "$__rate_interval";
const DATASOURCE = { type: "prometheus", uid: "${datasource}" };

interface PanelSpec {
  title: string;
  unit: string;
  /** [expr, legend] per query. */
  queries: [string, string][];
  description?: string;
}

/** The bit of the clock-event mask, 0 or 1 per GPU (`floor(mask / bit) % 2`). */
function clockBit(bit: number): string {
  return `floor(${D.clockEventReasons} / ${bit}) % 2`;
}

/** A rate that reads 0, not "no data", for series that have not counted anything yet. */
function rateOrZero(selector: string, by: string, all: string): string {
  return `sum by (${by}) (rate(${selector}[${RATE}])) or sum by (${by}) (rate(${all}[${RATE}])) * 0`;
}

function quantiles(histogram: string, by: string): [string, string][] {
  return [0.5, 0.99].map((q) => [`histogram_quantile(${q}, sum by (le, ${by}) (rate(${histogram}_bucket[${RATE}])))`, `p${q * 100} {{${by}}}`]);
}

const GPU_FLEET: PanelSpec[] = [
  { title: "GPU temperature", unit: "celsius", queries: [[`max by (${DCGM_GPU_LABELS}) (${D.gpuTemp})`, "{{Hostname}} GPU {{gpu}}"]] },
  {
    title: "Power draw against the limit", unit: "percentunit",
    queries: [[`sum by (${DCGM_GPU_LABELS}) (${D.powerUsage}) / sum by (${DCGM_GPU_LABELS}) (${D.powerLimit})`, "{{Hostname}} GPU {{gpu}}"]],
  },
  { title: "SM clock (MHz)", unit: "none", queries: [[`avg by (${DCGM_GPU_LABELS}) (${D.smClock})`, "{{Hostname}} GPU {{gpu}}"]] },
  {
    title: "GPUs held back: power cap vs heat", unit: "none",
    description: "Clock-event reasons decoded from the NVML mask: power cap (0x4) against software or hardware thermal slowdown (0x20, 0x40).",
    queries: [
      [`sum by (Hostname) (${clockBit(CLOCK_EVENT_BITS.powerCap)})`, "{{Hostname}} power cap"],
      [`sum by (Hostname) ((${clockBit(CLOCK_EVENT_BITS.swThermal)}) + (${clockBit(CLOCK_EVENT_BITS.hwThermal)}) > bool 0)`, "{{Hostname}} thermal"],
    ],
  },
  {
    title: "Time throttled", unit: "percentunit",
    queries: [
      [`sum by (${DCGM_GPU_LABELS}) (rate(${D.powerViolation}[${RATE}])) / 1e6`, "{{Hostname}} GPU {{gpu}} power"],
      [`sum by (${DCGM_GPU_LABELS}) (rate(${D.thermalViolation}[${RATE}])) / 1e6`, "{{Hostname}} GPU {{gpu}} thermal"],
    ],
  },
  { title: "Last XID error", unit: "none", queries: [[`max by (${DCGM_GPU_LABELS}) (${D.xidErrors})`, "{{Hostname}} GPU {{gpu}}"]] },
];

const SERVING: PanelSpec[] = [
  { title: "Time to first token", unit: "s", queries: quantiles(V.timeToFirstToken, "model_name") },
  { title: "Inter-token latency", unit: "s", queries: quantiles(V.interTokenLatency, "model_name") },
  {
    title: "Queue depth", unit: "none",
    queries: [[`sum by (model_name) (${V.waiting})`, "waiting {{model_name}}"], [`sum by (model_name) (${V.running})`, "running {{model_name}}"]],
  },
  { title: "KV-cache usage", unit: "percentunit", queries: [[`max by (model_name) (${V.kvCacheUsage})`, "{{model_name}}"]] },
  { title: "Preemptions", unit: "reqps", queries: [[`sum by (model_name) (rate(${V.preemptions}[${RATE}]))`, "{{model_name}}"]] },
  { title: "Requests shed with 429", unit: "reqps", queries: [[`sum by (model_name) (rate(${S.rejected}[${RATE}]))`, "{{model_name}}"]] },
];

const PLACEMENT: PanelSpec[] = [
  {
    title: "GPUs by state", unit: "none",
    description: "Allocated and idle GPUs per pool; of the idle, those fragmented for the observed workload (FGD's measure) and those stranded by CPU (they may overlap).",
    queries: [[`sum by (pool, state) (${E.poolGpus})`, "{{pool}} {{state}}"]],
  },
  {
    title: "Idle GPU that is fragmented", unit: "percentunit",
    queries: [[`sum by (pool) (${E.poolGpus}{state="fragmented"}) / sum by (pool) (${E.poolGpus}{state="idle"})`, "{{pool}}"]],
  },
  { title: "Extender latency", unit: "s", queries: quantiles(E.duration, "verb") },
  { title: "Extender errors", unit: "reqps", queries: [[rateOrZero(`${E.requests}{code!="200"}`, "verb", E.requests), "{{verb}}"]] },
];

function dashboard(uid: string, title: string, panels: PanelSpec[]): Record<string, unknown> {
  const builder = new DashboardBuilder(title)
    .uid(uid)
    .tags(["gpk"])
    .refresh("30s")
    .time({ from: "now-3h", to: "now" })
    .timezone("browser")
    .withVariable(new DatasourceVariableBuilder("datasource").label("Prometheus").type("prometheus"))
    .withRow(new RowBuilder(title));
  panels.forEach((p, i) => {
    const panel = new PanelBuilder()
      .title(p.title)
      .unit(p.unit)
      .datasource(DATASOURCE)
      .gridPos({ x: (i % 2) * 12, y: 1 + Math.floor(i / 2) * 8, w: 12, h: 8 });
    if (p.description) panel.description(p.description);
    p.queries.forEach(([expr, legend], q) => panel.withTarget(new DataqueryBuilder().expr(expr).legendFormat(legend).refId(String.fromCharCode(65 + q)).datasource(DATASOURCE)));
    builder.withPanel(panel);
  });
  return builder.build() as unknown as Record<string, unknown>;
}

/** The kit's dashboards, by uid. */
export function kitDashboards(): Record<string, Record<string, unknown>> {
  return {
    "gpk-gpu-fleet": dashboard("gpk-gpu-fleet", "GPU fleet", GPU_FLEET),
    "gpk-serving": dashboard("gpk-serving", "Serving SLOs", SERVING),
    "gpk-placement": dashboard("gpk-placement", "GPU placement", PLACEMENT),
  };
}

/** Every query of a built dashboard: panel title and PromQL (Grafana macros left in). */
export function dashboardQueries(built: Record<string, unknown>): { panel: string; expr: string }[] {
  const panels = (built.panels ?? []) as { type: string; title: string; targets?: { expr?: string }[] }[];
  return panels.filter((p) => p.type !== "row").flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: String(t.expr) })));
}

export interface GrafanaDashboardsArgs {
  /** Namespace of the ConfigMaps. Default `gpk-system`. */
  namespace?: string;
  /** Label the Grafana sidecar selects. Default `grafana_dashboard: "1"`. */
  label?: { key: string; value: string };
}

/** The ConfigMap of one dashboard. */
export function dashboardConfigMap(uid: string, built: Record<string, unknown>, args: GrafanaDashboardsArgs = {}) {
  const label = args.label ?? DASHBOARD_DEFAULTS.label;
  return {
    metadata: {
      name: `${uid}-dashboard`,
      namespace: args.namespace ?? DASHBOARD_DEFAULTS.namespace,
      labels: { [label.key]: label.value, [KIT_LABELS.managedBy]: MANAGED_BY },
    },
    data: { [`${uid}.json`]: JSON.stringify(built) },
  };
}

export class GrafanaDashboards extends pulumi.ComponentResource {
  public readonly uids: string[];

  constructor(name: string, args: GrafanaDashboardsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("gpk:index:GrafanaDashboards", name, {}, opts);
    const dashboards = kitDashboards();
    this.uids = Object.keys(dashboards);
    for (const [uid, built] of Object.entries(dashboards)) {
      new k8s.core.v1.ConfigMap(`${name}-${uid}`, dashboardConfigMap(uid, built, args), { parent: this });
    }
    this.registerOutputs({ uids: this.uids, namespace: args.namespace ?? DASHBOARD_DEFAULTS.namespace });
  }
}
