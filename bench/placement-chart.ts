/**
 * Charts of `bench:placement`, rendered with echarts on the server (SVG, no browser):
 * - `allocationChart`: GPU allocation vs arrived GPU request on one trace, one line per policy,
 *   the full range on the left and the saturated end (80-130% arrival) on the right;
 * - `boundsChart`: allocation at 130% per trace for the offline bound and the chosen policies,
 *   as grouped bars over a zoomed axis (the seed spread is in the tables, not drawn).
 */
import * as echarts from "echarts";

export interface Series {
  name: string;
  /** arrival % -> allocation %. */
  points: [number, number][];
}

const COLORS = ["#8c8c8c", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#d62728", "#111111", "#e377c2", "#17becf"];

/** Renders one option to an SVG string and frees the chart (without dispose the process does not exit). */
function render(option: echarts.EChartsOption, width: number, height: number): string {
  const chart = echarts.init(null, null, { renderer: "svg", ssr: true, width, height });
  try {
    chart.setOption({ animation: false, backgroundColor: "#fff", color: COLORS, ...option });
    return chart.renderToSVGString();
  } finally {
    chart.dispose();
  }
}

export function allocationChart(series: Series[], caption: string, highlight: readonly string[] = []): string {
  const panels = [
    { left: "6%", x: [0, 130], y: [0, 100], title: "full range" },
    { left: "56%", x: [80, 130], y: [80, 97], title: "saturation (zoom)" },
  ];
  return render(
    {
      title: [
        { text: caption, left: "center", top: 4, textStyle: { fontSize: 14, fontWeight: "normal" } },
        ...panels.map((p) => ({ text: p.title, left: `${parseFloat(p.left) + 19}%`, top: 34, textStyle: { fontSize: 12, fontWeight: "normal" as const } })),
      ],
      legend: { bottom: 4, data: series.map((s) => s.name) },
      grid: panels.map((p) => ({ left: p.left, width: "38%", top: 60, bottom: 80 })),
      xAxis: panels.map((p, i) => ({ type: "value", gridIndex: i, min: p.x[0], max: p.x[1], name: "arrived GPU request (% of capacity)", nameLocation: "middle", nameGap: 26 })),
      yAxis: panels.map((p, i) => ({ type: "value", gridIndex: i, min: p.y[0], max: p.y[1], name: i === 0 ? "allocated GPU (% of capacity)" : "", nameLocation: "middle", nameGap: 36 })),
      series: panels.flatMap((p, i) =>
        series.map((s) => ({
          type: "line" as const,
          name: s.name,
          xAxisIndex: i,
          yAxisIndex: i,
          showSymbol: false,
          lineStyle: { width: highlight.includes(s.name) ? 2.5 : 1.2 },
          data: s.points.filter(([x]) => x >= p.x[0] && x <= p.x[1]),
        })),
      ),
    },
    1000,
    440,
  );
}

export interface BarGroup {
  name: string;
  /** Per category (trace): the mean. */
  values: number[];
}

export function boundsChart(categories: string[], groups: BarGroup[], caption: string, yMin: number): string {
  const bars = groups.map((g) => ({
    type: "bar" as const,
    name: g.name,
    data: g.values.map((v) => Number(v.toFixed(2))),
    label: { show: true, position: "top" as const, fontSize: 8, formatter: (p: { value: unknown }) => Number(p.value).toFixed(1) },
  }));
  return render(
    {
      title: { text: caption, left: "center", top: 4, textStyle: { fontSize: 14, fontWeight: "normal" } },
      legend: { bottom: 4 },
      grid: { left: 60, right: 20, top: 50, bottom: 60 },
      xAxis: { type: "category", data: categories },
      yAxis: { type: "value", min: yMin, name: "GPU allocation at 130% arrival (%)", nameLocation: "middle", nameGap: 40 },
      series: bars,
    },
    1000,
    440,
  );
}
