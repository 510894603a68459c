/**
 * Where a process finds "its" simulated node: a state file another process keeps current
 * (the telemetry exporter or device plugin on the node, mounted into containers), or a fresh
 * node described by the environment.
 *
 *   GPK_SIM_STATE    path of a state file (NodeSnapshot JSON); wins over the rest
 *   GPK_SIM_GPUS     GPU count (default 8)
 *   GPK_SIM_PRODUCT  product id from gpu/index.ts (default h100)
 *   GPK_SIM_NODE     node name (default NODE_NAME, then gpk-sim-node); seeds the UUIDs
 *   GPK_SIM_MIG      MIG layout of every GPU: all-<profile> or <profile>=<count>,... (gpu/mig.ts)
 *   GPK_SIM_SEED     identity seed, when it should differ from the node name
 */
import { pathProblem } from "../flags";
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { GPU_PRODUCT_IDS, type GpuProduct } from "../../gpu";
import { SimNode, type NodeSnapshot, type SimNodeOptions } from "./node";
import { parseMigLayout, type MigSpec } from "../../gpu/mig";

export class SimConfigError extends Error {
  override readonly name = "SimConfigError";
}

/** Node options from the environment; a bad value is a SimConfigError naming the variable. */
export function nodeOptionsFromEnv(env: NodeJS.ProcessEnv): SimNodeOptions {
  const options: SimNodeOptions = {};
  if (env.GPK_SIM_GPUS !== undefined) {
    const count = Number(env.GPK_SIM_GPUS);
    if (!Number.isInteger(count) || count < 1 || count > 64) {
      throw new SimConfigError(`GPK_SIM_GPUS: expected an integer between 1 and 64, got ${JSON.stringify(env.GPK_SIM_GPUS)}`);
    }
    options.count = count;
  }
  if (env.GPK_SIM_PRODUCT !== undefined) options.product = parseProduct(env.GPK_SIM_PRODUCT, "GPK_SIM_PRODUCT");
  const hostname = env.GPK_SIM_NODE ?? env.NODE_NAME;
  if (hostname) options.hostname = hostname;
  if (env.GPK_SIM_SEED) options.seed = env.GPK_SIM_SEED;
  if (env.GPK_SIM_MIG) {
    const layout = parseMigLayout(env.GPK_SIM_MIG);
    if (typeof layout === "object" && "problem" in layout) throw new SimConfigError(`GPK_SIM_MIG: ${layout.problem}`);
    options.mig = layout as MigSpec["profile"];
  }
  return options;
}

export function parseProduct(raw: string, what: string): GpuProduct {
  const id = raw.trim().toLowerCase();
  if (!(GPU_PRODUCT_IDS as string[]).includes(id)) {
    throw new SimConfigError(`${what}: unknown GPU product ${JSON.stringify(raw)}; known: ${GPU_PRODUCT_IDS.join(", ")}`);
  }
  return id as GpuProduct;
}

/** Reads a state file written by `writeNodeState`, with errors that name the file and the field. */
export function readNodeState(path: string, label = "state file"): SimNode {
  const problem = pathProblem(label, path, "file");
  if (problem) throw new SimConfigError(problem);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new SimConfigError(`state file ${path}: ${(err as Error).message}`);
  }
  const s = parsed as Partial<NodeSnapshot>;
  if (s?.version !== 1) throw new SimConfigError(`state file ${path}: version: expected 1, got ${JSON.stringify(s?.version)}`);
  if (typeof s.hostname !== "string") throw new SimConfigError(`state file ${path}: hostname: expected a string`);
  parseProduct(String(s.product), `state file ${path}: product`);
  if (!Array.isArray(s.devices) || s.devices.length === 0) throw new SimConfigError(`state file ${path}: devices: expected a non-empty array`);
  s.devices.forEach((d, i) => {
    if (typeof d?.id?.uuid !== "string" || typeof d?.state?.thermal?.dieC !== "number") {
      throw new SimConfigError(`state file ${path}: devices[${i}]: expected id.uuid and state.thermal`);
    }
  });
  return SimNode.fromSnapshot(s as NodeSnapshot);
}

/** Writes the node's state atomically (temp file + rename), so readers never see half a file. */
export function writeNodeState(path: string, node: SimNode): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(node.snapshot()));
  renameSync(tmp, path);
}

/** The node this process should show: the state file when GPK_SIM_STATE is set, else a fresh one from env. */
export function nodeFromEnv(env: NodeJS.ProcessEnv, overrides: SimNodeOptions = {}): SimNode {
  if (env.GPK_SIM_STATE) return readNodeState(env.GPK_SIM_STATE, "GPK_SIM_STATE");
  return new SimNode({ ...nodeOptionsFromEnv(env), ...overrides });
}
