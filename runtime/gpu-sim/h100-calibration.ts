// Written by scripts/fit-thermal.ts from data/h100/thermal_trace.csv; do not edit by hand.
// Rerun: npx tsx scripts/fit-thermal.ts
export const H100_CALIBRATION = {
  "source": "data/h100/thermal_trace.csv",
  "power": {
    "contextW": 123.179,
    "refTempC": 37,
    "leakageWPerC": 0.660709,
    "fullLoadDynamicW": 1373.47,
    "clockExponent": 2.5
  },
  "thermal": {
    "ambientC": 30.8898,
    "dieToSinkCPerW": 0.0286082,
    "sinkToAirCPerW": 0.0265311,
    "dieTauS": 0.149658,
    "sinkTauS": 23.5874
  },
  "fit": {
    "samples": 480,
    "twoStageRmseC": 0.6744,
    "singleStageRmseC": 2.702,
    "singleStage": {
      "ambientC": 35.9767,
      "resistanceCPerW": 0.0432116,
      "tauS": 1.61841
    },
    "burnMedianClockMHz": 1380,
    "burnMedianTempC": 67
  }
} as const;
