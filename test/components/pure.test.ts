import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { GPU_RESOURCE } from "../../gpu";
import { eksTaintEffect, poolNodeLabels, poolNodeTaints, poolSummary, resolvePoolHardware } from "../../components/gpu-node-group";
import { devicePluginChartValues, devicePluginConfig } from "../../components/nvidia-device-plugin";
import { tenantNetworkPolicySpecs, tenantQuotaHard, tenantRoleRules } from "../../components/tenant";
import { eksKubeconfig } from "../../components/eks-cluster";
import { restrictedContainerSecurity, restrictedPodSecurity } from "../../components/pod-security";
import { IMAGES, imageRef } from "../../components/pins";

describe("GPU pools", () => {
  it("derives product and GPU count from the EC2 instance type on eks", () => {
    expect(resolvePoolHardware("eks", { name: "p", instanceType: "g6e.12xlarge", desiredNodes: 1, maxNodes: 1 })).toEqual({ product: "l40s", gpusPerNode: 4 });
    expect(() => resolvePoolHardware("eks", { name: "p", instanceType: "m5.large", desiredNodes: 1, maxNodes: 1 })).toThrow(/`pool.instanceType` must be a known EC2 GPU instance type, got "m5.large"/);
  });

  it("computes capacity as max nodes × GPUs × time-slicing replicas", () => {
    const summary = poolSummary("kind", { name: "sim", product: "a10g", gpusPerNode: 2, desiredNodes: 1, maxNodes: 3, timeSlicingReplicas: 4 });
    expect(summary.gpuCapacity).toBe(24);
    expect(summary.nodeLabels["nvidia.com/gpu.replicas"]).toBe("4");
    expect(summary).toMatchObject({ minNodes: 0, migStrategy: "none" });
  });

  it("counts MIG devices as the NVIDIA plugin advertises them: per profile under mixed, as nvidia.com/gpu under single", () => {
    const mixed = poolSummary("kind", { name: "m", product: "h100", gpusPerNode: 2, desiredNodes: 1, maxNodes: 3, mig: { strategy: "mixed", profile: { "3g.40gb": 1, "1g.10gb": 4 } } });
    expect(mixed).toMatchObject({
      migStrategy: "mixed", gpuCapacity: 0,
      nodeResources: { "nvidia.com/mig-1g.10gb": 8, "nvidia.com/mig-3g.40gb": 2 },
      migCapacity: { "nvidia.com/mig-1g.10gb": 24, "nvidia.com/mig-3g.40gb": 6 },
      mig: { strategy: "mixed", configName: "gpk-m", devicesPerGpu: { "1g.10gb": 4, "3g.40gb": 1 } },
    });
    expect(mixed.nodeLabels).toMatchObject({
      "nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3", "nvidia.com/gpu.count": "2", "nvidia.com/mig.config": "gpk-m",
      "nvidia.com/mig-1g.10gb.count": "8", "nvidia.com/mig-1g.10gb.memory": "9984", "nvidia.com/mig-3g.40gb.count": "2", "nvidia.com/mig-3g.40gb.memory": "40320",
    });
    // Time-sliced MIG devices are advertised replicas times.
    const single = poolSummary("kind", { name: "s", product: "a100", gpusPerNode: 8, desiredNodes: 1, maxNodes: 2, timeSlicingReplicas: 2, mig: { strategy: "single", profile: "all-2g.20gb" } });
    expect(single).toMatchObject({ gpuCapacity: 96, nodeResources: { [GPU_RESOURCE]: 48 }, migCapacity: {} });
    expect(single.nodeLabels).toMatchObject({ "nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB-MIG-2g.20gb", "nvidia.com/gpu.count": "24", "nvidia.com/mig.strategy": "single" });
    // No capture gives the A100's 2g.20gb framebuffer, so no memory label rather than a guess.
    expect(single.nodeLabels["nvidia.com/gpu.memory"]).toBeUndefined();
    expect(() => poolSummary("kind", { name: "x", product: "l4", gpusPerNode: 1, desiredNodes: 1, maxNodes: 1, mig: { strategy: "mixed", profile: "all-1g.10gb" } })).toThrow(/l4 GPUs have no MIG/);
  });

  it("taints every GPU node and adds the tenant taint to a dedicated pool", () => {
    expect(poolNodeTaints({ name: "p", desiredNodes: 1, maxNodes: 1 })).toEqual([{ key: "nvidia.com/gpu", value: "present", effect: "NoSchedule" }]);
    expect(poolNodeTaints({ name: "p", desiredNodes: 1, maxNodes: 1, dedicatedTenant: "ml" })).toEqual([
      { key: "nvidia.com/gpu", value: "present", effect: "NoSchedule" },
      { key: "gpk.dev/tenant", value: "ml", effect: "NoSchedule" },
    ]);
    expect(eksTaintEffect("NoSchedule")).toBe("NO_SCHEDULE");
    expect(eksTaintEffect("PreferNoSchedule")).toBe("PREFER_NO_SCHEDULE");
  });

  it("labels nodes like GPU Feature Discovery does", () => {
    expect(poolNodeLabels({ name: "train", desiredNodes: 1, maxNodes: 1 }, "h100", 8)).toEqual({
      "gpk.dev/pool": "train",
      "nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3",
      "nvidia.com/gpu.count": "8",
      "nvidia.com/gpu.memory": "81559",
      "nvidia.com/gpu.replicas": "1",
      "nvidia.com/device-plugin.config": "train",
    });
  });
});

