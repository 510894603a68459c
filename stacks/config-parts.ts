/**
 * zod building blocks every stack-config section uses. Each states what it expects in its
 * error, so a problem reads `gpk:<path>: expected ..., got ...`. A module of its own so the
 * section files import it without a cycle through stacks/config.ts.
 */
import { z } from "zod";

export const expect = (what: string) => ({ error: `expected ${what}` });
export const positiveInt = () =>
  z.number(expect("a positive integer")).int(expect("a positive integer")).positive(expect("a positive integer"));
export const nonNegativeInt = () =>
  z.number(expect("a non-negative integer")).int(expect("a non-negative integer")).min(0, expect("a non-negative integer"));
export const dnsLabel = () =>
  z
    .string(expect("a DNS label (lowercase letters, digits and '-')"))
    .regex(/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/, expect("a DNS label (lowercase letters, digits and '-', at most 63)"));
export const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, expect(`one of ${values.map((v) => JSON.stringify(v)).join(", ")}`));
/** A Kubernetes resource quantity such as `64`, `500m` or `256Gi`. */
export const quantity = () =>
  z
    .union([z.string(), z.number()], expect("a Kubernetes quantity such as \"64\" or \"256Gi\""))
    .transform(String)
    .pipe(
      z
        .string()
        .regex(/^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/, expect("a Kubernetes quantity such as \"64\" or \"256Gi\"")),
    );

