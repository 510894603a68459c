/**
 * NetworkPolicy building blocks of the kit's own namespaces (gpk-system, gpk-node): deny every
 * ingress by default, then let each component name the callers its pods serve. Tenant
 * namespaces have their own set (tenant.ts). Egress stays open there: the kit's pods talk to
 * the API server, whose address a NetworkPolicy cannot name portably.
 *
 * A NetworkPolicy binds only where the CNI enforces it (the VPC CNI with its network policy
 * agent on EKS, Calico, Cilium); kubelet's probes come from the node and are not subject to it
 * on those CNIs.
 */
import type * as k8s from "@pulumi/kubernetes";

type Spec = k8s.types.input.networking.v1.NetworkPolicySpec;
type Peer = k8s.types.input.networking.v1.NetworkPolicyPeer;

/** Every pod of the namespace, no ingress rule: nothing reaches in until a policy allows it. */
export function defaultDenyIngressSpec(): Spec {
  return { podSelector: {}, policyTypes: ["Ingress"] };
}

/** Every pod of a namespace, by the name label the API server sets on each namespace. */
export function namespacePeer(namespace: string): Peer {
  return { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": namespace } } };
}

/** The pods with these labels in that namespace. */
export function podsPeer(namespace: string, labels: Record<string, string>): Peer {
  return { ...namespacePeer(namespace), podSelector: { matchLabels: labels } };
}

/** Ingress to the pods with `podLabels`: each rule's peers on its one TCP port. */
export function allowIngressSpec(podLabels: Record<string, string>, rules: { from: Peer[]; port: number }[]): Spec {
  return {
    podSelector: { matchLabels: podLabels },
    policyTypes: ["Ingress"],
    ingress: rules.map((r) => ({ from: r.from, ports: [{ protocol: "TCP", port: r.port }] })),
  };
}
