/**
 * The binaries runtime's plan: every process on loopback with the flags a working cluster
 * needs, KWOK nodes that match the kind runtime's workers, and the two places where the
 * local gpk-scheduler's configuration differs from the one the stack renders.
 */
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { kwokNodes } from "../../cli/local/binaries/nodes";
import {
  API_SERVICE_ADDRESS,
  KUBELET_CLIENT_USER,
  apiserverSpec,
  kubeletClientRoleBinding,
  controllerManagerSpec,
  extenderSpec,
  gpkSchedulerSpec,
  kineSpec,
  kubeconfigYaml,
  kwokSpec,
  layoutOf,
  localSchedulerConfig,
  schedulerSpec,
  tokenFile,
  type Ports,
} from "../../cli/local/binaries/plan";
import { binariesStackConfig } from "../../cli/local/binaries/pulumi";
import { kindClusterConfig } from "../../cli/local/kind-config";
import { readStackConfig, stackFile } from "../../cli/render/stack-files";
import { kubeSchedulerConfiguration } from "../../components/scheduler-extender";
import { gpkKeys, parseStackConfig } from "../../stacks/load-config";
import * as fs from "node:fs";

const layout = layoutOf("/repo", "local");
const ports: Ports = { kine: 1, kineMetrics: 2, "kube-apiserver": 3, "kube-controller-manager": 4, "kube-scheduler": 5, kwok: 6, "gpk-extender": 7, "gpk-extender-health": 9, "gpk-scheduler": 8 };
const specs = [
  kineSpec("kine", layout, ports),
  apiserverSpec("kube-apiserver", layout, ports),
  controllerManagerSpec("kube-controller-manager", layout, ports),
  schedulerSpec("kube-scheduler", layout, ports),
  kwokSpec("kwok", "/stages.yaml", layout, ports),
  extenderSpec("node", "/repo/bin/gpk.js", layout, ports, "gpk", "gpk-scheduler"),
  gpkSchedulerSpec("kube-scheduler", layout, ports),
];

function localConfig() {
  const config = parseStackConfig(gpkKeys(readStackConfig(stackFile("local"))));
  if (config.target !== "kind") throw new Error("local must be a kind stack");
  return config;
}

