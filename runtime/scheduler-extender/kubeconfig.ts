/**
 * `gpk extender --kubeconfig <file>`: @kubernetes/client-node reads the kubeconfig (contexts,
 * exec and OIDC credentials, client certificates) and this turns its current context into a
 * KubeConnection for kube.ts. CLI only: the in-cluster bundle never imports this module.
 */
import type * as https from "node:https";
import type { KubeConnection } from "./kube";

export async function kubeconfigConnection(file: string): Promise<KubeConnection> {
  const { KubeConfig } = await import("@kubernetes/client-node");
  const kc = new KubeConfig();
  kc.loadFromFile(file);
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error(`--kubeconfig ${file}: the current context names no cluster`);
  const probe = async () => {
    const opts: https.RequestOptions = {};
    await kc.applyToHTTPSOptions(opts);
    return opts;
  };
  const first = await probe();
  return {
    server: cluster.server,
    tls: { ca: first.ca, cert: first.cert, key: first.key, rejectUnauthorized: !cluster.skipTLSVerify },
    // Exec credentials expire: ask client-node again per request (it caches until expiry).
    headers: async () => {
      const h = (await probe()).headers ?? {};
      return Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), String(v)]));
    },
  };
}
