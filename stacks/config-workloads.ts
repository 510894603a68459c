/**
 * Stack config sections for the platform's workloads (telemetry, scheduler extender,
 * serving, Ray). Kept apart from stacks/config.ts so each component's settings sit together.
 */
import { z } from "zod";

export const workloadsSchema = {};