describe("binaries runtime processes", () => {
  it("bind every listener to 127.0.0.1 and each to its own port", () => {
    for (const spec of specs) {
      const joined = spec.args.join(" ");
      expect(joined, spec.name).not.toMatch(/0\.0\.0\.0|:::/);
      // The advertised address is no listener: it names the real nodes' tunnel (below).
      const addresses = [...joined.matchAll(/(?<!advertise-)(?:address|host)[= ](\S+)/g)].map((m) => m[1]!);
      expect(addresses.length, spec.name).toBeGreaterThan(0);
      for (const a of addresses) expect(a, spec.name).toMatch(/^127\.0\.0\.1(:\d+)?$/);
    }
    expect(new Set(specs.map((s) => s.port)).size).toBe(specs.length);
  });

  it("advertise the address real nodes reach the API server at, which Endpoints validation accepts (not loopback)", () => {
    const apiserver = specs.find((s) => s.name === "kube-apiserver")!;
    expect(apiserver.args).toContain(`--advertise-address=${API_SERVICE_ADDRESS}`);
    expect(apiserver.args).toContain("--bind-address=127.0.0.1");
    expect(API_SERVICE_ADDRESS).not.toMatch(/^127\./);
    expect(apiserver.args.join(" ")).not.toContain("--endpoint-reconciler-type");
  });

  it("give the API server a kubelet client certificate, and call kubelets at their InternalIP", () => {
    const apiserver = specs.find((s) => s.name === "kube-apiserver")!;
    const layout = layoutOf("/repo", "local");
    expect(apiserver.args).toContain(`--kubelet-client-certificate=${layout.kubeletClient.cert}`);
    expect(apiserver.args).toContain(`--kubelet-client-key=${layout.kubeletClient.key}`);
    expect(apiserver.args).toContain("--kubelet-preferred-address-types=InternalIP");
    // Bound to the bootstrap role for the kubelet API only, not to system:masters.
    const binding = kubeletClientRoleBinding();
    expect(binding.roleRef.name).toBe("system:kubelet-api-admin");
    expect(binding.subjects).toEqual([{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: KUBELET_CLIENT_USER }]);
  });

  it("run the API server with RBAC, token-signed service accounts and the admission plugins the e2e relies on", () => {
    const args = apiserverSpec("kube-apiserver", layout, ports).args;
    expect(args).toContain("--authorization-mode=Node,RBAC");
    expect(args).toContain("--etcd-servers=http://127.0.0.1:1");
    expect(args).toContain(`--service-account-signing-key-file=${layout.serviceAccountKey}`);
    expect(args).toContain(`--service-account-key-file=${layout.serviceAccountPub}`);
    const plugins = args.find((a) => a.startsWith("--enable-admission-plugins="))!.split("=")[1]!.split(",");
    expect(plugins).toEqual(expect.arrayContaining(["PodSecurity", "ResourceQuota", "LimitRanger", "ServiceAccount"]));
  });

  it("give the controller manager per-controller service accounts and the signing key", () => {
    const args = controllerManagerSpec("kcm", layout, ports).args;
    expect(args).toContain("--use-service-account-credentials=true");
    expect(args).toContain(`--service-account-private-key-file=${layout.serviceAccountKey}`);
  });

  it("let KWOK manage only the nodes annotated for it", () => {
    const args = kwokSpec("kwok", "/stages.yaml", layout, ports).args;
    expect(args).toContain("--manage-all-nodes=false");
    expect(args).toContain("--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake");
    expect(args).toContain("--config=/stages.yaml");
  });

  it("write one token line per identity, admin alone in system:masters", () => {
    const lines = tokenFile({ admin: "a", controllerManager: "c", scheduler: "s", kwok: "k", kubeProxy: "p" }).trim().split("\n");
    expect(lines).toEqual([
      'a,gpk-admin,gpk-admin,"system:masters"',
      'c,system:kube-controller-manager,system:kube-controller-manager,""',
      's,system:kube-scheduler,system:kube-scheduler,""',
      'k,gpk-kwok,gpk-kwok,""',
      'p,system:kube-proxy,system:kube-proxy,""',
    ]);
  });

  it("write kubeconfigs kubectl can read", () => {
    const doc = parse(kubeconfigYaml("https://127.0.0.1:3", "-----BEGIN CERTIFICATE-----\nx\n", "u", "t"));
    expect(doc["current-context"]).toBe("gpk-local");
    expect(doc.clusters[0].cluster.server).toBe("https://127.0.0.1:3");
    expect(Buffer.from(doc.clusters[0].cluster["certificate-authority-data"], "base64").toString()).toContain("BEGIN CERTIFICATE");
    expect(doc.users[0]).toEqual({ name: "u", user: { token: "t" } });
  });
});

describe("KWOK nodes", () => {
  const config = localConfig();
  const nodes = kwokNodes(config);

  it("carry the labels and taints of the kind runtime's workers, one per simulated GPU node", () => {
    const workers = kindClusterConfig(config).nodes.filter((n) => n.role === "worker");
    const gpuNodes = nodes.filter((n) => Object.keys(n.status.capacity).some((r) => r.startsWith("nvidia.com/")));
    expect(gpuNodes).toHaveLength(workers.length);
    for (const [i, node] of gpuNodes.entries()) {
      expect(node.metadata.labels).toMatchObject(workers[i]!.labels!);
      const joinTaints = parse(workers[i]!.kubeadmConfigPatches![0]!).nodeRegistration.taints;
      expect(node.spec.taints).toEqual(joinTaints);
      expect(node.metadata.annotations).toEqual({ "kwok.x-k8s.io/node": "fake" });
    }
  });

  it("advertise GPUs × time-slicing replicas, as the device plugin would", () => {
    const pool = config.nodePools[0]!;
    const gpuNode = nodes.find((n) => n.metadata.name === `${config.cluster.name}-${pool.name}-0`)!;
    expect(gpuNode.status.allocatable["nvidia.com/gpu"]).toBe(String(pool.gpusPerNode! * (pool.timeSlicingReplicas ?? 1)));
    const timeSliced = kwokNodes({ ...config, nodePools: [{ ...pool, timeSlicingReplicas: 4 }] });
    expect(timeSliced[1]!.status.allocatable["nvidia.com/gpu"]).toBe(String(pool.gpusPerNode! * 4));
  });

  it("advertise a MIG pool's devices, not its GPUs: 2 H100s × 7 MIG 1g.10gb under the mixed strategy", () => {
    const mig = nodes.find((n) => n.metadata.name === `${config.cluster.name}-sim-h100-mig-0`)!;
    expect(mig.status.allocatable).toMatchObject({ "nvidia.com/mig-1g.10gb": "14", cpu: "48" });
    expect(mig.status.allocatable["nvidia.com/gpu"]).toBeUndefined();
    const single = kwokNodes({ ...config, nodePools: [{ ...config.nodePools[0]!, mig: { strategy: "single", profile: "all-3g.40gb" } }] });
    expect(single[1]!.status.allocatable["nvidia.com/gpu"]).toBe(String(config.nodePools[0]!.gpusPerNode! * 2));
    expect(single[1]!.metadata.labels["nvidia.com/gpu.product"]).toBe("NVIDIA-H100-80GB-HBM3-MIG-3g.40gb");
  });

  it("keep one untainted node without GPUs for the platform's own pods", () => {
    const system = nodes[0]!;
    expect(system.metadata.name).toBe(`${config.cluster.name}-control-plane`);
    expect(system.spec.taints).toBeUndefined();
    expect(system.status.capacity["nvidia.com/gpu"]).toBeUndefined();
  });
});

