/**
 * Two-stage lumped RC thermal network: die → heatsink → air.
 *
 *   C_die  dT_die/dt  = P − (T_die − T_sink)/R_die
 *   C_sink dT_sink/dt = (T_die − T_sink)/R_die − (T_sink − T_air)/R_sink
 *
 * One stage cannot follow the measured H100 step (≈16 °C within 2 s, then ≈16 °C more over 70 s):
 * the fast die stage takes the jump and the slow heatsink stage takes the rise (docs/gpu-sim.md).
 * With the power held constant over a step the network is linear, so the step is integrated
 * exactly with the 2×2 matrix exponential: no stiffness trouble for a 0.2 s die constant.
 */

export interface ThermalParams {
  /** Inlet air temperature, °C. */
  ambientC: number;
  /** Die-to-heatsink thermal resistance, °C/W. */
  dieToSinkCPerW: number;
  /** Heatsink-to-air thermal resistance at full airflow, °C/W. */
  sinkToAirCPerW: number;
  /** Die time constant R_die·C_die, seconds. */
  dieTauS: number;
  /** Heatsink time constant R_sink·C_sink at full airflow, seconds. */
  sinkTauS: number;
}

export interface ThermalState {
  dieC: number;
  sinkC: number;
}

/**
 * Heatsink-to-air resistance at a fraction of nominal airflow. Forced-convection film
 * coefficients scale with flow^0.8 (Dittus–Boelter), so R ∝ airflow^−0.8; the heatsink's heat
 * capacity does not change, so its time constant scales with R.
 */
export function sinkResistanceAt(params: ThermalParams, airflow: number): number {
  return params.sinkToAirCPerW * Math.pow(airflow, -0.8);
}

/** Temperatures the network settles at under constant power. */
export function steadyState(params: ThermalParams, powerW: number, airflow = 1): ThermalState {
  const sinkC = params.ambientC + powerW * sinkResistanceAt(params, airflow);
  return { sinkC, dieC: sinkC + powerW * params.dieToSinkCPerW };
}

/** Advances the network by `dtS` seconds with constant power `powerW`; exact for linear RC. */
export function stepThermal(
  params: ThermalParams,
  state: ThermalState,
  powerW: number,
  dtS: number,
  airflow = 1,
): ThermalState {
  if (dtS <= 0) return { ...state };
  const r1 = params.dieToSinkCPerW;
  const r2 = sinkResistanceAt(params, airflow);
  const c1 = params.dieTauS / r1;
  const c2 = params.sinkTauS / params.sinkToAirCPerW; // heat capacity is airflow-independent
  const target = steadyState(params, powerW, airflow);
  // y' = A y with y = state − target.
  const a = -1 / (r1 * c1);
  const b = 1 / (r1 * c1);
  const c = 1 / (r1 * c2);
  const d = -(1 / (r1 * c2) + 1 / (r2 * c2));
  const [m11, m12, m21, m22] = expm2(a, b, c, d, dtS);
  const y1 = state.dieC - target.dieC;
  const y2 = state.sinkC - target.sinkC;
  return {
    dieC: target.dieC + m11 * y1 + m12 * y2,
    sinkC: target.sinkC + m21 * y1 + m22 * y2,
  };
}

/** e^{M t} for M = [[a, b], [c, d]] with real eigenvalues (true for any passive RC network). */
function expm2(a: number, b: number, c: number, d: number, t: number): [number, number, number, number] {
  const half = (a + d) / 2;
  const disc = Math.max(0, half * half - (a * d - b * c));
  const root = Math.sqrt(disc);
  const l1 = half + root;
  const l2 = half - root;
  if (root < 1e-12) {
    // Repeated eigenvalue: e^{λt}(I + (M − λI)t).
    const e = Math.exp(l1 * t);
    return [e * (1 + (a - l1) * t), e * b * t, e * c * t, e * (1 + (d - l1) * t)];
  }
  // Sylvester: e^{Mt} = (e^{λ1 t}(M − λ2 I) − e^{λ2 t}(M − λ1 I)) / (λ1 − λ2).
  const e1 = Math.exp(l1 * t);
  const e2 = Math.exp(l2 * t);
  const k = 1 / (l1 - l2);
  return [
    k * (e1 * (a - l2) - e2 * (a - l1)),
    k * (e1 - e2) * b,
    k * (e1 - e2) * c,
    k * (e1 * (d - l2) - e2 * (d - l1)),
  ];
}
