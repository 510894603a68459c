/**
 * The seed every fast-check property in the suite runs with. Without one, fast-check draws a
 * new seed per run, so a property could fail on one machine and pass on the next. The default
 * is fixed; FC_SEED=<integer> tries other inputs. fast-check prints the seed and the shrink
 * path of any failure (`{ seed: 42, path: "7:1:0", endOnFailure: true }`): rerun with that
 * FC_SEED to reproduce it, and pass the path too to jump straight to the counterexample.
 */
import type { Parameters } from "fast-check";

const DEFAULT_SEED = 42;

function seedFromEnv(value: string | undefined): number {
  if (value === undefined || value === "") return DEFAULT_SEED;
  if (!/^-?\d+$/.test(value) || !Number.isSafeInteger(Number(value))) throw new Error(`FC_SEED must be an integer, got ${JSON.stringify(value)}`);
  return Number(value);
}

export const FC_SEED = seedFromEnv(process.env.FC_SEED);

/** fast-check parameters with the suite's seed: `fc.assert(property, seeded({ numRuns: 60 }))`. */
export function seeded<T>(params: Parameters<T> = {}): Parameters<T> {
  return { ...params, seed: FC_SEED };
}
