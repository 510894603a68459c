/**
 * What one `nvidia-smi` invocation sees: the node's GPUs filtered by NVIDIA_VISIBLE_DEVICES and
 * renumbered from 0, as inside a container (the minor number keeps the host index), plus the
 * driver identity and the wall-clock time the output is stamped with.
 */
import type { GpuReadings } from "../device";
import type { SimMigDevice, SimNode } from "../node";
import type { SimProfile } from "../profiles";
import { SimConfigError } from "../state";

export interface SmiGpu extends GpuReadings {
  /** Host index (/dev/nvidia<minor>); `index` is the index inside this view. */
  minor: number;
  profile: SimProfile;
  /** The GPU's MIG devices this view sees (all of them, or the ones NVIDIA_VISIBLE_DEVICES names). */
  migDevices: SimMigDevice[];
}

export interface SmiContext {
  now: Date;
  /** The captured H100's driver (580.159.04, CUDA 13.0). */
  driverVersion: string;
  cudaVersion: string;
}

export const CAPTURED_DRIVER = { driverVersion: "580.159.04", cudaVersion: "13.0" } as const;

/**
 * GPUs visible under NVIDIA_VISIBLE_DEVICES: unset or "all" shows all; "none", "void" or empty
 * shows none; otherwise a comma list of host indices or UUIDs, in the order given.
 */
export function visibleGpus(node: SimNode, visible: string | undefined): SmiGpu[] {
  const all = node.devices;
  let chosen: { gpu: (typeof all)[number]; mig?: SimMigDevice[] }[] = all.map((gpu) => ({ gpu }));
  const spec = visible?.trim();
  if (spec !== undefined && spec !== "all") {
    if (spec === "" || spec === "none" || spec === "void") chosen = [];
    else {
      // A MIG UUID (what the device plugin hands a container on a MIG node) shows its GPU with
      // only the named MIG devices, as the driver does inside such a container.
      const migByUuid = new Map(node.allMigDevices().map((m) => [m.uuid, m]));
      chosen = [];
      for (const raw of spec.split(",")) {
        const id = raw.trim();
        const mig = migByUuid.get(id);
        if (mig) {
          const seen = chosen.find((c) => c.gpu.id.index === mig.gpuIndex && c.mig);
          if (seen) seen.mig!.push(mig);
          else chosen.push({ gpu: all[mig.gpuIndex]!, mig: [mig] });
          continue;
        }
        const gpu = /^\d+$/.test(id) ? all[Number(id)] : all.find((d) => d.id.uuid === id);
        if (!gpu) throw new SimConfigError(`NVIDIA_VISIBLE_DEVICES: no GPU ${JSON.stringify(id)} on node ${node.hostname}`);
        chosen.push({ gpu });
      }
    }
  }
  return chosen.map(({ gpu, mig }, index) => ({ ...gpu.readings(), index, minor: gpu.id.index, profile: gpu.profile, migDevices: mig ?? node.migDevices(gpu.id.index) }));
}

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const two = (n: number) => String(n).padStart(2, "0");

/** asctime() form, as in the table banner and the XML timestamp: `Thu Nov 26 23:16:11 2026`. */
export function asctime(d: Date): string {
  const time = `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
  return `${DAYS[d.getDay()]} ${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, " ")} ${time} ${d.getFullYear()}`;
}

/** The query `timestamp` field: `2026/11/26 23:16:01.123`. */
export function queryTimestamp(d: Date): string {
  const ms = String(d.getMilliseconds()).padStart(3, "0");
  return `${d.getFullYear()}/${two(d.getMonth() + 1)}/${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${ms}`;
}
