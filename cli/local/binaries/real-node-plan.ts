/**
 * A real node of the binaries runtime, as data: a kubelet and its own containerd in a mount and
 * network namespace of their own, so that several nodes can share one host. The namespaces
 * matter because the kubelet's device-plugin socket is always
 * /var/lib/kubelet/device-plugins/kubelet.sock (whatever --root-dir says), and CRI always uses
 * containerd's `k8s.io` namespace: two kubelets on one filesystem would meet there.
 *
 * Inside the node's namespaces:
 * - /var/lib/kubelet and /var/lib/gpk are bind mounts of the node's folder;
 * - `eth0` is one end of a veth pair, addressed NODE_LINK_NET.<i>.2 (the node's InternalIP);
 * - API_SERVICE_ADDRESS:<API server port>, on the node's loopback interface, reaches the host's
 *   API server through two socat processes and a unix socket in the node's folder: the API server
 *   keeps binding loopback only, and the `kubernetes` Service's endpoint (the address the API
 *   server advertises) means the same thing on every node;
 * - pods sit on a CNI bridge with the node's pod CIDR.
 * Killing the namespace holder and everything started inside removes the bridge, the veth, the
 * CNI iptables chains and every mount at once: they belong to namespaces nothing else uses.
 *
 * What this machine needed, each checked on it (the project's real-node design notes):
 * - kubelet 1.35 refuses cgroup v1 unless `failCgroupV1: false`; systemd is not PID 1, so
 *   `cgroupDriver: cgroupfs`;
 * - containerd's CRI `restrict_oom_score_adj`: without CAP_SYS_RESOURCE runc cannot write the
 *   pause container's negative oom_score_adj and every sandbox fails;
 * - `imageGCHighThresholdPercent: 100`: no registry can give back an image the kubelet deletes.
 */
import * as path from "node:path";
import { stringify } from "yaml";
import { API_SERVICE_ADDRESS } from "./plan";

/** The link network between the host and node i: 10.213.<i>.0/24, host .1, node .2. */
export const NODE_LINK_NET = "10.213";
/** Pod CIDR of node i: 10.214.<i>.0/24. */
export const POD_NET = "10.214";
/** Most real nodes one host runs (the link and pod networks are numbered by index). */
export const MAX_REAL_NODES = 8;

export interface RealNodeTaint {
  key: string;
  value?: string;
  effect: string;
}

export interface RealNodeSpec {
  name: string;
  /** 0-based: numbers the node's networks and its host link. */
  index: number;
  labels: Record<string, string>;
  taints: RealNodeTaint[];
}

export interface RealNodeLayout {
  dir: string;
  kubeletDir: string;
  /** Bind-mounted on /var/lib/gpk (the simulated GPUs' tools and state live there). */
  gpkDir: string;
  containerdRoot: string;
  containerdState: string;
  containerdSocket: string;
  containerdConfig: string;
  cniConfDir: string;
  cniIpamDir: string;
  kubeletConfig: string;
  kubeconfig: string;
  kubeProxyConfig: string;
  kubeProxyKubeconfig: string;
  podLogsDir: string;
  /** Unix socket the host-side socat serves, forwarding to the API server. */
  apiSocket: string;
}

export function realNodeLayout(clusterRoot: string, name: string): RealNodeLayout {
  const dir = path.join(clusterRoot, "nodes", name);
  return {
    dir,
    kubeletDir: path.join(dir, "kubelet"),
    gpkDir: path.join(dir, "gpk"),
    containerdRoot: path.join(dir, "containerd", "root"),
    containerdState: path.join(dir, "containerd", "state"),
    containerdSocket: path.join(dir, "containerd.sock"),
    containerdConfig: path.join(dir, "containerd.toml"),
    cniConfDir: path.join(dir, "cni", "net.d"),
    cniIpamDir: path.join(dir, "cni", "ipam"),
    kubeletConfig: path.join(dir, "kubelet-config.yaml"),
    kubeconfig: path.join(dir, "kubeconfig"),
    kubeProxyConfig: path.join(dir, "kube-proxy-config.yaml"),
    kubeProxyKubeconfig: path.join(dir, "kube-proxy.kubeconfig"),
    podLogsDir: path.join(dir, "pod-logs"),
    apiSocket: path.join(dir, "api.sock"),
  };
}

