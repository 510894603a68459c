/** SchedulerExtender's pure parts and its config section, tested without mocks. */
import { describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { GPK_SCHEDULER_NAME, GPU_RESOURCE } from "../../gpu";
import {
  EXTENDER_NAME, extenderClusterRoleRules, extenderContainerArgs, kubeSchedulerConfiguration, schedulerExtenderSummary,
  schedulerLeaseRules, telemetryExporterSelector,
} from "../../components/scheduler-extender";
import { ConfigError, parseStackConfig } from "../../stacks/load-config";
import { parseExtenderArgs } from "../../runtime/scheduler-extender/options";

function stack(extender: unknown): Record<string, unknown> {
  return {
    target: "kind",
    nodePools: [{ name: "sim-h100", product: "h100", gpusPerNode: 4, desiredNodes: 2, maxNodes: 2 }],
    tenants: [{ name: "team-a", gpuQuota: 2, allowedPools: ["sim-h100"] }],
    schedulerExtender: extender,
  };
}

function problems(extender: unknown): string[] {
  try {
    parseStackConfig(stack(extender));
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).lines;
  }
  throw new Error("config was accepted");
}

describe("gpk:schedulerExtender config", () => {
  it("is off by default and applies every default when enabled", () => {
    const { schedulerExtender, ...rest } = stack(undefined);
    void schedulerExtender;
    expect(parseStackConfig(rest).schedulerExtender).toEqual({ enabled: false, policy: "gpk", replicas: 2, weight: 100, thermalAware: true, percentageOfNodesToScore: 0 });
    expect(parseStackConfig(stack({ enabled: true, policy: "fgd", hotTemperatureC: 80 })).schedulerExtender).toMatchObject({ enabled: true, policy: "fgd", hotTemperatureC: 80 });
  });

  it("names the key and the valid values on bad input", () => {
    expect(problems({ enabled: true, policy: "tetris" })).toEqual([
      'gpk:schedulerExtender.policy: expected one of "random", "dotprod", "gpu-clustering", "gpu-packing", "best-fit", "fgd", "gpk", "gpk-scarcity", got "tetris"',
    ]);
    expect(problems({ replicas: 0 })).toEqual(["gpk:schedulerExtender.replicas: expected a positive integer, got 0"]);
    expect(problems({ hotTemperatureC: -5 })).toEqual(["gpk:schedulerExtender.hotTemperatureC: expected degrees Celsius above 0, got -5"]);
    expect(problems({ percentageOfNodesToScore: 101 })).toEqual(["gpk:schedulerExtender.percentageOfNodesToScore: expected a percentage from 0 (adaptive) to 100, got 101"]);
    expect(problems({ enabled: "yes" })).toEqual(['gpk:schedulerExtender.enabled: expected true or false, got "yes"']);
    expect(problems({ enable: true })).toEqual(["unknown key `gpk:schedulerExtender.enable`; did you mean `gpk:schedulerExtender.enabled`?"]);
  });
});

describe("kube-scheduler configuration", () => {
  const config = kubeSchedulerConfiguration({ namespace: "gpk-system", weight: 100, percentageOfNodesToScore: 100, httpTimeout: "5s" });

  it("has one gpk-scheduler profile calling the extender for nvidia.com/gpu over mutual TLS, not ignorable", () => {
    expect(config).toMatchObject({ apiVersion: "kubescheduler.config.k8s.io/v1", kind: "KubeSchedulerConfiguration", percentageOfNodesToScore: 100 });
    expect(config.profiles.map((p) => p.schedulerName)).toEqual([GPK_SCHEDULER_NAME]);
    expect(config.extenders).toEqual([{
      urlPrefix: `https://${EXTENDER_NAME}.gpk-system.svc:8888`,
      filterVerb: "filter", prioritizeVerb: "prioritize", bindVerb: "bind",
      weight: 100, enableHTTPS: true,
      // The Service name the serving certificate carries, and the scheduler's own client certificate.
      tlsConfig: { serverName: `${EXTENDER_NAME}.gpk-system.svc`, certFile: "/etc/gpk/tls/tls.crt", keyFile: "/etc/gpk/tls/tls.key", caFile: "/etc/gpk/tls/ca.crt" },
      nodeCacheCapable: true,
      managedResources: [{ name: GPU_RESOURCE, ignoredByScheduler: false }],
      httpTimeout: "5s", ignorable: false,
    }]);
  });

  it("elects a leader on its own lease, never the default scheduler's", () => {
    expect(config.leaderElection).toEqual({ leaderElect: true, resourceLock: "leases", resourceName: GPK_SCHEDULER_NAME, resourceNamespace: "gpk-system" });
    const leaseNames = schedulerLeaseRules().flatMap((r) => (r as { resourceNames?: string[] }).resourceNames ?? []);
    expect(leaseNames).toEqual([GPK_SCHEDULER_NAME]);
  });

  it("lets one extender point outweigh every score plugin the profile keeps", () => {
    // Kept: TaintToleration (3), NodeAffinity (2), PodTopologySpread (2), InterPodAffinity (2), each at most 100.
    const keptMax = (3 + 2 + 2 + 2) * 100;
    expect(config.extenders[0]!.weight * 10).toBeGreaterThan(keptMax);
    expect(config.profiles[0]!.plugins.score.disabled.map((p) => p.name)).toEqual(["NodeResourcesFit", "NodeResourcesBalancedAllocation", "ImageLocality"]);
  });
});

