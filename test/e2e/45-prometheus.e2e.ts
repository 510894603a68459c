/**
 * The kit's alert rules and dashboards, evaluated by a real Prometheus (Debian's `prometheus`
 * package, 2.42, with its promtool; installed by `gpk tools system`):
 * - `promtool check rules` and `promtool test rules` over the PrometheusRule the local stack
 *   renders: each alert fires at its threshold and not just below, only after its `for`, with
 *   the labels and annotation text its runbook names;
 * - a Prometheus on loopback scraping `gpk telemetry --source sim`, `gpk serve` under a short
 *   load and `gpk extender`: every dashboard query returns data, and the temperature alert
 *   reaches `firing` when one simulated GPU loses its cooling.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { dashboardQueries, kitDashboards } from "../../components/dashboards";
import { ALERT_RATE_WINDOW, gpuAlertRules } from "../../components/gpu-telemetry";
import { adapterQuery, servingWaitingQuery } from "../../components/serving-metrics";
import { freePort } from "../../cli/local/binaries/processes";
import { DCGM_METRICS, VLLM_METRICS } from "../../gpu/metrics";
import { k8sNode, k8sPod, WORKLOAD } from "../scheduler-extender/fixtures";
import { GPK, REPO_ROOT, gpk } from "./cluster";

const report = (line: string) => process.stderr.write(`[prometheus] ${line}\n`);
const SERVING_POD = { namespace: "team-b", pod: "chat-5d8f9c7b4-x2k9p" };
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gpk-e2e-prometheus-"));

/** The PrometheusRule spec the local stack renders (real CLI, mock runtime). */
function renderedRules(): { groups: any[] } {
  const run = gpk(["preview", "local", "--json", "--no-policies"]);
  expect(run.status, run.stderr).toBe(0);
  const rules = JSON.parse(run.stdout).resources.filter((r: any) => r.type === "kubernetes:monitoring.coreos.com/v1:PrometheusRule");
  expect(rules).toHaveLength(1);
  return rules[0].inputs.spec;
}

