/**
 * The binaries runtime as data: where its files live, and the exact command line of each
 * upstream process (kine, kube-apiserver, kube-controller-manager, kube-scheduler, KWOK)
 * and of the kit's own (`gpk extender`, the `gpk-scheduler` kube-scheduler). Pure, so the
 * flags are unit-tested; runtime.ts starts them. Every listener binds to 127.0.0.1.
 *
 * Flags follow envtest's checklist for a test API server (controller-runtime
 * pkg/internal/testing/controlplane) plus what a working cluster needs beyond it: RBAC,
 * service-account token signing, and the default admission plugins (PodSecurity,
 * ResourceQuota, LimitRanger, ServiceAccount are named so they stay on whatever the defaults).
 */
import * as path from "node:path";
import { tlsFolderArgs } from "../../../runtime/scheduler-extender/options";

export interface Layout {
  root: string;
  logs: string;
  certs: string;
  kineDb: string;
  tokensFile: string;
  serviceAccountKey: string;
  serviceAccountPub: string;
  kubeconfigDir: string;
  /** The admin kubeconfig a user runs kubectl with. */
  kubeconfig: string;
  schedulerConfig: string;
  state: string;
  pulumiHome: string;
  workspace: string;
  /** The stack's TLS Secrets as files, one folder per kit process (tls.crt, tls.key, ca.crt). */
  tls: string;
  /** The API server's client certificate for kubelets (logs, exec, port-forward), and its CA, which real kubelets trust. */
  kubeletClient: { ca: string; cert: string; key: string };
}

export function layoutOf(repoRoot: string, stack: string): Layout {
  const root = path.join(repoRoot, ".gpk", "binaries", stack);
  const kubeconfigDir = path.join(root, "kubeconfigs");
  return {
    root,
    logs: path.join(root, "logs"),
    certs: path.join(root, "certs"),
    kineDb: path.join(root, "kine", "state.db"),
    tokensFile: path.join(root, "certs", "tokens.csv"),
    serviceAccountKey: path.join(root, "certs", "service-account.key"),
    serviceAccountPub: path.join(root, "certs", "service-account.pub"),
    kubeletClient: {
      ca: path.join(root, "certs", "kubelet-client-ca.crt"),
      cert: path.join(root, "certs", "kubelet-client.crt"),
      key: path.join(root, "certs", "kubelet-client.key"),
    },
    kubeconfigDir,
    kubeconfig: path.join(kubeconfigDir, "admin.yaml"),
    schedulerConfig: path.join(root, "gpk-scheduler.yaml"),
    state: path.join(root, "state.json"),
    pulumiHome: path.join(root, "pulumi-home"),
    workspace: path.join(root, "workspace"),
    tls: path.join(root, "tls"),
  };
}

/** Where a kit process's TLS files are: `<tls>/<process>/` with a `kubernetes.io/tls` Secret's files. */
export function tlsDir(layout: Layout, name: "gpk-extender" | "gpk-scheduler"): string {
  return path.join(layout.tls, name);
}

/** The API server's self-signed serving certificate (it writes it into --cert-dir); it is its own CA. */
export function apiserverCertFile(layout: Layout): string {
  return path.join(layout.certs, "apiserver.crt");
}

export type ProcessName = "kine" | "kube-apiserver" | "kube-controller-manager" | "kube-scheduler" | "kwok" | "gpk-extender" | "gpk-scheduler";
/** Processes bench:scheduler adds for a peer scheduler (bench/hami-profile.ts); `down` stops them with the rest. */
export type PeerProcessName = "hami-scheduler" | "hami-kube-scheduler";

export interface ProcessSpec {
  name: ProcessName | PeerProcessName;
  command: string;
  args: string[];
  /** The port it serves on (its health endpoint, or the port clients use). */
  port: number;
  /** How to tell it is up: a TCP connect, or an HTTPS GET answered 200. */
  ready: { kind: "tcp" } | { kind: "https"; path: string } | { kind: "http"; path: string };
}

/** One loopback port per process, plus kine's metrics and the extender's plain-HTTP health port. */
export type Ports = Record<ProcessName | "kineMetrics" | "gpk-extender-health", number>;

