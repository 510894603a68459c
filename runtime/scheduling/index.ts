/**
 * runtime/scheduling: pure GPU placement shared by the scheduler extender and the simulator.
 *
 * Typical use (extender's filter + prioritize + bind):
 *
 *   const policy = createPolicy(parsePolicyName("gpk"), { workload, rng: mulberry32(seed) });
 *   const { feasible, failed } = filterNodes(nodes, pod);      // filter verb
 *   const scores = scoreNodes(feasible, pod, policy);          // prioritize verb, 0..10
 *   assign(node, pod, scores[0].gpus);                         // bind: record the GPUs
 *
 * Anything that changes a node (assign, telemetry updates) must bump `node.version`: the
 * fragmentation-aware policies cache per-node work keyed by it.
 */
export * from "./types";
export * from "./feasibility";
export * from "./rng";
export * from "./workload";
export * from "./fragmentation";
export * from "./accounting";
export * from "./gpu-choice";
export * from "./policy";
export * from "./score";
export * from "./registry";
export { fgdScore } from "./policies/fgd";
export { gpuIsUnhealthy, chooseWholeGpus, DEFAULT_HOT_TEMPERATURE_C } from "./policies/gpk";
export * from "./sampling";
