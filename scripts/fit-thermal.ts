/**
 * Fits the H100 power and thermal model to data/h100/thermal_trace.csv and writes
 * runtime/gpu-sim/h100-calibration.ts. Run: `npx tsx scripts/fit-thermal.ts`.
 *
 * 1. Static power: least squares of idle/cool-down power against die temperature
 *    (context power at 37 °C plus a leakage slope).
 * 2. Dynamic power: chosen so a 100%-busy GEMM at the burn's median temperature is capped at the
 *    measured median SM clock (1365 MHz) under the 700 W limit. The clock exponent is assumed (2.5):
 *    one operating point cannot identify it.
 * 3. Thermal network: Nelder–Mead on the temperature RMSE of a full replay, once for the two-stage
 *    network (ambient, R_die, R_sink, τ_die, τ_sink) and once for a single stage (ambient, R, τ),
 *    to record why two stages are needed.
 */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { GPU_PRODUCTS } from "../gpu";
import { simProfile } from "../runtime/gpu-sim/profiles";
import { median, parseThermalTrace, replayTrace, rmse, type TraceSample } from "../runtime/gpu-sim/trace";
import type { ThermalParams } from "../runtime/gpu-sim/thermal";
import { H100_DIR } from "../data/paths";

const repoRoot = path.resolve(__dirname, "..");
const TRACE = path.relative(repoRoot, path.join(H100_DIR, "thermal_trace.csv"));
const OUT = path.join(repoRoot, "runtime/gpu-sim/h100-calibration.ts");
const CLOCK_EXPONENT = 2.5;
const REF_TEMP_C = 37;

/** Minimizes f with the Nelder–Mead simplex (standard coefficients 1, 2, 0.5, 0.5). */
export function nelderMead(f: (x: number[]) => number, start: number[], scale: number[], iterations = 600): { x: number[]; value: number } {
  const n = start.length;
  let simplex = [start, ...start.map((_, i) => start.map((v, j) => (i === j ? v + scale[i]! : v)))].map((x) => ({ x, value: f(x) }));
  const along = (a: number[], b: number[], t: number) => a.map((v, i) => v + t * (b[i]! - v));
  for (let it = 0; it < iterations; it++) {
    simplex.sort((p, q) => p.value - q.value);
    const best = simplex[0]!;
    const worst = simplex[n]!;
    if (Math.abs(worst.value - best.value) < 1e-7) break;
    const centroid = start.map((_, j) => simplex.slice(0, n).reduce((s, p) => s + p.x[j]!, 0) / n);
    const reflect = along(centroid, worst.x, -1);
    const fr = f(reflect);
    if (fr < best.value) {
      const expand = along(centroid, worst.x, -2);
      const fe = f(expand);
      simplex[n] = fe < fr ? { x: expand, value: fe } : { x: reflect, value: fr };
    } else if (fr < simplex[n - 1]!.value) {
      simplex[n] = { x: reflect, value: fr };
    } else {
      const contract = along(centroid, worst.x, 0.5);
      const fc = f(contract);
      if (fc < worst.value) simplex[n] = { x: contract, value: fc };
      else simplex = simplex.map((p, i) => (i === 0 ? p : { x: along(best.x, p.x, 0.5), value: f(along(best.x, p.x, 0.5)) }));
    }
  }
  simplex.sort((p, q) => p.value - q.value);
  return simplex[0]!;
}

function fitStaticPower(trace: TraceSample[]) {
  const coolStart = trace.find((s) => s.phase === "cool")!.tS;
  // Skip the second after the burn: the reported power is a 1 s average still holding burn power.
  const pts = trace.filter((s) => s.utilGpu === 0 && (s.phase === "idle" || s.tS > coolStart + 1.5));
  const xs = pts.map((s) => s.gpuTempC - REF_TEMP_C);
  const ys = pts.map((s) => s.powerW);
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  const slope = xs.reduce((s, x, i) => s + (x - mx) * (ys[i]! - my), 0) / xs.reduce((s, x) => s + (x - mx) ** 2, 0);
  return { contextW: my - slope * mx, leakageWPerC: slope };
}