describe("the local gpk-scheduler configuration", () => {
  const rendered = kubeSchedulerConfiguration({ namespace: "gpk-system", weight: 5, percentageOfNodesToScore: 100, httpTimeout: "5s" }) as unknown as Record<string, unknown>;

  it("differs from the rendered one only in the extender's address, the TLS files' folder and the client kubeconfig", () => {
    const local = localSchedulerConfig(rendered, "127.0.0.1:7", "/k.yaml", "/tls/gpk-scheduler") as any;
    expect(local.extenders[0].urlPrefix).toBe("https://127.0.0.1:7");
    // The certificate is still checked against the Service name it was issued for.
    expect(local.extenders[0].tlsConfig).toEqual({
      serverName: "gpk-scheduler-extender.gpk-system.svc",
      certFile: "/tls/gpk-scheduler/tls.crt", keyFile: "/tls/gpk-scheduler/tls.key", caFile: "/tls/gpk-scheduler/ca.crt",
    });
    expect(local.clientConnection).toEqual({ kubeconfig: "/k.yaml" });
    const { extenders: a, clientConnection: _c, ...restLocal } = local;
    const { extenders: b, ...restRendered } = rendered as any;
    expect(restLocal).toEqual(restRendered);
    expect({ ...a[0], urlPrefix: undefined, tlsConfig: undefined }).toEqual({ ...b[0], urlPrefix: undefined, tlsConfig: undefined });
    expect(b[0].enableHTTPS).toBe(true);
  });

  it("refuses a configuration without exactly one extender", () => {
    expect(() => localSchedulerConfig({ ...rendered, extenders: [] }, "127.0.0.1:7", "/k", "/tls")).toThrow(/no single extender/);
  });
});

describe("the binaries workspace's stack config", () => {
  it("is the stack file's config with the local kubeconfig, KubeRay CRDs without the chart, and no metrics-adapter chart", () => {
    const text = fs.readFileSync(stackFile("local"), "utf8");
    const config = binariesStackConfig(text, "/k.yaml") as Record<string, any>;
    const original = parse(text).config;
    expect(config["gpk:cluster"]).toEqual({ ...original["gpk:cluster"], kubeconfig: "/k.yaml" });
    expect(config["gpk:ray"]).toEqual({ ...original["gpk:ray"], operator: "crds-only" });
    expect(config["gpk:telemetry"]).toEqual({ ...(original["gpk:telemetry"] ?? {}), servingMetrics: { source: "external" } });
    const { "gpk:cluster": _a, "gpk:ray": _b, "gpk:telemetry": _t, ...rest } = config;
    const { "gpk:cluster": _c, "gpk:ray": _d, "gpk:telemetry": _u, ...restOriginal } = original;
    expect(rest).toEqual(restOriginal);
  });
});