/** Identities of the control plane's clients, each with a static bearer token. */
export const IDENTITIES = {
  admin: { user: "gpk-admin", groups: ["system:masters"] },
  // Users the API server's bootstrap RBAC already binds (system:kube-controller-manager, system:kube-scheduler).
  controllerManager: { user: "system:kube-controller-manager", groups: [] },
  scheduler: { user: "system:kube-scheduler", groups: [] },
  // KWOK stands in for every kubelet; its ClusterRole (kwokClusterRole) gives exactly what they do.
  kwok: { user: "gpk-kwok", groups: [] },
  // A real node's kube-proxy: the bootstrap ClusterRoleBinding system:node-proxier binds this user.
  kubeProxy: { user: "system:kube-proxy", groups: [] },
} as const;
export type Identity = keyof typeof IDENTITIES;

/** kube-apiserver's --token-auth-file: `token,user,uid,"group1,group2"` per line. */
export function tokenFile(tokens: Record<Identity, string>): string {
  return (Object.keys(IDENTITIES) as Identity[])
    .map((id) => {
      const { user, groups } = IDENTITIES[id];
      return `${tokens[id]},${user},${user},"${groups.join(",")}"`;
    })
    .join("\n") + "\n";
}

/** A kubeconfig for one bearer token against the local API server. */
export function kubeconfigYaml(server: string, caPem: string, user: string, token: string): string {
  const ca = Buffer.from(caPem).toString("base64");
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- name: gpk-local",
    "  cluster:",
    `    server: ${server}`,
    `    certificate-authority-data: ${ca}`,
    "users:",
    `- name: ${user}`,
    "  user:",
    `    token: ${token}`,
    "contexts:",
    "- name: gpk-local",
    "  context:",
    "    cluster: gpk-local",
    `    user: ${user}`,
    "current-context: gpk-local",
    "",
  ].join("\n");
}

export function serverUrl(ports: Ports): string {
  return `https://127.0.0.1:${ports["kube-apiserver"]}`;
}

/**
 * Where the API server is reachable from a real node's network namespace (its tunnel listens
 * there) and what it publishes as the `kubernetes` Service's endpoint. It is on no host
 * interface: on the host the API server binds loopback only.
 */
export const API_SERVICE_ADDRESS = "10.213.255.1";

/** Service CIDR of the local cluster: addresses for Service objects only, nothing routes them. */
export const SERVICE_CIDR = "10.96.0.0/16";
export const SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local";

export function kineSpec(bin: string, layout: Layout, ports: Ports): ProcessSpec {
  return {
    name: "kine",
    command: bin,
    args: [
      `--endpoint=sqlite://${layout.kineDb}?_journal=WAL&cache=shared&_busy_timeout=30000`,
      `--listen-address=127.0.0.1:${ports.kine}`,
      `--metrics-bind-address=127.0.0.1:${ports.kineMetrics}`,
    ],
    port: ports.kine,
    ready: { kind: "tcp" },
  };
}

export function apiserverSpec(bin: string, layout: Layout, ports: Ports): ProcessSpec {
  return {
    name: "kube-apiserver",
    command: bin,
    args: [
      `--etcd-servers=http://127.0.0.1:${ports.kine}`,
      "--bind-address=127.0.0.1",
      // Pods on real nodes reach the API server at this address through each node's tunnel
      // (real-node-plan.ts); a loopback address would be refused as the `kubernetes` endpoint.
      `--advertise-address=${API_SERVICE_ADDRESS}`,
      `--secure-port=${ports["kube-apiserver"]}`,
      `--cert-dir=${layout.certs}`,
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      "--authorization-mode=Node,RBAC",
      `--token-auth-file=${layout.tokensFile}`,
      `--service-account-issuer=${SERVICE_ACCOUNT_ISSUER}`,
      `--api-audiences=${SERVICE_ACCOUNT_ISSUER}`,
      `--service-account-key-file=${layout.serviceAccountPub}`,
      `--service-account-signing-key-file=${layout.serviceAccountKey}`,
      "--enable-admission-plugins=PodSecurity,ResourceQuota,LimitRanger,ServiceAccount,NodeRestriction",
      "--allow-privileged=true",
      // Logs, exec and port-forward on real nodes: the API server calls the kubelet at the node's
      // InternalIP (no DNS knows node names here) with a certificate the kubelets trust.
      "--kubelet-preferred-address-types=InternalIP",
      `--kubelet-client-certificate=${layout.kubeletClient.cert}`,
      `--kubelet-client-key=${layout.kubeletClient.key}`,
      "--profiling=false",
    ],
    port: ports["kube-apiserver"],
    ready: { kind: "https", path: "/readyz" },
  };
}

