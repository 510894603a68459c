/**
 * The capacity search on worker threads of this process: one worker per slot, each taking the
 * next task as it finishes one. The results are keyed by task id, so their order of arrival
 * does not change the plan.
 */
import * as path from "node:path";
import { Worker } from "node:worker_threads";
import type { Runner } from "../../runtime/serving/capacity/plan";
import type { CapacityResult, CapacityTask } from "../../runtime/serving/capacity/search";

const WORKER_FILE = path.resolve(__dirname, "../../runtime/serving/capacity/worker.ts");

export function threadsRunner(workers: number): Runner {
  return (tasks, onDone) =>
    new Promise<CapacityResult[]>((resolve, reject) => {
      const results: CapacityResult[] = [];
      const queue: CapacityTask[] = [...tasks];
      const pool: Worker[] = [];
      let failed = false;
      const finish = (err?: Error) => {
        if (failed) return;
        if (err) failed = true;
        if (err || results.length === tasks.length) {
          for (const w of pool) void w.terminate();
          if (err) reject(err);
          else resolve(results);
        }
      };
      if (tasks.length === 0) return resolve([]);
      for (let i = 0; i < Math.min(workers, tasks.length); i++) {
        // A JavaScript bootstrap registers tsx in the worker, then loads the TypeScript worker.
        const w = new Worker(`require("tsx/cjs"); require(${JSON.stringify(WORKER_FILE)});`, { eval: true });
        pool.push(w);
        const next = () => {
          const task = queue.shift();
          if (task) w.postMessage(task);
        };
        w.on("message", (m: { ok: true; result: CapacityResult } | { ok: false; id: string; error: string }) => {
          if (!m.ok) return finish(new Error(`candidate ${m.id}: ${m.error}`));
          results.push(m.result);
          onDone?.(m.result, results.length, tasks.length);
          next();
          finish();
        });
        w.on("error", (err) => finish(err));
        next();
      }
    });
}
