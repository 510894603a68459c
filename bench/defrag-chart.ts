/**
 * The chart of `bench:defrag` (docs/defrag/p99-large-pods.svg), rendered with echarts on the
 * server (SVG, no browser): the p99 queueing delay of the ≥ 4-GPU pods per offered load, one
 * bar per defragmenter, under the bench's placement policy.
 */
import * as echarts from "echarts";

export interface DefragChartRow {
  load: number;
  defrag: string;
  p99Large: number;
}

const COLORS: Record<string, string> = { none: "#8c8c8c", "high-node-utilization": "#1f77b4", gpk: "#d62728" };

export function defragChart(rows: readonly DefragChartRow[], modes: readonly string[], caption: string): string {
  const loads = [...new Set(rows.map((r) => r.load))];
  const chart = echarts.init(null, null, { renderer: "svg", ssr: true, width: 640, height: 320 });
  try {
    chart.setOption({
      animation: false,
      backgroundColor: "#fff",
      title: { text: caption, left: "center", top: 6, textStyle: { fontSize: 13, fontWeight: "normal" } },
      legend: { bottom: 4, data: [...modes] },
      grid: { left: 60, right: 20, top: 40, bottom: 56 },
      xAxis: { type: "category", data: loads.map((l) => `load ${l}`) },
      yAxis: { type: "value" },
      series: modes.map((mode) => ({
        name: mode,
        type: "bar",
        itemStyle: { color: COLORS[mode] },
        data: loads.map((load) => Math.round((rows.find((r) => r.load === load && r.defrag === mode)?.p99Large ?? 0) * 10) / 10),
      })),
    });
    return `${chart.renderToSVGString()}\n`;
  } finally {
    chart.dispose();
  }
}