export interface NodeAddresses {
  hostLink: string;
  hostAddress: string;
  nodeAddress: string;
  podCidr: string;
  bridge: string;
}

export function nodeAddresses(index: number): NodeAddresses {
  if (!Number.isInteger(index) || index < 0 || index >= MAX_REAL_NODES) throw new Error(`real node index ${index}: expected 0..${MAX_REAL_NODES - 1}`);
  return {
    hostLink: `gpkn${index}`,
    hostAddress: `${NODE_LINK_NET}.${index}.1`,
    nodeAddress: `${NODE_LINK_NET}.${index}.2`,
    podCidr: `${POD_NET}.${index}.0/24`,
    bridge: "gpkbr0",
  };
}

/** Debian's containernetworking-plugins install here. */
export const CNI_BIN_DIR = "/usr/lib/cni";

/** containerd 1.6+ config (version 2): its own root, state and socket; the locally built pause image. */
export function containerdConfig(layout: RealNodeLayout, pauseImage: string): string {
  return [
    "version = 2",
    `root = ${JSON.stringify(layout.containerdRoot)}`,
    `state = ${JSON.stringify(layout.containerdState)}`,
    "[grpc]",
    `  address = ${JSON.stringify(layout.containerdSocket)}`,
    "[ttrpc]",
    `  address = ${JSON.stringify(`${layout.containerdSocket}.ttrpc`)}`,
    '[plugins."io.containerd.grpc.v1.cri"]',
    `  sandbox_image = ${JSON.stringify(pauseImage)}`,
    "  restrict_oom_score_adj = true",
    '  [plugins."io.containerd.grpc.v1.cri".cni]',
    `    bin_dir = ${JSON.stringify(CNI_BIN_DIR)}`,
    `    conf_dir = ${JSON.stringify(layout.cniConfDir)}`,
    "",
  ].join("\n");
}

/** The pod network: a bridge with the node's pod CIDR, masquerade out, and port mappings. */
export function cniConflist(spec: RealNodeSpec, layout: RealNodeLayout): object {
  const net = nodeAddresses(spec.index);
  return {
    cniVersion: "1.0.0",
    name: "gpk-pods",
    plugins: [
      {
        type: "bridge",
        bridge: net.bridge,
        isGateway: true,
        ipMasq: true,
        hairpinMode: true,
        ipam: { type: "host-local", dataDir: layout.cniIpamDir, ranges: [[{ subnet: net.podCidr }]], routes: [{ dst: "0.0.0.0/0" }] },
      },
      { type: "portmap", capabilities: { portMappings: true } },
    ],
  };
}

export interface KubeletPorts {
  kubelet: number;
  healthz: number;
}

/** The kubelet's usual ports: each node has a network namespace of its own, so they never collide. */
export const REAL_NODE_KUBELET_PORTS: KubeletPorts = { kubelet: 10250, healthz: 10248 };

/**
 * The KubeletConfiguration (kubelet.config.k8s.io/v1beta1). The kubelet serves on its node
 * address; it authenticates callers by a certificate from `clientCaFile` (the API server's
 * kubelet client) or by TokenReview, authorizes them with SubjectAccessReview, and never lets
 * an anonymous caller in.
 */
