/**
 * Hand-written SVG line chart of GPU allocation vs arrived GPU request, one line per policy,
 * for docs/placement/default-allocation.svg: the full range on the left, a zoom on the
 * saturated end (80–130% arrival) on the right, where the policies differ.
 */
export interface Series {
  name: string;
  /** arrival % -> allocation %. */
  points: [number, number][];
}

const COLORS = ["#8c8c8c", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#d62728", "#111111"];

function panel(
  series: Series[],
  x0: number,
  y0: number,
  width: number,
  height: number,
  xRange: [number, number],
  yRange: [number, number],
  xTicks: number[],
  yTicks: number[],
  title: string,
): string {
  const sx = (x: number) => x0 + ((x - xRange[0]) / (xRange[1] - xRange[0])) * width;
  const sy = (y: number) => y0 + height - ((y - yRange[0]) / (yRange[1] - yRange[0])) * height;
  const out: string[] = [];
  out.push(`<text x="${x0 + width / 2}" y="${y0 - 10}" text-anchor="middle" font-size="14">${title}</text>`);
  out.push(`<rect x="${x0}" y="${y0}" width="${width}" height="${height}" fill="none" stroke="#444"/>`);
  for (const t of xTicks) {
    out.push(`<line x1="${sx(t)}" y1="${y0}" x2="${sx(t)}" y2="${y0 + height}" stroke="#eee"/>`);
    out.push(`<text x="${sx(t)}" y="${y0 + height + 16}" text-anchor="middle" font-size="11">${t}</text>`);
  }
  for (const t of yTicks) {
    out.push(`<line x1="${x0}" y1="${sy(t)}" x2="${x0 + width}" y2="${sy(t)}" stroke="#eee"/>`);
    out.push(`<text x="${x0 - 6}" y="${sy(t) + 4}" text-anchor="end" font-size="11">${t}</text>`);
  }
  out.push(`<text x="${x0 + width / 2}" y="${y0 + height + 34}" text-anchor="middle" font-size="12">arrived GPU request (% of capacity)</text>`);
  out.push(`<text x="${x0 - 40}" y="${y0 + height / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 ${x0 - 40} ${y0 + height / 2})">allocated GPU (% of capacity)</text>`);
  series.forEach((s, i) => {
    const pts = s.points
      .filter(([x, y]) => x >= xRange[0] && x <= xRange[1] && y >= yRange[0] && y <= yRange[1])
      .map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`)
      .join(" ");
    out.push(`<polyline fill="none" stroke="${COLORS[i % COLORS.length]}" stroke-width="${s.name === "gpk" ? 2.5 : 1.5}" points="${pts}"/>`);
  });
  return out.join("\n");
}

export function allocationChart(series: Series[], caption: string): string {
  const width = 1000;
  const height = 430;
  const legend = series
    .map((s, i) => {
      const x = 80 + i * 125;
      return `<line x1="${x}" y1="${height - 18}" x2="${x + 24}" y2="${height - 18}" stroke="${COLORS[i % COLORS.length]}" stroke-width="3"/><text x="${x + 30}" y="${height - 14}" font-size="12">${s.name}</text>`;
    })
    .join("\n");
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="15">${caption}</text>`,
    panel(series, 70, 60, 380, 280, [0, 130], [0, 100], [0, 20, 40, 60, 80, 100, 120, 130], [0, 20, 40, 60, 80, 100], "full range"),
    panel(series, 570, 60, 380, 280, [80, 130], [80, 97], [80, 90, 100, 110, 120, 130], [80, 85, 90, 95], "saturation (zoom)"),
    legend,
    `</svg>`,
  ].join("\n");
}