describe("extender pod and RBAC", () => {
  it("grants only reads of nodes and pods and creating bindings", () => {
    expect(extenderClusterRoleRules()).toEqual([
      { apiGroups: [""], resources: ["nodes"], verbs: ["get", "list", "watch"] },
      { apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"] },
      { apiGroups: [""], resources: ["pods/binding"], verbs: ["create"] },
    ]);
  });

  it("passes flags the in-cluster entry accepts: mutual TLS for gpk-scheduler only, health on its own port", () => {
    const tls = ["--tls-cert", "/etc/gpk/tls/tls.crt", "--tls-key", "/etc/gpk/tls/tls.key", "--client-ca", "/etc/gpk/tls/ca.crt", "--client-name", "gpk-scheduler", "--health-port", "8889"];
    const args = extenderContainerArgs({ policy: "gpk", thermalAware: true, telemetryPods: [telemetryExporterSelector("eks")], hotTemperatureC: 80 });
    expect(args).toEqual(["--in-cluster", "--policy", "gpk", "--port", "8888", ...tls, "--telemetry-pods", "app.kubernetes.io/name=dcgm-exporter", "--telemetry-port", "9400", "--hot-temperature", "80"]);
    const parsed = parseExtenderArgs(args, {}, { allowKubeconfig: false });
    expect(parsed).toMatchObject({
      source: { kind: "in-cluster" }, policy: "gpk", port: 8888, telemetryPods: [{ key: "app.kubernetes.io/name", value: "dcgm-exporter" }], hotTemperatureC: 80,
      tls: { certFile: "/etc/gpk/tls/tls.crt", keyFile: "/etc/gpk/tls/tls.key", clientCaFile: "/etc/gpk/tls/ca.crt", clientNames: ["gpk-scheduler"], healthPort: 8889 },
    });
    expect(extenderContainerArgs({ policy: "fgd", thermalAware: false, telemetryPods: ["a=b"] })).toEqual(["--in-cluster", "--policy", "fgd", "--port", "8888", ...tls]);
  });

  it("reports thermal awareness only for gpk with telemetry", () => {
    expect(schedulerExtenderSummary("gpk-system", "gpk", true, ["a=b"]).thermalAware).toBe(true);
    expect(schedulerExtenderSummary("gpk-system", "gpk", true, []).thermalAware).toBe(false);
    expect(schedulerExtenderSummary("gpk-system", "fgd", true, ["a=b"]).thermalAware).toBe(false);
    expect(schedulerExtenderSummary("gpk-system", "gpk", false, ["a=b"])).toEqual({ schedulerName: GPK_SCHEDULER_NAME, namespace: "gpk-system", thermalAware: false });
  });

  it("renders YAML kube-scheduler reads back to the same object", () => {
    const config = kubeSchedulerConfiguration({ namespace: "ns", weight: 7, percentageOfNodesToScore: 50, httpTimeout: "2s" });
    expect(parse(stringify(config))).toEqual(config);
  });
});