function componentServing(name: string, layout: Layout, port: number, kubeconfig: string): string[] {
  return [
    `--kubeconfig=${kubeconfig}`,
    `--authentication-kubeconfig=${kubeconfig}`,
    `--authorization-kubeconfig=${kubeconfig}`,
    "--bind-address=127.0.0.1",
    `--secure-port=${port}`,
    `--cert-dir=${path.join(layout.certs, name)}`,
  ];
}

export function kubeconfigFile(layout: Layout, identity: string): string {
  return path.join(layout.kubeconfigDir, `${identity}.yaml`);
}

export function controllerManagerSpec(bin: string, layout: Layout, ports: Ports): ProcessSpec {
  const port = ports["kube-controller-manager"];
  return {
    name: "kube-controller-manager",
    command: bin,
    args: [
      ...componentServing("kube-controller-manager", layout, port, kubeconfigFile(layout, "controllerManager")),
      "--leader-elect=false",
      // Each controller acts as its own service account, as in a real cluster.
      "--use-service-account-credentials=true",
      `--service-account-private-key-file=${layout.serviceAccountKey}`,
      `--root-ca-file=${apiserverCertFile(layout)}`,
      "--cluster-name=gpk-local",
    ],
    port,
    ready: { kind: "tcp" },
  };
}

export function schedulerSpec(bin: string, layout: Layout, ports: Ports): ProcessSpec {
  const port = ports["kube-scheduler"];
  return {
    name: "kube-scheduler",
    command: bin,
    args: [...componentServing("kube-scheduler", layout, port, kubeconfigFile(layout, "scheduler")), "--leader-elect=false"],
    port,
    ready: { kind: "tcp" },
  };
}

/** The kit's gpk-scheduler: the same kube-scheduler binary on the configuration the stack rendered. */
export function gpkSchedulerSpec(bin: string, layout: Layout, ports: Ports): ProcessSpec {
  const port = ports["gpk-scheduler"];
  const kubeconfig = kubeconfigFile(layout, "gpk-scheduler");
  return {
    name: "gpk-scheduler",
    command: bin,
    args: [
      `--config=${layout.schedulerConfig}`,
      `--authentication-kubeconfig=${kubeconfig}`,
      `--authorization-kubeconfig=${kubeconfig}`,
      "--bind-address=127.0.0.1",
      `--secure-port=${port}`,
      `--cert-dir=${path.join(layout.certs, "gpk-scheduler")}`,
    ],
    port,
    ready: { kind: "tcp" },
  };
}

/** KWOK manages only the nodes annotated for it, so a real node added by hand is left alone. */
export const KWOK_NODE_ANNOTATION = { key: "kwok.x-k8s.io/node", value: "fake" } as const;

export function kwokSpec(bin: string, stagesFile: string, layout: Layout, ports: Ports): ProcessSpec {
  return {
    name: "kwok",
    command: bin,
    args: [
      `--kubeconfig=${kubeconfigFile(layout, "kwok")}`,
      `--config=${stagesFile}`,
      "--manage-all-nodes=false",
      `--manage-nodes-with-annotation-selector=${KWOK_NODE_ANNOTATION.key}=${KWOK_NODE_ANNOTATION.value}`,
      `--server-address=127.0.0.1:${ports.kwok}`,
      "--node-ip=127.0.0.1",
      "--cidr=10.244.0.1/16",
      "--node-lease-duration-seconds=40",
    ],
    port: ports.kwok,
    ready: { kind: "tcp" },
  };
}

