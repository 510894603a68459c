import { describe, expect, it } from "vitest";
import { jsonPointerToPath, kubernetesKind, SchemaValidator, validateResources } from "../../cli/render/validate";
import type { RenderedResource } from "../../cli/render";

const resource = (type: string, inputs: Record<string, unknown>): RenderedResource => ({ urn: `urn:pulumi:t::p::${type}::x`, type, name: "x", custom: true, inputs });

describe("schema validation", () => {
  it("maps Pulumi type tokens to apiVersion and kind", () => {
    expect(kubernetesKind("kubernetes:apps/v1:Deployment")).toEqual({ apiVersion: "apps/v1", kind: "Deployment" });
    expect(kubernetesKind("kubernetes:core/v1:Namespace")).toEqual({ apiVersion: "v1", kind: "Namespace" });
    expect(kubernetesKind("kubernetes:ray.io/v1:RayCluster")).toEqual({ apiVersion: "ray.io/v1", kind: "RayCluster" });
    expect(kubernetesKind("kubernetes:helm.sh/v3:Release")).toBeUndefined();
    expect(kubernetesKind("aws:eks/nodeGroup:NodeGroup")).toBeUndefined();
  });

  it("turns JSON pointers into dotted paths", () => {
    expect(jsonPointerToPath("/spec/template/spec/containers/0/ports/1/containerPort")).toBe("spec.template.spec.containers[0].ports[1].containerPort");
  });

  it("reports a wrongly typed field of a core object with its path", () => {
    const report = validateResources([
      resource("kubernetes:apps/v1:Deployment", {
        metadata: { name: "web" },
        spec: { selector: { matchLabels: { app: "web" } }, template: { spec: { containers: [{ name: "web", image: "nginx", ports: [{ containerPort: "80" }] }] } } },
      }),
    ], new SchemaValidator([]));
    expect(report.schemaErrors).toEqual([{ urn: "urn:pulumi:t::p::kubernetes:apps/v1:Deployment::x", path: "spec.template.spec.containers[0].ports[0].containerPort", message: "must be integer" }]);
  });

  it("reports a missing required field", () => {
    const report = validateResources([resource("kubernetes:core/v1:Service", { metadata: { name: "s" }, spec: { ports: [{ name: "http" }] } })], new SchemaValidator([]));
    expect(report.schemaErrors.map((e) => [e.path, e.message])).toEqual([["spec.ports[0].port", "is required"]]);
  });

  it("lists kinds it has no schema for instead of passing them silently", () => {
    const report = validateResources([resource("kubernetes:example.com/v1:Widget", { spec: {} })], new SchemaValidator([]));
    expect(report).toEqual({ schemaErrors: [], unvalidatedKinds: ["kubernetes:example.com/v1:Widget"], validatedObjects: 0 });
  });
});
