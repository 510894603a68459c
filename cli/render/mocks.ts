/**
 * Pulumi mock runtime for rendering: resources come back with their inputs as state, plus
 * the few outputs the program reads (ARNs, names, the cluster endpoint). Kubernetes objects
 * without a `metadata.name` get one the way the provider auto-names them.
 */
import { createHash } from "node:crypto";
import type * as pulumi from "@pulumi/pulumi";

function suffix(name: string): string {
  return createHash("sha256").update(name).digest("hex").slice(0, 8);
}

/** What an output the provider computes at create renders as (`pulumi preview` shows it as computed too). */
export const COMPUTED_AT_CREATE = "[computed at create]";

function withComputedOutputs(type: string, name: string, inputs: Record<string, any>): Record<string, unknown> {
  const state: Record<string, any> = { ...inputs };
  if (type.startsWith("kubernetes:") && !type.startsWith("kubernetes:helm.sh")) {
    state.metadata = { ...(inputs.metadata ?? {}), name: inputs.metadata?.name ?? `${name}-${suffix(name)}` };
  }
  switch (type) {
    case "aws:iam/role:Role":
      state.name = inputs.name ?? `${name}-${suffix(name)}`;
      state.arn = `arn:aws:iam::123456789012:role/${state.name}`;
      break;
    case "aws:eks/cluster:Cluster":
      state.name = inputs.name ?? name;
      state.arn = `arn:aws:eks:us-east-1:123456789012:cluster/${state.name}`;
      state.endpoint = `https://${suffix(name).toUpperCase()}.gr7.us-east-1.eks.amazonaws.com`;
      state.certificateAuthority = { data: Buffer.from(`mock CA of ${state.name}`).toString("base64") };
      break;
    case "pulumi-nodejs:dynamic/gpk:KitCertificate":
      // Issued by the kit's dynamic provider at create (components/kit-pki.ts): unknowable in a preview.
      for (const key of ["certPem", "keyPem", "serialNumber", "notBefore", "notAfter", "sha256"]) state[key] = COMPUTED_AT_CREATE;
      break;
    case "aws:eks/nodeGroup:NodeGroup":
      state.arn = `arn:aws:eks:us-east-1:123456789012:nodegroup/${inputs.clusterName}/${name}`;
      break;
  }
  return state;
}

export const renderMocks: pulumi.runtime.Mocks = {
  newResource(args) {
    return { id: `${args.name}-id`, state: withComputedOutputs(args.type, args.name, args.inputs) };
  },
  call(args) {
    if (args.token === "aws:eks/getCluster:getCluster") {
      const name = String(args.inputs.name);
      return {
        name,
        arn: `arn:aws:eks:us-east-1:123456789012:cluster/${name}`,
        endpoint: `https://${suffix(name).toUpperCase()}.gr7.us-east-1.eks.amazonaws.com`,
        certificateAuthorities: [{ data: Buffer.from(`mock CA of ${name}`).toString("base64") }],
        version: "1.33",
      };
    }
    return args.inputs;
  },
};
