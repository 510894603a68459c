import { beforeAll, describe, expect, it } from "vitest";
import { renderStack, type RenderedStack } from "../../cli/render";
import { validateResources } from "../../cli/render/validate";
import { RUNTIME_HASH_ANNOTATION } from "../../components/runtime-bundle";
import { expectTenant, ofType, one, parentOf } from "./helpers";

let stack: RenderedStack;
beforeAll(async () => {
  stack = await renderStack("local");
});

describe("local stack (kind)", () => {
  it("creates no cloud resources and talks to the kind context", () => {
    expect(stack.resources.filter((r) => r.type.startsWith("aws:"))).toEqual([]);
    const provider = one(stack, "pulumi:providers:kubernetes", "gpk-k8s");
    expect(provider.inputs).toMatchObject({ context: "kind-gpk-local" });
  });

  it("describes the simulated pool with GFD labels and the GPU taint", () => {
    const pool = one(stack, "gpk:index:GpuNodeGroup", "gpk-sim-h100");
    expect(pool.inputs).toMatchObject({
      poolName: "sim-h100", target: "kind", product: "h100", gpusPerNode: 4, maxNodes: 2, gpuCapacity: 8,
      nodeTaints: [{ key: "nvidia.com/gpu", value: "present", effect: "NoSchedule" }],
    });
    expect((pool.inputs as any).nodeLabels).toMatchObject({
      "gpk.dev/pool": "sim-h100", "nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3", "nvidia.com/gpu.count": "4", "nvidia.com/gpu.memory": "81559",
    });
    expect(parentOf(stack, pool)?.type).toBe("gpk:index:Platform");
  });

  it("runs the simulated device plugin from a runtime bundle on the GPU pool", () => {
    const [ds] = ofType(stack, "kubernetes:apps/v1:DaemonSet").filter((d) => (d.inputs as any).metadata.name === "gpk-device-plugin-sim-h100");
    expect(ds).toBeDefined();
    const spec = (ds!.inputs as any).spec.template.spec;
    expect(spec.nodeSelector).toEqual({ "gpk.dev/pool": "sim-h100" });
    expect(spec.tolerations).toContainEqual({ key: "nvidia.com/gpu", operator: "Equal", value: "present", effect: "NoSchedule" });
    expect(spec.containers[0].command).toEqual(["node", "/opt/gpk/device-plugin.js"]);
    expect(spec.containers[0].image).toMatch(/^docker\.io\/library\/node:.+@sha256:[0-9a-f]{64}$/);
    expect(spec.containers[0].securityContext).toMatchObject({ privileged: false, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } });
    const hash = (ds!.inputs as any).spec.template.metadata.annotations[RUNTIME_HASH_ANNOTATION];
    const configMap = ofType(stack, "kubernetes:core/v1:ConfigMap").find((c) => (c.inputs as any).metadata.name === `gpk-device-plugin-${hash.slice(0, 10)}`);
    expect(configMap, "ConfigMap named after the bundle hash").toBeDefined();
    expect((configMap!.inputs as any).immutable).toBe(true);
    expect(Object.keys((configMap!.inputs as any).data)).toEqual(["device-plugin.js"]);
    expect((ds!.inputs as any).metadata.namespace).toBe("gpk-node");
    expect(spec.containers[0].env).toContainEqual({ name: "GPK_GPU_COUNT", value: "4" });
    expect(spec.volumes.filter((v: any) => v.hostPath).map((v: any) => v.hostPath.path)).toEqual(["/var/lib/kubelet/device-plugins", "/var/lib/gpk/gpu-sim"]);
  });

  it("lets the device plugin read pods (and nothing else) to follow the scheduler extender's GPU assignment", () => {
    const [ds] = ofType(stack, "kubernetes:apps/v1:DaemonSet").filter((d) => (d.inputs as any).metadata.name === "gpk-device-plugin-sim-h100");
    const spec = (ds!.inputs as any).spec.template.spec;
    expect(spec.containers[0].env).toContainEqual({ name: "GPK_DEVICE_PLUGIN_ASSIGNMENTS", value: "1" });
    expect(spec).toMatchObject({ serviceAccountName: "gpk-device-plugin", automountServiceAccountToken: true });
    const sa = ofType(stack, "kubernetes:core/v1:ServiceAccount").find((r) => (r.inputs as any).metadata.name === "gpk-device-plugin");
    expect((sa!.inputs as any).metadata.namespace).toBe("gpk-node");
    const role = ofType(stack, "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole").find((r) => (r.inputs as any).metadata.name === "gpk-device-plugin");
    expect((role!.inputs as any).rules).toEqual([{ apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"] }]);
    const binding = ofType(stack, "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding").find((r) => (r.inputs as any).metadata.name === "gpk-device-plugin");
    expect((binding!.inputs as any)).toMatchObject({
      roleRef: { kind: "ClusterRole", name: "gpk-device-plugin" },
      subjects: [{ kind: "ServiceAccount", name: "gpk-device-plugin", namespace: "gpk-node" }],
    });
  });

  it("runs the simulated GPU exporter on every pool, with alert rules", () => {
    const telemetry = one(stack, "gpk:index:GpuTelemetry", "gpk-telemetry");
    expect(telemetry.inputs).toMatchObject({ target: "kind", namespace: "gpk-node", pools: ["sim-h100", "sim-h100-shared", "sim-h100-mig"] });
    expect((one(stack, "kubernetes:apps/v1:DaemonSet", "gpk-telemetry-sim-h100-shared").inputs as any).spec.template.spec.nodeSelector).toEqual({ "gpk.dev/pool": "sim-h100-shared" });
    const ds = one(stack, "kubernetes:apps/v1:DaemonSet", "gpk-telemetry-sim-h100").inputs as any;
    const container = ds.spec.template.spec.containers[0];
    expect(container.command).toEqual(["node", "/opt/gpk/telemetry.js"]);
    expect(container.ports).toEqual([{ name: "metrics", containerPort: 9400 }]);
    expect(container.securityContext).toMatchObject({ runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
    expect(ds.spec.template.spec.nodeSelector).toEqual({ "gpk.dev/pool": "sim-h100" });
    const rule = one(stack, "kubernetes:monitoring.coreos.com/v1:PrometheusRule", "gpk-telemetry-alerts").inputs as any;
    expect(rule.spec.groups[0].rules.map((r: any) => r.alert)).toEqual(["GpuTemperatureHigh", "GpuPowerCapSustained", "GpuThermalThrottling", "GpuXidError"]);
    expect(parentOf(stack, one(stack, "kubernetes:apps/v1:DaemonSet", "gpk-telemetry-sim-h100"))?.urn).toBe(telemetry.urn);
  });

  it("serves the simulated model from the serving runtime bundle in the tenant's namespace", () => {
    const deployment = one(stack, "kubernetes:apps/v1:Deployment", "gpk-serving-team-b-chat").inputs as any;
    expect(deployment.metadata).toMatchObject({ name: "chat", namespace: "team-b" });
    const pod = deployment.spec.template.spec;
    expect(pod.containers[0].command).toEqual(["node", "/opt/gpk/serving.js"]);
    expect(pod.containers[0].args.slice(0, 4)).toEqual(["--model", "qwen2.5-0.5b", "--gpu", "h100"]);
    expect(pod.containers[0].args).toContain("--max-waiting");
    expect(pod.containers[0].resources.limits["nvidia.com/gpu"]).toBe("1");
    expect(pod.containers[0].readinessProbe.httpGet.path).toBe("/health");
    expect(pod.tolerations).toContainEqual({ key: "nvidia.com/gpu", operator: "Equal", value: "present", effect: "NoSchedule" });
    for (const kind of ["core/v1:Service", "policy/v1:PodDisruptionBudget", "autoscaling/v2:HorizontalPodAutoscaler"]) {
      expect((one(stack, `kubernetes:${kind}`, "gpk-serving-team-b-chat").inputs as any).metadata.namespace).toBe("team-b");
    }
  });

  it("creates both tenants with their isolation objects", () => {
    expectTenant(stack, "team-a", 4, "gpk:team-a");
    expectTenant(stack, "team-b", 2, "gpk:team-b");
  });

  it("renders only schema-valid Kubernetes objects", () => {
    const report = validateResources(stack.resources);
    expect(report.schemaErrors).toEqual([]);
    expect(report.validatedObjects).toBeGreaterThan(15);
  });

  it("runs the scheduler extender fed by the simulated exporters, and the gpk-scheduler beside it", () => {
    expect(one(stack, "gpk:index:SchedulerExtender", "gpk-scheduler-extender").inputs).toEqual({ schedulerName: "gpk-scheduler", namespace: "gpk-system", thermalAware: true });
    const extender = one(stack, "kubernetes:apps/v1:Deployment", "gpk-scheduler-extender").inputs as any;
    expect(extender.spec.template.spec.containers[0].args).toContain("app.kubernetes.io/name=gpk-gpu-telemetry");
    const scheduler = one(stack, "kubernetes:apps/v1:Deployment", "gpk-scheduler-extender-scheduler").inputs as any;
    expect(scheduler.spec.template.spec.containers[0].image).toMatch(/^registry\.k8s\.io\/kube-scheduler:/);
  });
});
