/**
 * Stack config sections for the platform's workloads (telemetry, scheduler extender,
 * serving, Ray). Each section's schema lives in its own file beside this one.
 */
import { schedulerExtenderSchema } from "./config-extender";
import { raySchema } from "./config-ray";
import { servingSchema } from "./config-serving";
import { telemetrySchema } from "./config-telemetry";

export const workloadsSchema = {
  telemetry: telemetrySchema,
  schedulerExtender: schedulerExtenderSchema,
  serving: servingSchema,
  ray: raySchema,
};