function main(): void {
  const trace = parseThermalTrace(readFileSync(path.resolve(repoRoot, TRACE), "utf8"));
  const h100 = GPU_PRODUCTS.h100;
  const { contextW, leakageWPerC } = fitStaticPower(trace);
  const burnStart = trace.find((s) => s.phase === "burn")!.tS;
  const burn = trace.filter((s) => s.phase === "burn" && s.tS > burnStart + 2 && s.utilGpu >= 99);
  const burnClock = median(burn.map((s) => s.smClockMHz));
  const burnTemp = median(burn.map((s) => s.gpuTempC));
  const capRatio = burnClock / h100.maxSmClockMHz;
  const fullLoadDynamicW = (h100.powerLimitW - (contextW + leakageWPerC * (burnTemp - REF_TEMP_C))) / Math.pow(capRatio, CLOCK_EXPONENT);
  const power = { contextW, refTempC: REF_TEMP_C, leakageWPerC, fullLoadDynamicW, clockExponent: CLOCK_EXPONENT };
  const measured = trace.map((s) => s.gpuTempC);
  const base = simProfile("h100");

  const cost = (thermal: ThermalParams) => {
    const profile = { ...base, thermal, power: { ...base.power, ...power } };
    return rmse(replayTrace(profile, trace).map((p) => p.dieC), measured);
  };
  // Parameters in log space (except ambient) so the simplex keeps them positive.
  const two = (x: number[]): ThermalParams => ({
    ambientC: x[0]!, dieToSinkCPerW: Math.exp(x[1]!), sinkToAirCPerW: Math.exp(x[2]!), dieTauS: Math.exp(x[3]!), sinkTauS: Math.exp(x[4]!),
  });
  // A few starts per model, so a local minimum is not reported as the best a model can do.
  const bestOf = (f: (x: number[]) => number, starts: number[][], scale: number[]) =>
    starts.map((s) => nelderMead(f, s, scale)).sort((a, b) => a.value - b.value)[0]!;
  const fitTwo = bestOf((x) => cost(two(x)), [
    [30, Math.log(0.028), Math.log(0.028), Math.log(0.3), Math.log(25)],
    [25, Math.log(0.01), Math.log(0.05), Math.log(1), Math.log(60)],
  ], [2, 0.3, 0.3, 0.5, 0.5]);
  // A single stage is the same network with a vanishing die stage.
  const one = (x: number[]): ThermalParams => ({
    ambientC: x[0]!, dieToSinkCPerW: 1e-6, sinkToAirCPerW: Math.exp(x[1]!), dieTauS: 1e-4, sinkTauS: Math.exp(x[2]!),
  });
  const fitOne = bestOf((x) => cost(one(x)), [
    [30, Math.log(0.056), Math.log(10)], [25, Math.log(0.06), Math.log(30)], [35, Math.log(0.04), Math.log(2)],
  ], [2, 0.3, 0.5]);

  const thermal = two(fitTwo.x);
  const single = one(fitOne.x);
  const round = (v: number, d = 6) => Number(v.toPrecision(d));
  const calibration = {
    source: TRACE,
    power: Object.fromEntries(Object.entries(power).map(([k, v]) => [k, round(v)])),
    thermal: Object.fromEntries(Object.entries(thermal).map(([k, v]) => [k, round(v)])),
    fit: {
      samples: trace.length,
      twoStageRmseC: round(fitTwo.value, 4),
      singleStageRmseC: round(fitOne.value, 4),
      singleStage: { ambientC: round(single.ambientC), resistanceCPerW: round(single.sinkToAirCPerW), tauS: round(single.sinkTauS) },
      burnMedianClockMHz: burnClock,
      burnMedianTempC: burnTemp,
    },
  };
  const text = [
    "// Written by scripts/fit-thermal.ts from data/h100/thermal_trace.csv; do not edit by hand.",
    "// Rerun: npx tsx scripts/fit-thermal.ts",
    `export const H100_CALIBRATION = ${JSON.stringify(calibration, null, 2)} as const;`,
    "",
  ].join("\n");
  writeFileSync(OUT, text);
  process.stdout.write(`${JSON.stringify(calibration, null, 2)}\n`);
}

main();
