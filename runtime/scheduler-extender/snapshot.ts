/**
 * `--snapshot <file>`: cluster state from a JSON file, for local runs, tests and the benchmark.
 *
 *   {
 *     "nodes": [ <v1 Node>, ... ]          // or a NodeList: `kubectl get nodes -o json`
 *     "pods":  [ <v1 Pod>, ... ],          // optional; or a PodList: `kubectl get pods -A -o json`
 *     "workload": [                        // optional target workload for fgd/gpk
 *       { "cpuMilli": 8000, "gpuMilli": 1000, "numGpu": 1, "gpuModels": [], "weight": 0.6 }, ...
 *     ]
 *   }
 *
 * Pods with `spec.nodeName` hold their resources (GPU indices from `gpk.dev/gpu-assignment`
 * when present); pending ones count in the observed workload. Binds (of pods filtered first) update the state in memory only.
 */
import { readFileSync } from "node:fs";
import { z } from "zod";
import type { TargetWorkload } from "../scheduling";
import type { ClusterCache } from "./cache";
import { describeIssues, nodeSchema, podSchema } from "./wire";

export class SnapshotError extends Error {
  override readonly name = "SnapshotError";
}

const listOf = <T extends z.ZodType>(item: T) =>
  z.union([z.array(item), z.looseObject({ items: z.array(item) }).transform((l) => l.items)]);

export const snapshotSchema = z.object({
  nodes: listOf(nodeSchema),
  pods: listOf(podSchema).optional(),
  workload: z.array(z.object({
    cpuMilli: z.number().min(0),
    gpuMilli: z.number().int().min(0).max(1000),
    numGpu: z.number().int().min(0),
    gpuModels: z.array(z.string()).default([]),
    weight: z.number().positive(),
  })).min(1).optional(),
});
export type Snapshot = z.input<typeof snapshotSchema>;

/** Loads a snapshot file into the cache; returns its workload (normalised), if it names one. */
export function loadSnapshot(file: string, cache: ClusterCache): TargetWorkload | undefined {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new SnapshotError(`--snapshot ${file}: ${(err as Error).message}`);
  }
  const parsed = snapshotSchema.safeParse(json);
  if (!parsed.success) throw new SnapshotError(`--snapshot ${file}: ${describeIssues(parsed.error)}`);
  const names = new Set<string>();
  for (const node of parsed.data.nodes) {
    if (names.has(node.metadata.name)) throw new SnapshotError(`--snapshot ${file}: node ${JSON.stringify(node.metadata.name)} appears twice`);
    names.add(node.metadata.name);
    try {
      cache.upsertNode(node);
    } catch (err) {
      throw new SnapshotError(`--snapshot ${file}: ${(err as Error).message}`);
    }
  }
  for (const pod of parsed.data.pods ?? []) cache.upsertPod(pod);
  const workload = parsed.data.workload;
  if (!workload) return undefined;
  const total = workload.reduce((s, w) => s + w.weight, 0);
  return { shapes: workload.map((w) => ({ ...w, weight: w.weight / total })) };
}