function promtool(args: string[]) {
  const r = spawnSync("promtool", args, { cwd: dir, encoding: "utf8" });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

const GPU = { Hostname: "n1", gpu: "0", UUID: "GPU-a", modelName: "NVIDIA H100 80GB HBM3" };
const series = (metric: string, labels: Record<string, string> = GPU) => `${metric}{${Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(",")}}`;
const MINUTES = (d: string) => Number(/^(\d+)m$/.exec(d)?.[1] ?? NaN);

/**
 * One promtool case per rule: the series just below the threshold never fires; at (or above)
 * it the alert is silent until its `for` has passed, then fires with these labels and text.
 */
function unitTests(rules: any[], maxGpuTempC: number) {
  const byName = new Map(rules.map((r) => [r.alert, r]));
  const cases: Record<string, { below: string; above: string; value: string; summary: string }> = {
    GpuTemperatureHigh: { below: `${maxGpuTempC - 1}x40`, above: `${maxGpuTempC}x40`, value: String(maxGpuTempC), summary: `GPU 0 on n1 is at ${maxGpuTempC} °C (limit ${maxGpuTempC} °C).` },
    // Counters of µs throttled: 0.4 and 0.6 s per s, against "more than half the time".
    GpuPowerCapSustained: { below: "0+24000000x40", above: "0+36000000x40", value: "", summary: "GPU 0 on n1 has been power-capped more than half the time; its clocks are reduced." },
    GpuThermalThrottling: { below: "5x40", above: "0+1000x40", value: "", summary: "GPU 0 on n1 is slowing its clocks for heat: check cooling." },
    GpuXidError: { below: "0x40", above: "79x40", value: "79", summary: "GPU 0 on n1 reported XID 79." },
  };
  const metricOf: Record<string, string> = {
    GpuTemperatureHigh: DCGM_METRICS.gpuTemp, GpuPowerCapSustained: DCGM_METRICS.powerViolation,
    GpuThermalThrottling: DCGM_METRICS.thermalViolation, GpuXidError: DCGM_METRICS.xidErrors,
  };
  expect([...byName.keys()].sort(), "every rendered rule has a promtool case").toEqual(Object.keys(cases).sort());
  return Object.entries(cases).flatMap(([alert, c]) => {
    const rule = byName.get(alert)!;
    const forMin = MINUTES(rule.for);
    // The condition holds once the rate window is full (the rate rules) or at once.
    const firingAt = forMin + MINUTES(ALERT_RATE_WINDOW) + 1;
    const labels = { ...GPU, severity: rule.labels.severity };
    return [
      { interval: "1m", input_series: [{ series: series(metricOf[alert]!), values: c.below }], alert_rule_test: [{ eval_time: `${firingAt + 10}m`, alertname: alert, exp_alerts: [] }] },
      {
        interval: "1m",
        input_series: [{ series: series(metricOf[alert]!), values: c.above }],
        alert_rule_test: [
          ...(forMin > 0 ? [{ eval_time: `${forMin - 1}m`, alertname: alert, exp_alerts: [] }] : []),
          { eval_time: `${firingAt}m`, alertname: alert, exp_alerts: [{ exp_labels: labels, exp_annotations: { summary: c.summary } }] },
        ],
      },
    ];
  });
}

describe("the rendered alert rules under promtool", () => {
  it("pass `promtool check rules` and fire at their thresholds, after their `for`, with their labels and text", () => {
    const spec = renderedRules();
    fs.writeFileSync(path.join(dir, "rules.yaml"), stringify(spec));
    const check = promtool(["check", "rules", "rules.yaml"]);
    expect(check.status, check.out).toBe(0);
    expect(check.out).toContain("SUCCESS: 4 rules found");
    const rules = spec.groups.flatMap((g: any) => g.rules);
    fs.writeFileSync(path.join(dir, "rules.test.yaml"), stringify({ rule_files: ["rules.yaml"], evaluation_interval: "1m", tests: unitTests(rules, 85) }));
    const test = promtool(["test", "rules", "rules.test.yaml"]);
    expect(test.status, test.out).toBe(0);
    expect(test.out).toContain("SUCCESS");
    // The same cases catch a rule that fires early: drop the temperature rule's `for`.
    const early = structuredClone(spec);
    early.groups[0].rules.find((r: any) => r.alert === "GpuTemperatureHigh").for = "0m";
    fs.writeFileSync(path.join(dir, "rules.yaml"), stringify(early));
    expect(promtool(["test", "rules", "rules.test.yaml"]).status).not.toBe(0);
  });
});

interface Proc {
  child: ChildProcess;
  log: string;
}

function startProcess(name: string, file: string, args: string[], env: Record<string, string> = {}): Proc {
  const log = path.join(dir, `${name}.log`);
  const fd = fs.openSync(log, "a");
  const child = spawn(file, args, { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ["ignore", fd, fd] });
  fs.closeSync(fd);
  return { child, log };
}

async function waitHttp(url: string, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`${what} did not answer ${url} within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe("a real Prometheus scraping the kit's exporters", () => {
  const procs: Proc[] = [];
  const ports = { prometheus: 0, telemetry: 0, serve: 0, extender: 0 };
  let prom: string;

  async function query(expr: string): Promise<{ status: string; data: { result: unknown[] }; error?: string }> {
    const res = await fetch(`${prom}/api/v1/query?${new URLSearchParams({ query: expr })}`);
    return (await res.json()) as any;
  }

  beforeAll(async () => {
    for (const key of Object.keys(ports) as (keyof typeof ports)[]) ports[key] = await freePort();
    // The stack's rules with a short `for`, so the scenario fits a test (gpk:telemetry.alertFor sets it).
    fs.writeFileSync(path.join(dir, "live-rules.yaml"), stringify({ groups: gpuAlertRules({ maxGpuTempC: 85, alertFor: "15s" }) }));
    const snapshot = path.join(dir, "snapshot.json");
    fs.writeFileSync(snapshot, JSON.stringify({ nodes: [k8sNode("n0", { gpus: 8 }), k8sNode("n1", { gpus: 8, cpu: "4" })], pods: [k8sPod("b0", { gpus: 3, node: "n0" })], workload: WORKLOAD }));
    procs.push(
      startProcess("telemetry", process.execPath, [GPK, "telemetry", "--source", "sim", "--host", "127.0.0.1", "--port", String(ports.telemetry), "--hostname", "sim-node"], { GPK_SIM_GPUS: "2" }),
      startProcess("serve", process.execPath, [GPK, "serve", "--host", "127.0.0.1", "--port", String(ports.serve), "--model", "llama-3-8b", "--max-num-seqs", "4", "--max-waiting", "4"]),
      startProcess("extender", process.execPath, [GPK, "extender", "--host", "127.0.0.1", "--port", String(ports.extender), "--snapshot", snapshot]),
    );
    // The serving target carries the labels Kubernetes service discovery would give a pod of the local stack's "chat" endpoint.
    const job = (name: string, port: number, labels: Record<string, string> = {}) => ({ job_name: name, scrape_interval: "1s", static_configs: [{ targets: [`127.0.0.1:${port}`], labels }] });
    fs.writeFileSync(path.join(dir, "prometheus.yml"), stringify({
      global: { scrape_interval: "1s", evaluation_interval: "1s" },
      rule_files: [path.join(dir, "live-rules.yaml")],
      scrape_configs: [job("telemetry", ports.telemetry), job("serve", ports.serve, SERVING_POD), job("extender", ports.extender)],
    }));
    procs.push(startProcess("prometheus", "prometheus", [
      `--config.file=${path.join(dir, "prometheus.yml")}`, `--storage.tsdb.path=${path.join(dir, "tsdb")}`,
      `--web.listen-address=127.0.0.1:${ports.prometheus}`,
    ]));
    prom = `http://127.0.0.1:${ports.prometheus}`;
    await waitHttp(`http://127.0.0.1:${ports.telemetry}/metrics`, "gpk telemetry");
    await waitHttp(`http://127.0.0.1:${ports.serve}/health`, "gpk serve");
    await waitHttp(`http://127.0.0.1:${ports.extender}/healthz`, "gpk extender");
    await waitHttp(`${prom}/-/ready`, "prometheus");

    // A short load: completions (some shed by the 4-deep queue), extender verbs, one bad request.
    const completion = () => fetch(`http://127.0.0.1:${ports.serve}/v1/completions`, {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "llama-3-8b", prompt: "hello", max_tokens: 64, ignore_eos: true }),
    }).then((r) => r.status);
    const statuses = await Promise.all(Array.from({ length: 24 }, completion));
    report(`serving load: ${statuses.filter((s) => s === 200).length} completed, ${statuses.filter((s) => s === 429).length} shed with 429`);
    const extender = (verb: string, body: unknown) => fetch(`http://127.0.0.1:${ports.extender}/${verb}`, { method: "POST", headers: { "content-type": "application/json" }, body: typeof body === "string" ? body : JSON.stringify(body) });
    for (let i = 0; i < 5; i++) {
      await extender("filter", { Pod: k8sPod(`p${i}`, { gpus: 1 }), NodeNames: ["n0", "n1"] });
      await extender("prioritize", { Pod: k8sPod(`p${i}`, { gpus: 1 }), NodeNames: ["n0", "n1"] });
    }
    await extender("filter", "{oops");
    // Enough scrapes for the rate windows below.
    await new Promise((r) => setTimeout(r, 12_000));
  });

  afterAll(async () => {
    for (const p of procs) p.child.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 500));
  });

  it("scrapes all three exporters", async () => {
    const up = await query("up");
    expect(up.status).toBe("success");
    const byJob = Object.fromEntries((up.data.result as any[]).map((r) => [r.metric.job, r.value[1]]));
    expect(byJob).toEqual({ telemetry: "1", serve: "1", extender: "1" });
  });

  it("returns data for every dashboard panel query", async () => {
    const empty: string[] = [];
    let count = 0;
    for (const [uid, built] of Object.entries(kitDashboards())) {
      for (const { panel, expr } of dashboardQueries(built)) {
        count++;
        // Grafana replaces $__rate_interval by at least four scrape intervals; 10s here.
        const result = await query(expr.replaceAll("$__rate_interval", "10s"));
        expect(result.status, `${uid} / ${panel}: ${expr}: ${result.error}`).toBe("success");
        if (result.data.result.length === 0) empty.push(`${uid} / ${panel}: ${expr}`);
      }
    }
    report(`${count} dashboard queries evaluated, ${count - empty.length} with data`);
    expect(empty).toEqual([]);
  });

  it("answers the autoscaler's queries (KEDA's trigger, prometheus-adapter's rule) with the queue gpk serve reports", async () => {
    const controller = new AbortController();
    const long = () => fetch(`http://127.0.0.1:${ports.serve}/v1/completions`, {
      method: "POST", headers: { "content-type": "application/json" }, signal: controller.signal,
      body: JSON.stringify({ model: "llama-3-8b", prompt: "hold", max_tokens: 4000, ignore_eos: true }),
    }).catch(() => undefined);
    const inFlight = Array.from({ length: 8 }, long); // more than the engine runs at once: some wait
    try {
      const direct = async () => {
        const text = await (await fetch(`http://127.0.0.1:${ports.serve}/metrics`)).text();
        return Number(new RegExp(`^${VLLM_METRICS.waiting}\\{[^}]*\\} (\\S+)$`, "m").exec(text)?.[1]);
      };
      const value = async (expr: string) => Number(((await query(expr)).data.result[0] as any)?.value?.[1]);
      const keda = servingWaitingQuery({ name: "chat" }, "team-b");
      const adapter = adapterQuery(`namespace="team-b",pod="${SERVING_POD.pod}"`, "pod");
      const deadline = Date.now() + 30_000;
      let seen = { direct: NaN, keda: NaN, adapter: NaN };
      while (Date.now() < deadline) {
        seen = { direct: await direct(), keda: await value(keda), adapter: await value(adapter) };
        if (seen.direct > 0 && seen.keda === seen.direct && seen.adapter === seen.direct) break;
        await new Promise((r) => setTimeout(r, 500));
      }
      report(`queue: gpk serve ${seen.direct}, KEDA trigger ${seen.keda} (${keda}), adapter ${seen.adapter}`);
      expect(seen.direct).toBeGreaterThan(0);
      expect(seen).toEqual({ direct: seen.direct, keda: seen.direct, adapter: seen.direct });
    } finally {
      controller.abort();
      await Promise.all(inFlight);
    }
  });

  it("fires the temperature alert when a simulated GPU loses its cooling under load", async () => {
    const post = (p: string, body: unknown) => fetch(`http://127.0.0.1:${ports.telemetry}${p}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    expect((await post("/sim/workload", { gpu: 0, utilization: 100, fbUsedMiB: 60000 })).status).toBe(200);
    expect((await post("/sim/cooling", { gpu: 0, airflow: 0.05, ambientC: 45 })).status).toBe(200);
    const started = Date.now();
    const deadline = started + 240_000;
    let state = "inactive";
    while (state !== "firing") {
      const alerts = ((await (await fetch(`${prom}/api/v1/alerts`)).json()) as any).data.alerts as any[];
      const temp = alerts.find((a) => a.labels.alertname === "GpuTemperatureHigh");
      state = temp?.state ?? "inactive";
      if (state === "firing") {
        expect(temp.labels).toMatchObject({ Hostname: "sim-node", gpu: "0", severity: "critical" });
        expect(temp.annotations.summary).toMatch(/^GPU 0 on sim-node is at \d+ °C \(limit 85 °C\)\.$/);
        expect(alerts.filter((a) => a.labels.alertname === "GpuTemperatureHigh" && a.labels.gpu === "1")).toEqual([]);
      }
      if (Date.now() > deadline) throw new Error(`GpuTemperatureHigh still ${state} after 240 s`);
      await new Promise((r) => setTimeout(r, 1000));
    }
    report(`GpuTemperatureHigh firing ${((Date.now() - started) / 1000).toFixed(0)} s after the cooling failure (for: 15s)`);
  });
});