describe("NVIDIA device plugin config", () => {
  const opts = { failOnInitError: true, deviceListStrategy: "envvar" as const, renameByDefault: false };
  it("adds time-slicing only to shared pools", () => {
    expect(devicePluginConfig({ timeSlicingReplicas: 1, migStrategy: "none", nodeResources: { [GPU_RESOURCE]: 8 } }, opts)).not.toHaveProperty("sharing");
    expect(devicePluginConfig({ timeSlicingReplicas: 4, migStrategy: "single", nodeResources: { [GPU_RESOURCE]: 8 } }, { ...opts, renameByDefault: true })).toMatchObject({
      flags: { migStrategy: "single" },
      sharing: { timeSlicing: { renameByDefault: true, failRequestsGreaterThanOne: true, resources: [{ name: GPU_RESOURCE, replicas: 4 }] } },
    });
  });

  it("renders one named config per pool as YAML", () => {
    const pools = [poolSummary("kind", { name: "a", product: "h100", gpusPerNode: 8, desiredNodes: 1, maxNodes: 1, timeSlicingReplicas: 2 }), poolSummary("kind", { name: "b", product: "l4", gpusPerNode: 1, desiredNodes: 1, maxNodes: 1 })];
    const values = devicePluginChartValues({ target: "eks", pools, deviceListStrategy: "cdi-cri", failOnInitError: false }) as any;
    expect(values.config.default).toBe("a");
    expect(parse(values.config.map.a).sharing.timeSlicing.resources[0].replicas).toBe(2);
    expect(parse(values.config.map.b).flags).toMatchObject({ failOnInitError: false, plugin: { deviceListStrategy: ["cdi-cri"] } });
  });

  it("pins the plugin image by digest, not by the chart's bare tag", () => {
    const pools = [poolSummary("kind", { name: "a", product: "h100", gpusPerNode: 8, desiredNodes: 1, maxNodes: 1 })];
    const { image } = devicePluginChartValues({ target: "eks", pools }) as any;
    // The chart renders `<repository>:<tag>`; that must be the pinned reference.
    expect(`${image.repository}:${image.tag}`).toBe(imageRef(IMAGES.nvidiaDevicePlugin));
    expect(image.tag).toMatch(/^v\d+\.\d+\.\d+@sha256:[0-9a-f]{64}$/);
  });
});

describe("tenants", () => {
  it("caps GPUs, CPU and memory in the quota", () => {
    expect(tenantQuotaHard({ name: "t", gpuQuota: 3, allowedPools: ["p"], cpuQuota: "8" })).toEqual({
      "requests.nvidia.com/gpu": "3", "requests.cpu": "8", "requests.memory": "256Gi", "limits.cpu": "8", "limits.memory": "256Gi",
    });
  });
  it("denies all traffic by default and allows DNS and same-namespace traffic", () => {
    const specs = tenantNetworkPolicySpecs();
    expect(Object.keys(specs)).toEqual(["default-deny", "allow-dns", "allow-same-namespace"]);
    expect((specs["allow-dns"]!.egress as unknown[])[0]).toMatchObject({ ports: [{ protocol: "UDP", port: 53 }, { protocol: "TCP", port: 53 }] });
  });
  it("grants no wildcard and nothing about RBAC or quotas", () => {
    const rules = tenantRoleRules();
    expect(rules.length).toBeGreaterThan(0); // an empty role would pass every check below
    for (const rule of rules) {
      expect(rule.verbs).not.toContain("*");
      expect(rule.resources).not.toContain("*");
      expect(rule.apiGroups).not.toContain("rbac.authorization.k8s.io");
      if (rule.resources.includes("resourcequotas")) expect(rule.verbs).toEqual(["get", "list", "watch"]);
    }
  });
});

describe("EKS kubeconfig", () => {
  it("authenticates with aws eks get-token", () => {
    const config = parse(eksKubeconfig("c", "https://x", "Q0E="));
    expect(config.clusters[0].cluster).toEqual({ server: "https://x", "certificate-authority-data": "Q0E=" });
    expect(config.users[0].user.exec.command).toBe("aws");
  });
});

describe("Pod Security restricted", () => {
  it("keeps the image's user unless one is given, and adds fsGroup only when asked", () => {
    expect(restrictedPodSecurity()).toEqual({ runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
    expect(restrictedPodSecurity({ uid: 1000, gid: 100, fsGroup: 100 })).toEqual({
      runAsNonRoot: true, runAsUser: 1000, runAsGroup: 100, fsGroup: 100, seccompProfile: { type: "RuntimeDefault" },
    });
    expect(restrictedContainerSecurity()).toEqual({
      runAsNonRoot: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] }, seccompProfile: { type: "RuntimeDefault" },
    });
    expect(restrictedContainerSecurity({ runAs: { uid: 1000, gid: 1000 }, readOnlyRootFilesystem: true })).toMatchObject({ runAsUser: 1000, readOnlyRootFilesystem: true });
  });
});
