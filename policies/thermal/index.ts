/**
 * The thermal pack: telemetry and alerts on every GPU pool, load shedding for serving,
 * thermal-aware scheduling for large pools and consistent Ray GPU declarations. The only
 * place that constructs this pack's PolicyPack (one per process).
 */
import { PolicyPack } from "@pulumi/policy";
import { alertPolicies } from "./alerts";
import { rayPolicies } from "./ray";
import { schedulingPolicies } from "./scheduling";
import { servingPolicies } from "./serving";
import { telemetryPolicies } from "./telemetry";

new PolicyPack("thermal", {
  description: "GPU thermal safety, alerting and load shedding for gpu-platform-kit stacks.",
  policies: [...telemetryPolicies, ...alertPolicies, ...servingPolicies, ...schedulingPolicies, ...rayPolicies],
});