/**
 * `gpk extender` with the stack's serving certificate, serving mutual TLS to the
 * `gpk-scheduler` identity as in the cluster; its plain-HTTP health port tells when it is up.
 */
export function extenderSpec(nodeBin: string, gpkBin: string, layout: Layout, ports: Ports, policy: string, clientName: string): ProcessSpec {
  return {
    name: "gpk-extender",
    command: nodeBin,
    args: [
      gpkBin, "extender", "--host", "127.0.0.1", "--port", String(ports["gpk-extender"]), "--policy", policy, "--kubeconfig", kubeconfigFile(layout, "gpk-extender"),
      ...tlsFolderArgs(tlsDir(layout, "gpk-extender"), clientName, ports["gpk-extender-health"]),
    ],
    port: ports["gpk-extender-health"],
    ready: { kind: "http", path: "/healthz" },
  };
}

/**
 * The scheduler configuration read back from the cluster, with only what a process outside
 * it needs changed: the extender's address (a Service name resolves only in-cluster; the
 * scheme and the TLS `serverName` stay, so the extender's certificate is still checked
 * against its Service name), the TLS files (the Secret's, where this process reads them),
 * and the kubeconfig of the `gpk-scheduler` service account (in-cluster it uses the pod's).
 */
export function localSchedulerConfig(inCluster: Record<string, unknown>, extenderAddress: string, kubeconfig: string, tlsFolder: string): Record<string, unknown> {
  const extenders = inCluster.extenders;
  if (!Array.isArray(extenders) || extenders.length !== 1) throw new Error("the rendered KubeSchedulerConfiguration has no single extender to point at the local one");
  const extender = extenders[0] as { urlPrefix?: string; tlsConfig?: Record<string, unknown> };
  const url = new URL(extender.urlPrefix ?? "");
  url.host = extenderAddress;
  const tlsConfig = extender.tlsConfig && Object.fromEntries(Object.entries(extender.tlsConfig).map(([key, value]) =>
    [key, key.endsWith("File") && typeof value === "string" ? path.join(tlsFolder, path.basename(value)) : value]));
  return {
    ...inCluster,
    clientConnection: { ...(inCluster.clientConnection as object | undefined), kubeconfig },
    extenders: [{ ...extender, urlPrefix: url.toString().replace(/\/$/, ""), ...(tlsConfig ? { tlsConfig } : {}) }],
  };
}

/** The API server's identity toward kubelets (the subject of its kubelet client certificate). */
export const KUBELET_CLIENT_USER = "kube-apiserver-kubelet-client";

/** Binds the API server's kubelet client to the bootstrap role for the kubelet API, and nothing more. */
export function kubeletClientRoleBinding() {
  return userClusterRoleBinding("gpk-kubelet-api-admin", "system:kubelet-api-admin", KUBELET_CLIENT_USER);
}

/** A ClusterRoleBinding of one ClusterRole to one user (a static-token or certificate identity). */
function userClusterRoleBinding(name: string, clusterRole: string, user: string) {
  return {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRoleBinding",
    metadata: { name },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: clusterRole },
    subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: user }],
  };
}

/** What each KWOK-faked kubelet may do: the verbs a kubelet uses on its node, its lease and its pods. */
export function kwokClusterRole() {
  return {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRole",
    metadata: { name: "gpk-kwok" },
    rules: [
      { apiGroups: [""], resources: ["nodes"], verbs: ["get", "list", "watch", "patch", "update"] },
      { apiGroups: [""], resources: ["nodes/status"], verbs: ["patch", "update"] },
      { apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch", "patch", "update", "delete"] },
      { apiGroups: [""], resources: ["pods/status"], verbs: ["patch", "update"] },
      { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get", "list", "watch", "create", "update", "patch"] },
      { apiGroups: ["", "events.k8s.io"], resources: ["events"], verbs: ["create", "patch", "update"] },
    ],
  };
}

export function kwokClusterRoleBinding() {
  return userClusterRoleBinding("gpk-kwok", "gpk-kwok", IDENTITIES.kwok.user);
}
