/**
 * What Allocate tells kubelet to put into a container that got simulated GPUs.
 *
 * - `NVIDIA_VISIBLE_DEVICES` = the GPU UUIDs, comma-separated: what NVIDIA's plugin sets
 *   (envvar device-list strategy) and what the simulated nvidia-smi filters on.
 * - The simulated nvidia-smi: real GPU nodes get `/usr/bin/nvidia-smi` bind-mounted by the
 *   NVIDIA container toolkit. We return the same bind mount from the host directory the device
 *   plugin DaemonSet populates (`toolsHostDir`, a hostPath it owns), plus that directory
 *   read-only at `SIM_CONTAINER_DIR`, where the plugin keeps the node's GPU state file; the
 *   env var gpu-sim reads it from (`GPK_SIM_STATE`, runtime/gpu-sim/state.ts) points there. The
 *   tool is a Node script, so it runs in containers that have `node` on PATH (every runtime
 *   image of the kit does).
 */
import type { ContainerAllocateResponse, Mount } from "./proto";

export const VISIBLE_DEVICES_ENV = "NVIDIA_VISIBLE_DEVICES";
/** Where the simulated tools directory appears inside a container. */
export const SIM_CONTAINER_DIR = "/run/gpk/gpu-sim";
/** Env var gpu-sim's `nodeFromEnv` reads the state file path from (runtime/gpu-sim/state.ts). */
export const SIM_STATE_ENV = "GPK_SIM_STATE";
/** File names inside the tools directory. */
export const SIM_SMI_FILE = "nvidia-smi";
export const SIM_STATE_FILE = "state.json";
/** Default host directory for the simulated tools (a hostPath the DaemonSet mounts read-write). */
export const DEFAULT_TOOLS_HOST_DIR = "/var/lib/gpk/gpu-sim";

export interface ContainerTools {
  /** Host directory holding `nvidia-smi` and the state snapshot; omit to mount nothing. */
  toolsHostDir?: string;
}

export function containerAllocateResponse(uuids: readonly string[], tools: ContainerTools): ContainerAllocateResponse {
  const envs: Record<string, string> = { [VISIBLE_DEVICES_ENV]: uuids.join(",") };
  const mounts: Mount[] = [];
  if (tools.toolsHostDir) {
    envs[SIM_STATE_ENV] = `${SIM_CONTAINER_DIR}/${SIM_STATE_FILE}`;
    mounts.push(
      { container_path: SIM_CONTAINER_DIR, host_path: tools.toolsHostDir, read_only: true },
      { container_path: "/usr/bin/nvidia-smi", host_path: `${tools.toolsHostDir}/${SIM_SMI_FILE}`, read_only: true },
    );
  }
  return { envs, mounts, devices: [], annotations: {}, cdi_devices: [] };
}