export function kubeletConfiguration(spec: RealNodeSpec, layout: RealNodeLayout, ports: KubeletPorts, clientCaFile: string): string {
  return stringify({
    apiVersion: "kubelet.config.k8s.io/v1beta1",
    kind: "KubeletConfiguration",
    failCgroupV1: false,
    cgroupDriver: "cgroupfs",
    containerRuntimeEndpoint: `unix://${layout.containerdSocket}`,
    address: nodeAddresses(spec.index).nodeAddress,
    port: ports.kubelet,
    readOnlyPort: 0,
    healthzBindAddress: "127.0.0.1",
    healthzPort: ports.healthz,
    authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: clientCaFile } },
    authorization: { mode: "Webhook" },
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    // The host's resolv.conf may point at a loopback resolver no pod can reach.
    resolvConf: "",
    podLogsDir: layout.podLogsDir,
    registerWithTaints: spec.taints.map((t) => ({ key: t.key, ...(t.value !== undefined ? { value: t.value } : {}), effect: t.effect })),
    failSwapOn: false,
    // No static pods: everything a node runs comes through the API server.
    staticPodPath: "",
    serializeImagePulls: false,
  });
}

export function kubeletArgs(spec: RealNodeSpec, layout: RealNodeLayout): string[] {
  const labels = Object.entries(spec.labels).map(([k, v]) => `${k}=${v}`).sort().join(",");
  return [
    `--config=${layout.kubeletConfig}`,
    `--kubeconfig=${layout.kubeconfig}`,
    `--root-dir=/var/lib/kubelet`,
    `--cert-dir=/var/lib/kubelet/pki`,
    `--hostname-override=${spec.name}`,
    `--node-ip=${nodeAddresses(spec.index).nodeAddress}`,
    ...(labels ? [`--node-labels=${labels}`] : []),
  ];
}

/** kube-proxy's health port, inside the node's network namespace (its readiness probe). */
export const KUBE_PROXY_HEALTHZ_PORT = 10256;

/** Every real node's pods, for kube-proxy's idea of what is cluster traffic. */
export const CLUSTER_POD_CIDR = `${POD_NET}.0.0/16`;

/**
 * kube-proxy (kubeproxy.config.k8s.io/v1alpha1) in iptables mode inside the node's network
 * namespace: Services reach the node's pods, and the `kubernetes` Service reaches the API tunnel.
 * The conntrack sizes are left alone: they are the host's.
 */
export function kubeProxyConfiguration(spec: RealNodeSpec, layout: RealNodeLayout): string {
  return stringify({
    apiVersion: "kubeproxy.config.k8s.io/v1alpha1",
    kind: "KubeProxyConfiguration",
    clientConnection: { kubeconfig: layout.kubeProxyKubeconfig },
    hostnameOverride: spec.name,
    mode: "iptables",
    clusterCIDR: CLUSTER_POD_CIDR,
    bindAddress: nodeAddresses(spec.index).nodeAddress,
    metricsBindAddress: "127.0.0.1:10249",
    healthzBindAddress: `127.0.0.1:${KUBE_PROXY_HEALTHZ_PORT}`,
    conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: "0s", tcpCloseWaitTimeout: "0s" },
  });
}

/**
 * The shell the namespace holder runs: the binds the node needs, then it waits forever. Every
 * process of the node enters its namespaces with `nsenter --target <holder pid> --mount --net`.
 */
export function holderScript(layout: RealNodeLayout): string {
  return [
    "set -e",
    "mount --make-rprivate /",
    "mkdir -p /var/lib/kubelet /var/lib/gpk /var/run/netns",
    `mount --bind ${JSON.stringify(layout.kubeletDir)} /var/lib/kubelet`,
    `mount --bind ${JSON.stringify(layout.gpkDir)} /var/lib/gpk`,
    // Pod network namespaces are bind-mounted here: a tmpfs of the node's own keeps them off the host.
    "mount -t tmpfs tmpfs /var/run/netns",
    "ip link set lo up",
    `ip addr add ${API_SERVICE_ADDRESS}/32 dev lo`,
    "exec sleep infinity",
  ].join("\n");
}
