/**
 * The gpu-sim backend: a `SimNode`'s devices as the plugin's GPUs. Health comes from the GPU
 * model (a device-fault XID, or thermal shutdown, makes a GPU Unhealthy; a reset or cooling
 * down makes it Healthy again), and every change reaches ListAndWatch through `subscribe`.
 */
import type { SimNode } from "../gpu-sim";
import type { PhysicalGpu, ResourceManager } from "./resource-manager";

export class SimNodeGpus implements ResourceManager {
  constructor(readonly node: SimNode) {}

  gpus(): readonly PhysicalGpu[] {
    return this.node.devices.map((gpu) => ({
      uuid: gpu.id.uuid,
      index: gpu.id.index,
      numaNode: gpu.id.numaNode,
      healthy: gpu.health === "Healthy",
    }));
  }

  subscribe(listener: () => void): () => void {
    return this.node.onHealthChange(() => listener());
  }
}
