/**
 * Policy configuration as the engine builds it from `--policy-pack-config`: per policy, its
 * enforcement level and properties, the schema's defaults filled in and the result
 * validated against the policy's `configSchema`. The kit's source is the stack config's
 * `policy` section: a threshold there (e.g. `headroomPercent`) goes to every policy whose
 * schema has that property; a key equal to a policy name overrides that policy the way a
 * Pulumi policy config file does (`"advisory"`, or `{ enforcementLevel, ...properties }`).
 */
import Ajv from "ajv";
import { UsageError } from "../contract";
import type { EnforcementLevel, PolicyConfigEntry, PolicyInfo } from "./analyzer";

const LEVELS: readonly string[] = ["advisory", "mandatory", "remediate", "disabled"];

export function buildPolicyConfig(
  pack: string,
  policies: PolicyInfo[],
  settings: Record<string, unknown>,
): { config: Record<string, PolicyConfigEntry>; used: Set<string> } {
  const ajv = new Ajv({ allErrors: true, strict: false });
  const used = new Set<string>();
  const config: Record<string, PolicyConfigEntry> = {};
  for (const policy of policies) {
    const schema = policy.configSchema ?? {};
    const properties: Record<string, unknown> = {};
    for (const [key, prop] of Object.entries(schema)) {
      if (settings[key] !== undefined) {
        properties[key] = settings[key];
        used.add(key);
      } else if (prop.default !== undefined) {
        properties[key] = prop.default;
      }
    }
    let enforcementLevel: EnforcementLevel = policy.enforcementLevel;
    const override = settings[policy.name];
    if (override !== undefined) {
      used.add(policy.name);
      const { enforcementLevel: level, ...rest } =
        typeof override === "string" ? { enforcementLevel: override } : (override as Record<string, unknown>);
      if (level !== undefined) {
        if (typeof level !== "string" || !LEVELS.includes(level)) {
          throw new UsageError(`policy.${policy.name}: enforcement level must be one of ${LEVELS.join(", ")}, got ${JSON.stringify(level)}`);
        }
        enforcementLevel = level as EnforcementLevel;
      }
      Object.assign(properties, rest);
    }
    const validate = ajv.compile({ type: "object", properties: schema, additionalProperties: false });
    if (!validate(properties)) {
      const e = validate.errors![0];
      const where = e.instancePath ? e.instancePath.slice(1).replace(/\//g, ".") : String(e.params.additionalProperty ?? "");
      throw new UsageError(`policy config for ${pack}/${policy.name}: ${where} ${e.message}`);
    }
    config[policy.name] = { enforcementLevel, properties };
  }
  return { config, used };
}

/** Settings no pack consumed (typos, or thresholds of packs that were not run). */
export function unusedSettings(settings: Record<string, unknown>, used: Set<string>[]): string[] {
  return Object.keys(settings).filter((k) => settings[k] !== undefined && !used.some((u) => u.has(k)));
}
