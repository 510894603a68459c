/**
 * What the stacks render for observability: the dashboards built with Grafana's SDK as
 * sidecar ConfigMaps, and the piece the serving autoscaler needs, prometheus-adapter by
 * default or a KEDA ScaledObject (checked against the KEDA v2.20.2 CRD) in place of the HPA.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { renderStack, type RenderedStack } from "../../cli/render";
import { validateResources } from "../../cli/render/validate";
import { dashboardQueries, kitDashboards } from "../../components/dashboards";
import { CHARTS } from "../../components/pins";
import { DCGM_METRICS, EXTENDER_METRICS, SERVING_METRICS, VLLM_METRICS } from "../../gpu/metrics";
import { REPO_ROOT, runGpk } from "../cli/run-gpk";
import { ofType } from "./helpers";

function stackCopy(edit: (config: Record<string, any>) => void): string {
  const doc = parse(fs.readFileSync(path.join(REPO_ROOT, "stacks", "Pulumi.local.yaml"), "utf8"));
  edit(doc.config);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gpk-render-obs-"));
  fs.writeFileSync(path.join(dir, "Pulumi.local.yaml"), stringify(doc));
  return dir;
}

let prod: RenderedStack;
/** The KEDA variant renders in its own process (Pulumi's mock runtime is one stack per process). */
let keda: RenderedStack;
beforeAll(async () => {
  prod = await renderStack("prod");
  const run = runGpk(["preview", "local", "--json", "--no-policies", "--stacks-dir", stackCopy((c) => (c["gpk:telemetry"] = { servingMetrics: { source: "keda" } }))]);
  expect(run.status, run.stderr).toBe(0);
  keda = JSON.parse(run.stdout) as RenderedStack;
});

describe("dashboards", () => {
  it("ship as ConfigMaps with the Grafana sidecar's label, one per dashboard, valid dashboard JSON", () => {
    const maps = ofType(prod, "kubernetes:core/v1:ConfigMap").filter((r) => r.name.startsWith("gpk-dashboards-"));
    expect(maps.map((m) => (m.inputs as any).metadata.name).sort()).toEqual(["gpk-gpu-fleet-dashboard", "gpk-placement-dashboard", "gpk-serving-dashboard"]);
    for (const m of maps) {
      const inputs = m.inputs as any;
      expect(inputs.metadata).toMatchObject({ namespace: "gpk-system", labels: { grafana_dashboard: "1" } });
      const [file, json] = Object.entries(inputs.data as Record<string, string>)[0]!;
      const dashboard = JSON.parse(json);
      expect(file).toBe(`${dashboard.uid}.json`);
      expect(dashboard).toMatchObject({ schemaVersion: expect.any(Number), templating: { list: [expect.objectContaining({ name: "datasource", type: "datasource" })] } });
      for (const panel of dashboard.panels.filter((p: any) => p.type !== "row")) {
        expect(panel.datasource).toEqual({ type: "prometheus", uid: "${datasource}" });
        expect(panel.targets.length).toBeGreaterThan(0);
      }
    }
    expect(validateResources(maps).schemaErrors).toEqual([]);
  });

  it("query only metric names the exporters register", () => {
    const known = new Set<string>([...Object.values(DCGM_METRICS), ...Object.values(VLLM_METRICS), ...Object.values(EXTENDER_METRICS), ...Object.values(SERVING_METRICS)]);
    for (const built of Object.values(kitDashboards())) {
      for (const { panel, expr } of dashboardQueries(built)) {
        const names = [...expr.matchAll(/\b(DCGM_FI_[A-Z_]+|vllm:[a-z_:]+|gpk_[a-z_]+)\b/g)].map((m) => m[1]!.replace(/_bucket$/, ""));
        expect(names.length, panel).toBeGreaterThan(0);
        for (const name of names) expect(known, `${panel}: ${name}`).toContain(name);
      }
    }
  });
});

describe("the serving autoscaler's metric source", () => {
  it("is prometheus-adapter by default, serving only vllm:num_requests_waiting from the monitoring namespace's Prometheus", () => {
    const [release] = ofType(prod, "kubernetes:helm.sh/v3:Release").filter((r) => r.name === "gpk-prometheus-adapter");
    expect(release!.inputs).toMatchObject({ chart: "prometheus-adapter", version: CHARTS.prometheusAdapter.version, namespace: "gpk-system" });
    const values = (release!.inputs as any).values;
    expect(values.prometheus).toEqual({ url: "http://prometheus-operated.monitoring.svc", port: 9090, path: "" });
    expect(values.rules).toMatchObject({ default: false, custom: [{ name: { as: "vllm:num_requests_waiting" } }] });
    expect(ofType(prod, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler").length).toBeGreaterThan(0);
  });

  it("with keda: a ScaledObject valid against the KEDA CRD in place of each HPA, querying the endpoint's pods", () => {
    expect(ofType(keda, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler")).toEqual([]);
    expect(keda.resources.filter((r) => r.name === "gpk-prometheus-adapter")).toEqual([]);
    // preview --json leaves out `custom`; every Kubernetes object is one.
    const scaled = ofType(keda, "kubernetes:keda.sh/v1alpha1:ScaledObject").map((r) => ({ ...r, custom: true }));
    expect(scaled).toHaveLength(1);
    const spec = (scaled[0]!.inputs as any).spec;
    expect(spec).toMatchObject({ scaleTargetRef: { name: "chat" }, minReplicaCount: 1, maxReplicaCount: 2 });
    expect(spec.triggers).toEqual([{
      type: "prometheus", metricType: "AverageValue",
      metadata: { serverAddress: "http://prometheus-operated.monitoring.svc:9090", query: 'sum(vllm:num_requests_waiting{namespace="team-b",pod=~"chat-[a-z0-9]+-[a-z0-9]+"})', threshold: "8" },
    }]);
    const report = validateResources(scaled);
    expect(report).toMatchObject({ schemaErrors: [], unvalidatedKinds: [], validatedObjects: 1 });
    const broken = structuredClone(scaled[0]!);
    (broken.inputs as any).spec.triggers = "prometheus";
    expect(validateResources([broken]).schemaErrors.map((e) => e.path)).toEqual(["spec.triggers"]);
  });
});
