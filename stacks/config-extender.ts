/** `gpk:schedulerExtender`: the GPU-aware scheduler extender and the `gpk-scheduler` profile that calls it. */
import { z } from "zod";
import { expect, positiveInt } from "./config-parts";
import { POLICY_NAMES, type PolicyName } from "../runtime/scheduling/registry";


export const schedulerExtenderSchema = z
  .object({
    /** Deploy the extender and the second scheduler `gpk-scheduler`. Default false. */
    enabled: z.boolean(expect("true or false")).default(false),
    /** Placement policy from the runtime/scheduling registry. Default `gpk`. */
    policy: z.enum(POLICY_NAMES as [PolicyName, ...PolicyName[]], expect(`one of ${POLICY_NAMES.map((p) => JSON.stringify(p)).join(", ")}`)).default("gpk"),
    /** Replicas of the extender and of the scheduler (the scheduler elects a leader). Default 2. */
    replicas: positiveInt().default(2),
    /**
     * Extender weight in kube-scheduler's score sum: one extender point is worth weight × 10
     * node-score points. Default 100, above everything the profile's other score plugins can
     * add (900), so the policy's pick wins.
     */
    weight: positiveInt().default(100),
    /** Steer away from hot or power-capped GPUs using the GPU telemetry (needs `gpk:telemetry.enabled`). Default true. */
    thermalAware: z.boolean(expect("true or false")).default(true),
    /** GPU temperature (°C) at or above which a GPU counts as hot. Default: the gpk policy's 83. */
    hotTemperatureC: z.number(expect("degrees Celsius")).gt(0, expect("degrees Celsius above 0")).max(150, expect("degrees Celsius up to 150")).optional(),
    /**
     * Share of the nodes kube-scheduler looks through for feasible ones before it asks the
     * extender; 0 is kube-scheduler's adaptive default (50% − nodes/125, at least 5%, at least
     * 100 nodes). Default 0: on every openb trace it costs at most 0.04 points of allocation
     * against every node (docs/scheduler-extender.md, bench:node-sampling).
     */
    percentageOfNodesToScore: z.number(expect("a percentage")).int(expect("a whole percentage")).min(0, expect("a percentage from 0 (adaptive) to 100")).max(100, expect("a percentage from 0 (adaptive) to 100")).default(0),
  })
  .strict()
  .prefault({});

export type SchedulerExtenderConfig = z.output<typeof schedulerExtenderSchema>;
