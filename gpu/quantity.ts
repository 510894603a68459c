/**
 * Kubernetes resource quantities ("500m", "2", "64Gi", "1e3") as plain numbers. The grammar
 * is apimachinery's resource.Quantity: a signed decimal, then a binary-SI suffix (Ki..Ei),
 * a decimal-SI suffix (n, u, m, "", k, M, G, T, P, E) or a decimal exponent (e3, E-2).
 */

const SUFFIX: Record<string, number> = {
  n: 1e-9, u: 1e-6, m: 1e-3, "": 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};

const QUANTITY = /^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(?:([eE][+-]?[0-9]+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)$/;

export class QuantityError extends Error {
  override readonly name = "QuantityError";
}

/** The quantity's value in base units (cores, bytes, devices). Throws QuantityError on bad syntax. */
export function parseQuantity(raw: string | number): number {
  if (typeof raw === "number") {
    if (!Number.isFinite(raw)) throw new QuantityError(`expected a quantity, got ${raw}`);
    return raw;
  }
  const m = QUANTITY.exec(raw.trim());
  if (!m) throw new QuantityError(`expected a quantity such as "500m", "4" or "16Gi", got ${JSON.stringify(raw)}`);
  const base = Number(m[1]);
  if (m[2] !== undefined) return base * 10 ** Number(m[2].slice(1));
  return base * SUFFIX[m[3] ?? ""]!;
}

/** CPU in milli-cores, rounded up (a request of 0.1m still needs 1m, as kube-scheduler counts). */
export function cpuMilli(raw: string | number): number {
  return Math.ceil(parseQuantity(raw) * 1000 - 1e-9);
}

/** Memory in MiB; requests round up, capacities round down, so placement never over-commits. */
export function memoryMiB(raw: string | number, round: "up" | "down"): number {
  const mib = parseQuantity(raw) / 2 ** 20;
  return round === "up" ? Math.ceil(mib - 1e-9) : Math.floor(mib + 1e-9);
}
