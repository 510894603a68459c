/**
 * A worker thread of the capacity search: evaluates the tasks posted to it, one at a time,
 * and posts each result back (cli/plan/threads.ts starts it).
 */
import { parentPort } from "node:worker_threads";
import { evaluateTask, type CapacityTask } from "./search";

parentPort!.on("message", (task: CapacityTask) => {
  try {
    parentPort!.postMessage({ ok: true, result: evaluateTask(task) });
  } catch (err) {
    parentPort!.postMessage({ ok: false, id: task.id, error: (err as Error).stack ?? String(err) });
  }
});
