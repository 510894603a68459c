/**
 * Latency SLOs of a serving endpoint, as p99s of vLLM's serving-benchmark metrics (replay.ts):
 * TTFT, TPOT and end-to-end latency, in milliseconds. A replay meets an SLO when no request
 * failed and every stated p99 is at or below its bound.
 */
import type { ReplayReport } from "../replay";

export interface Slo {
  ttftP99Ms?: number;
  tpotP99Ms?: number;
  e2eP99Ms?: number;
}

export const SLO_KEYS = ["ttftP99Ms", "tpotP99Ms", "e2eP99Ms"] as const;
/** How `--slo` spells each key. */
export const SLO_FLAG_NAMES: Record<(typeof SLO_KEYS)[number], string> = { ttftP99Ms: "ttft-p99", tpotP99Ms: "tpot-p99", e2eP99Ms: "e2e-p99" };

export class SloError extends Error {
  override readonly name = "SloError";
}

/** `ttft-p99=<ms>[,tpot-p99=<ms>][,e2e-p99=<ms>]`; throws SloError naming the bad part. */
export function parseSlo(text: string): Slo {
  const slo: Slo = {};
  for (const part of text.split(",")) {
    const m = /^\s*([a-z0-9-]+)\s*=\s*([^\s]+)\s*$/.exec(part);
    if (!m) throw new SloError(`expected <metric>=<ms> such as ttft-p99=500, got ${JSON.stringify(part)}`);
    const key = SLO_KEYS.find((k) => SLO_FLAG_NAMES[k] === m[1]);
    if (!key) throw new SloError(`unknown metric ${JSON.stringify(m[1])}; one of ${SLO_KEYS.map((k) => SLO_FLAG_NAMES[k]).join(", ")}`);
    const ms = Number(m[2]);
    if (!Number.isFinite(ms) || ms <= 0) throw new SloError(`${m[1]}: expected a positive number of milliseconds, got ${JSON.stringify(m[2])}`);
    if (slo[key] !== undefined) throw new SloError(`${m[1]} given twice`);
    slo[key] = ms;
  }
  if (Object.keys(slo).length === 0) throw new SloError("expected at least one of ttft-p99, tpot-p99, e2e-p99");
  return slo;
}

export function formatSlo(slo: Slo): string {
  return SLO_KEYS.filter((k) => slo[k] !== undefined).map((k) => `${SLO_FLAG_NAMES[k]}=${slo[k]}`).join(",");
}

/** The p99s a replay measured, in ms, and whether it lost requests. */
export interface Measured {
  ttftP99Ms: number;
  tpotP99Ms: number;
  e2eP99Ms: number;
  failed: number;
}

export function measuredOf(report: ReplayReport): Measured {
  return { ttftP99Ms: report.ttftMs.p99, tpotP99Ms: report.tpotMs.p99, e2eP99Ms: report.e2elMs.p99, failed: report.failed };
}

export function meetsSlo(m: Measured, slo: Slo): boolean {
  if (m.failed > 0) return false;
  return SLO_KEYS.every((k) => slo[k] === undefined || m[k] <= slo[k]!);
}
