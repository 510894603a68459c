/**
 * The KubeRay CustomResourceDefinitions the kit ships (data/schemas/kuberay-v<version>, copied
 * unchanged from the KubeRay release), as objects to apply when the operator chart cannot be
 * fetched (`gpk:ray.operator: crds-only`). The same files back preview's schema validation.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parseAllDocuments } from "yaml";
import { CRD_SCHEMA_ROOT } from "../data/paths";

export type RayOperatorInstall = "chart" | "crds-only" | "none";
export const RAY_OPERATOR_INSTALLS: readonly RayOperatorInstall[] = ["chart", "crds-only", "none"];

export interface CrdObject {
  apiVersion: "apiextensions.k8s.io/v1";
  kind: "CustomResourceDefinition";
  metadata: { name: string; [key: string]: unknown };
  spec: Record<string, unknown>;
}

export function kuberayCrdDir(version: string): string {
  return path.join(CRD_SCHEMA_ROOT, `kuberay-v${version}`);
}

/** Every CRD of that KubeRay release, sorted by name; throws naming the folder when it is not shipped. */
export function kuberayCrds(version: string): CrdObject[] {
  const dir = kuberayCrdDir(version);
  if (!fs.existsSync(dir)) throw new Error(`no KubeRay ${version} CRDs in ${dir}: copy the release's CRDs there (see data/README.md)`);
  const crds: CrdObject[] = [];
  for (const file of fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort()) {
    for (const doc of parseAllDocuments(fs.readFileSync(path.join(dir, file), "utf8"))) {
      const obj = doc.toJS() as CrdObject | null;
      if (obj?.kind === "CustomResourceDefinition") crds.push(obj);
    }
  }
  return crds.sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
}
