/**
 * `gpk plan serving --html`: one self-contained page (no network: echarts' own build is inlined)
 * with the candidates' rate vs p99 TTFT curves, the Pareto chart of cost against p99 TTFT at
 * peak, and the recommendation. The charts render in the browser with echarts' SVG renderer.
 * The page records its own script errors and console errors in `data-errors` on <body> and the
 * charts it drew in `data-charts`, which the report's browser test reads.
 */
import * as fs from "node:fs";
import type { Plan, PlanCandidate } from "../../runtime/serving/capacity/plan";
import { formatSlo, type Slo } from "../../runtime/serving/capacity/slo";
import { PRICING_SOURCE } from "../../gpu/pricing";

export interface ReportContext {
  model: string;
  peakRequestsPerSecond: number;
  slo: Slo;
  headroomPercent: number;
  seed: number;
  stack?: string;
  entry?: string;
}

const escapeHtml = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
/** JSON safe inside a <script> element. */
const scriptJson = (v: unknown) => JSON.stringify(v).replace(/</g, "\\u003c");

function echartsSource(): string {
  return fs.readFileSync(require.resolve("echarts/dist/echarts.min.js"), "utf8");
}

function label(c: Pick<PlanCandidate, "gpu" | "tensorParallelSize" | "maxNumSeqs" | "maxNumBatchedTokens">): string {
  return `${c.gpu} TP${c.tensorParallelSize} ${c.maxNumSeqs}/${c.maxNumBatchedTokens}`;
}

function recommendation(plan: Plan, ctx: ReportContext): string {
  const b = plan.best;
  if (!b) return `<p class="miss">No candidate meets ${escapeHtml(formatSlo(ctx.slo))} at any rate. Loosen the SLO, or try other GPUs, TP sizes or engine settings.</p>`;
  return `<p class="best"><strong>${b.replicas} × ${escapeHtml(b.gpu)}, tensor parallel ${b.tensorParallelSize}</strong>, max-num-seqs ${b.maxNumSeqs},
 max-num-batched-tokens ${b.maxNumBatchedTokens}, on ${b.nodes} × ${escapeHtml(b.instanceType)}: <strong>$${b.dollarsPerHour!.toFixed(2)}/h</strong>
 ($${b.dollarsPerMillionOutputTokens!.toFixed(2)} per million output tokens). One replica sustains ${b.maxRatePerReplica} req/s within the SLO;
 at the peak each carries ${(ctx.peakRequestsPerSecond / b.replicas!).toFixed(3)} req/s with p99 TTFT ${Math.round(b.ttftP99MsAtPeak!)} ms.</p>`;
}

function rows(plan: Plan): string {
  return plan.candidates.slice(0, 25).map((c, i) => `<tr${c === plan.best ? ' class="best"' : ""}><td>${i + 1}</td><td>${escapeHtml(c.gpu)}</td><td>${escapeHtml(c.instanceType)}</td>` +
    `<td>${c.tensorParallelSize}</td><td>${c.maxNumSeqs}</td><td>${c.maxNumBatchedTokens}</td><td>${c.maxRatePerReplica}</td><td>${c.replicas ?? "–"}</td>` +
    `<td>${c.dollarsPerHour === null ? "–" : c.dollarsPerHour.toFixed(2)}</td><td>${c.ttftP99MsAtPeak === null ? "–" : Math.round(c.ttftP99MsAtPeak)}</td><td>${c.meetsSlo ? "met" : "missed"}</td></tr>`).join("\n");
}

