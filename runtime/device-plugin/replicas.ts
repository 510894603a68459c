/**
 * Time-slicing: each physical GPU is advertised as `replicas` devices. Device IDs follow
 * NVIDIA's k8s-device-plugin convention: the plain UUID when a GPU is not shared, and
 * `<uuid>::<replica>` (replica 0…N-1) when it is. Allocate maps IDs back to UUIDs.
 */
import type { PhysicalGpu } from "./resource-manager";

export const REPLICA_SEPARATOR = "::";

/** kubelet rejects device IDs longer than this (api.proto: "Max length … 63 characters"). */
export const MAX_DEVICE_ID_LENGTH = 63;

/** One advertised device: a physical GPU, or one time-slice replica of it. */
export interface AdvertisedDevice {
  readonly id: string;
  readonly gpu: PhysicalGpu;
  readonly replica: number;
}

export function deviceId(uuid: string, replica: number, replicas: number): string {
  return replicas > 1 ? `${uuid}${REPLICA_SEPARATOR}${replica}` : uuid;
}

/** Every advertised device, GPU by GPU (index order), replica by replica. */
export function advertisedDevices(gpus: readonly PhysicalGpu[], replicas: number): AdvertisedDevice[] {
  if (!Number.isInteger(replicas) || replicas < 1) {
    throw new Error(`replicas must be an integer >= 1, got ${replicas}`);
  }
  const out: AdvertisedDevice[] = [];
  for (const gpu of [...gpus].sort((a, b) => a.index - b.index)) {
    for (let replica = 0; replica < replicas; replica++) {
      const id = deviceId(gpu.uuid, replica, replicas);
      if (id.length > MAX_DEVICE_ID_LENGTH) {
        throw new Error(`device ID ${id} is ${id.length} characters; kubelet accepts at most ${MAX_DEVICE_ID_LENGTH}`);
      }
      out.push({ id, gpu, replica });
    }
  }
  return out;
}

/** The GPU UUID behind a device ID (`<uuid>` or `<uuid>::<n>`). */
export function uuidOf(id: string): string {
  const at = id.indexOf(REPLICA_SEPARATOR);
  return at < 0 ? id : id.slice(0, at);
}

/** Distinct UUIDs behind device IDs, in first-seen order (two replicas of one GPU → one UUID). */
export function uniqueUuids(ids: readonly string[]): string[] {
  return [...new Set(ids.map(uuidOf))];
}
