/**
 * The capacity search as Ray tasks, one per candidate, on any Ray cluster (`--ray-address`): the
 * kit's own RayCluster or another. The simulator is bundled with esbuild into one JavaScript
 * file (runtime/serving/capacity/task-main.ts); ray-driver.py, run with a Python that has the
 * Ray the kit pins, hands that file and the tasks to the workers through Ray's runtime_env
 * (`working_dir`), and each task runs it with the worker machine's `node`. The results are the
 * worker threads' results: the same tasks through the same code.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createInterface } from "node:readline";
import { buildSync } from "esbuild";
import type { Runner } from "../../runtime/serving/capacity/plan";
import type { CapacityResult } from "../../runtime/serving/capacity/search";
import { PYTHON_REQUIREMENTS } from "../tools/python";

const ROOT = path.resolve(__dirname, "../..");
export const RAY_DRIVER = path.join(__dirname, "ray-driver.py");

/** The Ray version the kit pins (tools/python-requirements.txt), which the driver insists on. */
export function pinnedRayVersion(requirements: string = PYTHON_REQUIREMENTS): string {
  const m = /^ray==([^\s#]+)/m.exec(fs.readFileSync(requirements, "utf8"));
  if (!m) throw new Error(`${requirements}: no ray== pin`);
  return m[1]!;
}

/** The simulator as one file a worker runs with `node`. */
export function bundleCapacityTask(): string {
  const result = buildSync({
    entryPoints: [path.join(ROOT, "runtime", "serving", "capacity", "task-main.ts")],
    bundle: true, platform: "node", target: "node20", format: "cjs", minify: true, write: false, legalComments: "none", logLevel: "silent", absWorkingDir: ROOT,
  });
  return result.outputFiles[0]!.text;
}

export interface RayOptions {
  address: string;
  /** The Python with Ray. */
  python: string;
  /** CPUs each task asks Ray for. */
  taskCpus: number;
  /** Node ids that ran a task, filled as results arrive. */
  nodesSeen?: Set<string>;
}

export class RayBackendError extends Error {
  override readonly name = "RayBackendError";
}

export function rayRunner(options: RayOptions): Runner {
  return async (tasks, onDone) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gpk-plan-ray-"));
    try {
      const workingDir = path.join(dir, "job");
      fs.mkdirSync(workingDir);
      fs.writeFileSync(path.join(workingDir, "capacity-task.js"), bundleCapacityTask());
      fs.writeFileSync(path.join(workingDir, "tasks.json"), JSON.stringify(tasks));
      const specFile = path.join(dir, "spec.json");
      fs.writeFileSync(specFile, JSON.stringify({ address: options.address, rayVersion: pinnedRayVersion(), workingDir, taskCpus: options.taskCpus, count: tasks.length }));
      const child = spawn(options.python, [RAY_DRIVER, specFile], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, RAY_USAGE_STATS_ENABLED: process.env.RAY_USAGE_STATS_ENABLED ?? "0" } });
      let stderr = "";
      child.stderr.on("data", (c: Buffer) => (stderr = (stderr + c.toString()).slice(-8000)));
      const results: CapacityResult[] = [];
      const lines = createInterface({ input: child.stdout });
      lines.on("line", (line) => {
        if (!line.startsWith("{")) return;
        const { result, node } = JSON.parse(line) as { result: CapacityResult; node: string };
        results.push(result);
        options.nodesSeen?.add(node);
        onDone?.(result, results.length, tasks.length);
      });
      const code = await new Promise<number | null>((resolve, reject) => {
        child.on("error", (err) => reject(new RayBackendError(`cannot run ${options.python}: ${(err as NodeJS.ErrnoException).code ?? err.message}`)));
        child.on("close", resolve);
      });
      if (code !== 0 || results.length !== tasks.length) {
        const last = stderr.trim().split("\n").filter((l) => l.trim() !== "").slice(-1)[0] ?? "";
        throw new RayBackendError(`the Ray driver (${options.python} ${path.relative(process.cwd(), RAY_DRIVER)}) exited ${code} after ${results.length} of ${tasks.length} candidate(s): ${last}`);
      }
      return results;
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };
}
