/**
 * The GPU assignment the extender records on a pod at bind (KIT_ANNOTATIONS.gpuAssignment),
 * read back by the extender's cache and by the device plugin (runtime/device-plugin/
 * assignment-hints.ts). Kept free of zod and the placement code so the plugin's bundle stays small.
 */
import { KIT_ANNOTATIONS } from "../../gpu";
import type { GpuAssignment } from "../scheduling";
import type { K8sPod } from "./wire";

/** What the extender records on a pod at bind (KIT_ANNOTATIONS.gpuAssignment). */
export interface GpuAssignmentRecord {
  node: string;
  gpus: GpuAssignment;
  /** GPU UUIDs in the same order, when telemetry told the extender the node's UUIDs. */
  uuids?: string[];
  milliPerGpu: number;
}

export function encodeAssignment(record: GpuAssignmentRecord): string {
  return JSON.stringify(record);
}

/** The pod's recorded assignment for `nodeName`, or undefined when absent, stale or unreadable. */
export function decodeAssignment(pod: K8sPod, nodeName: string): GpuAssignmentRecord | undefined {
  const raw = pod.metadata?.annotations?.[KIT_ANNOTATIONS.gpuAssignment];
  if (raw === undefined) return undefined;
  try {
    const r = JSON.parse(raw) as GpuAssignmentRecord;
    if (r.node !== nodeName || !Array.isArray(r.gpus) || !r.gpus.every((i) => Number.isInteger(i) && i >= 0)) return undefined;
    return r;
  } catch {
    return undefined;
  }
}