export function planReportHtml(plan: Plan, ctx: ReportContext): string {
  const curves = Object.entries(plan.curves)
    .filter(([, probes]) => probes.length > 0)
    .map(([id, probes]) => ({ id, points: probes.map((p) => [p.rate, p.ttftP99Ms, p.meets ? 1 : 0]) }));
  const bestId = plan.best ? `${plan.best.gpu}/tp${plan.best.tensorParallelSize}/seqs${plan.best.maxNumSeqs}/tokens${plan.best.maxNumBatchedTokens}` : null;
  const meeting = plan.candidates.filter((c) => c.meetsSlo).map((c) => ({ name: `${label(c)} on ${c.instanceType}`, value: [c.dollarsPerHour, c.ttftP99MsAtPeak] }));
  const pareto = plan.pareto.map((c) => ({ name: `${label(c)} on ${c.instanceType}`, value: [c.dollarsPerHour, c.ttftP99MsAtPeak] }));
  const data = { curves, bestId, meeting, pareto, best: plan.best ? [plan.best.dollarsPerHour, plan.best.ttftP99MsAtPeak] : null, ttftSlo: ctx.slo.ttftP99Ms ?? null };
  const title = `Serving plan: ${ctx.model} at ${ctx.peakRequestsPerSecond} req/s${ctx.stack ? ` (stack ${ctx.stack}, entry ${ctx.entry})` : ""}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(title)}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 24px; color: #222; max-width: 1100px; }
h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 28px; }
.chart { width: 1060px; height: 420px; border: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 13px; } td, th { padding: 3px 8px; border-bottom: 1px solid #eee; text-align: right; }
td:nth-child(2), td:nth-child(3) { text-align: left; } tr.best { background: #e8f4ea; font-weight: bold; }
p.best { background: #e8f4ea; padding: 10px; } p.miss { background: #fbeaea; padding: 10px; } .meta { color: #666; font-size: 13px; }
</style>
</head>
<body data-charts="0" data-errors="">
<h1>${escapeHtml(title)}</h1>
<p class="meta">SLO ${escapeHtml(formatSlo(ctx.slo))}; headroom ${ctx.headroomPercent}%; seed ${ctx.seed}; on-demand prices, ${PRICING_SOURCE.region},
from ${PRICING_SOURCE.repo} ${PRICING_SOURCE.file} (${PRICING_SOURCE.commit.slice(0, 7)}, ${PRICING_SOURCE.date}); latencies from replays on the virtual clock (gpk serve --replay).</p>
<h2>Recommendation</h2>
${recommendation(plan, ctx)}
<h2>Rate per replica vs p99 TTFT</h2>
<div id="curves" class="chart"></div>
<h2>Cost vs p99 TTFT at peak (Pareto set)</h2>
<div id="pareto" class="chart"></div>
<h2>Candidates (${Math.min(25, plan.candidates.length)} of ${plan.candidates.length}, ranked)</h2>
<table><thead><tr><th>#</th><th>gpu</th><th>instance</th><th>tp</th><th>seqs</th><th>tokens</th><th>max req/s</th><th>replicas</th><th>$/h</th><th>p99 TTFT ms</th><th>SLO</th></tr></thead>
<tbody>
${rows(plan)}
</tbody></table>
<script>
(function () {
  var errors = [];
  function record(msg) { errors.push(String(msg)); document.body.setAttribute("data-errors", errors.join(" | ")); }
  window.addEventListener("error", function (e) { record(e.message); });
  var consoleError = console.error;
  console.error = function () { record(Array.prototype.join.call(arguments, " ")); consoleError.apply(console, arguments); };
  window.__gpkRecord = record;
})();
</script>
<script>${echartsSource()}</script>
<script type="application/json" id="plan-data">${scriptJson(data)}</script>
<script>
(function () {
  var data = JSON.parse(document.getElementById("plan-data").textContent);
  var drawn = 0;
  function draw(id, option) {
    var chart = echarts.init(document.getElementById(id), null, { renderer: "svg" });
    chart.setOption(Object.assign({ animation: false }, option));
    drawn++;
    document.body.setAttribute("data-charts", String(drawn));
  }
  try {
    var series = data.curves.map(function (c) {
      var best = c.id === data.bestId;
      return { name: c.id, type: "line", showSymbol: true, symbolSize: 5, data: c.points.map(function (p) { return [p[0], p[1]]; }),
        lineStyle: { width: best ? 4 : 1, opacity: best ? 1 : 0.5 }, z: best ? 10 : 2 };
    });
    if (data.ttftSlo !== null && series.length > 0) series[0].markLine = { silent: true, symbol: "none", data: [{ yAxis: data.ttftSlo, name: "SLO" }], label: { formatter: "p99 TTFT SLO" }, lineStyle: { color: "#d62728", type: "dashed" } };
    draw("curves", {
      tooltip: { trigger: "item", formatter: function (p) { return p.seriesName + "<br>" + p.value[0] + " req/s: p99 TTFT " + Math.round(p.value[1]) + " ms"; } },
      legend: { type: "scroll", bottom: 0 },
      grid: { left: 70, right: 30, top: 20, bottom: 70 },
      xAxis: { type: "value", name: "request rate per replica (req/s)", nameLocation: "middle", nameGap: 28 },
      yAxis: { type: "log", name: "p99 TTFT (ms)" },
      series: series,
    });
    draw("pareto", {
      tooltip: { trigger: "item", formatter: function (p) { return p.name + "<br>$" + p.value[0] + "/h, p99 TTFT " + Math.round(p.value[1]) + " ms"; } },
      legend: { bottom: 0, data: ["meets the SLO", "Pareto set", "best"] },
      grid: { left: 70, right: 30, top: 20, bottom: 60 },
      xAxis: { type: "value", name: "$ per hour at peak", nameLocation: "middle", nameGap: 28, scale: true },
      yAxis: { type: "value", name: "p99 TTFT at peak (ms)", scale: true },
      series: [
        { name: "meets the SLO", type: "scatter", symbolSize: 7, itemStyle: { color: "#9ecae1" }, data: data.meeting },
        { name: "Pareto set", type: "line", step: "end", symbolSize: 9, itemStyle: { color: "#ff7f0e" }, data: data.pareto },
        { name: "best", type: "scatter", symbol: "diamond", symbolSize: 16, itemStyle: { color: "#2ca02c" }, data: data.best ? [data.best] : [] },
      ],
    });
  } catch (e) {
    window.__gpkRecord(e && e.stack ? e.stack : e);
  }
})();
</script>
</body>
</html>
`;
}
