/**
 * The simulated `nvidia-smi` as a standalone program (`node /opt/gpk/gpu-sim.js <args>`), for
 * containers that were allocated simulated GPUs: the node comes from GPK_SIM_STATE (the state file
 * the node's exporter keeps) or GPK_SIM_GPUS / GPK_SIM_PRODUCT / GPK_SIM_NODE, and
 * NVIDIA_VISIBLE_DEVICES (set by the device plugin's Allocate) picks the GPUs.
 * Install as `nvidia-smi` with a two-line wrapper: `#!/bin/sh` / `exec node /opt/gpk/gpu-sim.js "$@"`.
 */
import { runNvidiaSmi } from "./smi/run";
import { nodeFromEnv, SimConfigError } from "./state";

try {
  const node = nodeFromEnv(process.env);
  const result = runNvidiaSmi(process.argv.slice(2), { node, visibleDevices: process.env.NVIDIA_VISIBLE_DEVICES, now: new Date() });
  process.stdout.write(result.stdout);
  process.stderr.write(result.stderr);
  process.exitCode = result.exitCode;
} catch (err) {
  if (!(err instanceof SimConfigError)) throw err;
  // nvidia-smi's wording when it cannot reach the (here: simulated) driver.
  process.stdout.write(`NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. (${err.message})\n`);
  process.exitCode = 9;
}
