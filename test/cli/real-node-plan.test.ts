import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { planNodes } from "../../cli/local/binaries/nodes";
import {
  MAX_REAL_NODES,
  cniConflist,
  containerdConfig,
  holderScript,
  kubeletArgs,
  kubeletConfiguration,
  nodeAddresses,
  realNodeLayout,
  type RealNodeSpec,
} from "../../cli/local/binaries/real-node-plan";
import { GPU_TAINT } from "../../gpu";
import { gpkKeys, parseStackConfig } from "../../stacks/load-config";
import { readStackConfig, stackFile } from "../../cli/render/stack-files";

function localConfig() {
  const config = parseStackConfig(gpkKeys(readStackConfig(stackFile("local"))));
  if (config.target !== "kind") throw new Error("local must be a kind stack");
  return config;
}

const config = localConfig();
const spec: RealNodeSpec = planNodes(config, 1).real[0]!;
const layout = realNodeLayout("/c", spec.name);

describe("the nodes of the binaries runtime", () => {
  it("make the first node of the first GPU pool real and keep every other node KWOK", () => {
    const all = planNodes(config, 0);
    expect(all.real).toEqual([]);
    const one = planNodes(config, 1);
    expect(one.real.map((n) => n.name)).toEqual([`${config.cluster.name}-${config.nodePools[0]!.name}-0`]);
    expect(one.kwok.map((n) => n.metadata.name)).toEqual(all.kwok.map((n) => n.metadata.name).filter((n) => n !== one.real[0]!.name));
  });

  it("give the real node exactly the pool's labels and taints, as its KWOK twin carries them", () => {
    const twin = planNodes(config, 0).kwok.find((n) => n.metadata.name === spec.name)!;
    for (const [k, v] of Object.entries(spec.labels)) expect(twin.metadata.labels[k]).toBe(v);
    expect(Object.keys(twin.metadata.labels).filter((k) => !(k in spec.labels)).sort()).toEqual(["kubernetes.io/arch", "kubernetes.io/hostname", "kubernetes.io/os", "type"]);
    expect(spec.taints).toEqual(twin.spec.taints);
    expect(spec.taints).toContainEqual(GPU_TAINT);
  });

  it("refuse a count it cannot run, naming the flag", () => {
    expect(() => planNodes(config, 2)).toThrow("--real-nodes: expected 0 to 1 (the first node of the first GPU pool), got 2");
    expect(() => planNodes(config, -1)).toThrow("--real-nodes");
  });
});

describe("a real node's configuration", () => {
  it("numbers each node's link and pod networks by its index, and refuses one past the last", () => {
    expect(nodeAddresses(0)).toEqual({ hostLink: "gpkn0", hostAddress: "10.213.0.1", nodeAddress: "10.213.0.2", podCidr: "10.214.0.0/24", bridge: "gpkbr0" });
    expect(nodeAddresses(3).podCidr).toBe("10.214.3.0/24");
    expect(() => nodeAddresses(MAX_REAL_NODES)).toThrow(`real node index ${MAX_REAL_NODES}`);
  });

  it("runs containerd on its own root, state and socket, with the CRI settings this machine needs", () => {
    const toml = containerdConfig(layout, "gpk.local/pause:3.10.1@sha256:ab");
    expect(toml).toContain(`root = "/c/nodes/${spec.name}/containerd/root"`);
    expect(toml).toContain(`address = "/c/nodes/${spec.name}/containerd.sock"`);
    expect(toml).toContain('sandbox_image = "gpk.local/pause:3.10.1@sha256:ab"');
    // Without it every sandbox fails here: no CAP_SYS_RESOURCE for a negative oom_score_adj.
    expect(toml).toContain("restrict_oom_score_adj = true");
    expect(toml).toContain(`conf_dir = "/c/nodes/${spec.name}/cni/net.d"`);
  });

  it("configures the kubelet for cgroup v1 under cgroupfs, never anonymous, keeping local images", () => {
    const kc = parse(kubeletConfiguration(spec, layout, { kubelet: 10250, healthz: 10248 }, "/c/certs/kubelet-client-ca.crt"));
    expect(kc).toMatchObject({
      kind: "KubeletConfiguration",
      failCgroupV1: false,
      cgroupDriver: "cgroupfs",
      containerRuntimeEndpoint: `unix:///c/nodes/${spec.name}/containerd.sock`,
      address: "10.213.0.2",
      readOnlyPort: 0,
      authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: "/c/certs/kubelet-client-ca.crt" } },
      authorization: { mode: "Webhook" },
      imageGCHighThresholdPercent: 100,
    });
    expect(kc.registerWithTaints).toEqual(spec.taints);
    const args = kubeletArgs(spec, layout);
    expect(args).toContain(`--hostname-override=${spec.name}`);
    expect(args).toContain("--node-ip=10.213.0.2");
    const labels = args.find((a) => a.startsWith("--node-labels="))!.slice("--node-labels=".length).split(",");
    expect(labels.sort()).toEqual(Object.entries(spec.labels).map(([k, v]) => `${k}=${v}`).sort());
  });

  it("puts pods on the node's own bridge and pod CIDR", () => {
    const conf = cniConflist(spec, layout) as { plugins: any[] };
    expect(conf.plugins[0]).toMatchObject({ type: "bridge", bridge: "gpkbr0", ipam: { type: "host-local", ranges: [[{ subnet: "10.214.0.0/24" }]] } });
    expect(conf.plugins.map((p) => p.type)).toEqual(["bridge", "portmap"]);
  });

  it("binds the kubelet's fixed paths to the node's folder inside its own mount namespace", () => {
    const script = holderScript(layout);
    expect(script).toContain(`mount --bind "/c/nodes/${spec.name}/kubelet" /var/lib/kubelet`);
    expect(script).toContain(`mount --bind "/c/nodes/${spec.name}/gpk" /var/lib/gpk`);
    expect(script.trim().split("\n").at(-1)).toBe("exec sleep infinity");
  });
});
