/**
 * What `gpk preview` shows of a resource's inputs (cli/render/index.ts presentableInputs): a
 * secret's values as `[secret]` with its keys kept, nested secrets too, other values as they
 * are, and a dynamic resource's serialised provider as a mark.
 */
import { specialSecretSig, specialSigKey } from "@pulumi/pulumi/runtime/rpc";
import { describe, expect, it } from "vitest";
import { presentableInputs } from "../../cli/render";

const secret = (value: unknown) => ({ [specialSigKey]: specialSecretSig, value });

describe("presentableInputs", () => {
  it("hides every value under a secret and keeps its shape", () => {
    const inputs = {
      metadata: { name: "tls" },
      type: "kubernetes.io/tls",
      stringData: secret({ "tls.crt": "-----BEGIN CERTIFICATE-----", "tls.key": "-----BEGIN PRIVATE KEY-----", list: ["a", 1] }),
      plain: { issuerKeyPem: secret("-----BEGIN PRIVATE KEY-----"), n: 3, absent: null },
    };
    expect(presentableInputs("kubernetes:core/v1:Secret", inputs)).toEqual({
      metadata: { name: "tls" },
      type: "kubernetes.io/tls",
      stringData: { "tls.crt": "[secret]", "tls.key": "[secret]", list: ["[secret]", "[secret]"] },
      plain: { issuerKeyPem: "[secret]", n: 3, absent: null },
    });
    expect(JSON.stringify(presentableInputs("kubernetes:core/v1:Secret", inputs))).not.toContain("BEGIN");
  });

  it("marks a dynamic resource's serialised provider and leaves other types' fields alone", () => {
    expect(presentableInputs("pulumi-nodejs:dynamic/gpk:KitCertificate", { __provider: "exports.handler = …", usage: "ca" })).toEqual({ __provider: "[serialized provider]", usage: "ca" });
    expect(presentableInputs("kubernetes:core/v1:ConfigMap", { __provider: "x" })).toEqual({ __provider: "x" });
  });
});
