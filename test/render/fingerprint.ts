/**
 * A rendered stack reduced to one SHA-256 per resource, with the runtime bundles' own bytes
 * left out: a bundle's JavaScript (and so its hash, which names its ConfigMap and rolls its
 * pods) changes whenever any source it bundles changes, even by a file move. Everything
 * else a resource renders (names, specs, labels, RBAC, policies) is in the fingerprint.
 */
import { createHash } from "node:crypto";

interface Resource {
  urn: string;
  type: string;
  inputs: unknown;
}

export function bundleHashes(resources: Resource[]): string[] {
  return resources
    .filter((r) => r.type === "gpk:index:RuntimeBundle")
    .map((r) => (r.inputs as { sha256?: string }).sha256)
    .filter((h): h is string => typeof h === "string");
}

export function fingerprint(resources: Resource[]): Record<string, string> {
  const hashes = bundleHashes(resources);
  const out: Record<string, string> = {};
  for (const r of resources) {
    let text = JSON.stringify(r.inputs, (key, value) => {
      // A bundle ConfigMap's data is the bundle itself; its length goes with it.
      if (r.type === "kubernetes:core/v1:ConfigMap" && key === "data" && typeof value === "object" && value && Object.keys(value).some((k) => k.endsWith(".js"))) return "<bundle>";
      if (r.type === "gpk:index:RuntimeBundle" && key === "bytes") return "<bytes>";
      return value;
    });
    for (const h of hashes) text = text.replaceAll(h, "<sha256>").replaceAll(h.slice(0, 10), "<sha256-10>");
    out[r.urn] = createHash("sha256").update(text).digest("hex");
  }
  return out;
}
