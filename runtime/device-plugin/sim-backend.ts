/**
 * The gpu-sim backend: a `SimNode`'s devices as the plugin's GPUs. Health comes from the GPU
 * model (a device-fault XID, or thermal shutdown, makes a GPU Unhealthy; a reset or cooling
 * down makes it Healthy again), and every change reaches ListAndWatch through `subscribe`.
 */
import type { SimNode } from "../gpu-sim";
import type { PhysicalGpu, ResourceManager } from "./resource-manager";

/**
 * A SimNode's MIG devices of one profile (or all of them, for the `single` strategy) as the
 * plugin's devices: the MIG UUID is what Allocate hands the container, the NUMA node and the
 * health are those of the GPU the device is carved from (an XID on the GPU takes its MIG devices down).
 */
export class SimNodeMigDevices implements ResourceManager {
  constructor(readonly node: SimNode, readonly profile?: string) {}

  gpus(): readonly PhysicalGpu[] {
    return this.node
      .allMigDevices()
      .filter((m) => this.profile === undefined || m.profile === this.profile)
      .map((m, index) => {
        const gpu = this.node.devices[m.gpuIndex]!;
        return { uuid: m.uuid, index, numaNode: gpu.id.numaNode, healthy: gpu.health === "Healthy" };
      });
  }

  subscribe(listener: () => void): () => void {
    return this.node.onHealthChange(() => listener());
  }
}

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
