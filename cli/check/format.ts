/** Human-readable `gpk check` report: violations grouped pack → policy → resource. */
import type { Violation } from "./index";

export function formatViolations(stack: string, violations: Violation[], packs: readonly string[]): string {
  const lines: string[] = [];
  for (const pack of packs) {
    const inPack = violations.filter((v) => v.pack === pack);
    lines.push(`${pack}: ${inPack.length === 0 ? "no violations" : `${inPack.length} finding(s)`}`);
    const policies = [...new Set(inPack.map((v) => v.policy))];
    for (const policy of policies) {
      const inPolicy = inPack.filter((v) => v.policy === policy);
      const levels = [...new Set(inPolicy.map((v) => v.enforcementLevel))].join(", ");
      lines.push(`  ${policy} [${levels}]`);
      for (const v of inPolicy) {
        lines.push(`    ${v.urn || "(stack)"}`);
        lines.push(`      ${v.enforcementLevel}: ${v.message.replace(/\n/g, "\n      ")}`);
      }
    }
  }
  const count = (level: string) => violations.filter((v) => v.enforcementLevel === level).length;
  lines.push("");
  lines.push(`Stack ${stack}: ${count("mandatory")} mandatory, ${count("advisory")} advisory, ${count("remediate")} remediated.`);
  return lines.join("\n");
}
