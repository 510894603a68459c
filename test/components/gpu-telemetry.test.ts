import { describe, expect, it } from "vitest";
import { gpuAlertRules, simulatedTelemetryEnv } from "../../components/gpu-telemetry";
import { poolSummary } from "../../components/gpu-node-group";
import { SchemaValidator, validateResources } from "../../cli/render/validate";

describe("GPU telemetry", () => {
  it("alerts on temperature at the configured limit, sustained power cap, thermal throttling and XIDs", () => {
    const [group] = gpuAlertRules({ maxGpuTempC: 83, alertFor: "3m" });
    const byName = Object.fromEntries(group!.rules.map((r) => [r.alert, r]));
    expect(Object.keys(byName)).toEqual(["GpuTemperatureHigh", "GpuPowerCapSustained", "GpuThermalThrottling", "GpuXidError"]);
    expect(byName.GpuTemperatureHigh!.expr).toBe("max by (Hostname, gpu, UUID, modelName) (DCGM_FI_DEV_GPU_TEMP) >= 83");
    // The rate window is fixed and short; `for` carries the configured duration (promtool tests the timing, test/e2e/45-prometheus).
    expect(byName.GpuPowerCapSustained!.expr).toContain("rate(DCGM_FI_DEV_POWER_VIOLATION[2m])");
    expect(byName.GpuPowerCapSustained!.for).toBe("3m");
    expect(byName.GpuThermalThrottling!.expr).toContain("DCGM_FI_DEV_THERMAL_VIOLATION");
    expect(byName.GpuXidError!.expr).toContain("DCGM_FI_DEV_XID_ERRORS");
    expect(byName.GpuTemperatureHigh!.for).toBe("3m");
  });

  it("gives the simulated exporter the pool's product and GPU count, and the node's name", () => {
    const env = simulatedTelemetryEnv(poolSummary("kind", { name: "p", product: "l4", gpusPerNode: 2, desiredNodes: 1, maxNodes: 1 }));
    expect(env).toContainEqual({ name: "GPK_SIM_PRODUCT", value: "l4" });
    expect(env).toContainEqual({ name: "GPK_SIM_GPUS", value: "2" });
    expect(env).toContainEqual({ name: "NODE_NAME", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } });
    expect(env).toContainEqual({ name: "GPK_SIM_STATE", value: "/var/lib/gpk/gpu-sim/state.json" });
  });

  it("validates PrometheusRules against the Prometheus Operator schema", () => {
    const rule = (rules: unknown[]) => ({
      urn: "urn:x", type: "kubernetes:monitoring.coreos.com/v1:PrometheusRule", name: "r", custom: true,
      inputs: { metadata: { name: "r" }, spec: { groups: [{ name: "g", rules }] } },
    });
    expect(validateResources([rule(gpuAlertRules({ maxGpuTempC: 85, alertFor: "5m" })[0]!.rules)], new SchemaValidator([])).schemaErrors).toEqual([]);
    const broken = validateResources([rule([{ alert: "NoExpr" }])], new SchemaValidator([]));
    expect(broken.schemaErrors).toEqual([{ urn: "urn:x", path: "spec.groups[0].rules[0].expr", message: "is required" }]);
  });
});
