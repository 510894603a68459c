/**
 * The worker pool of the placement benches (bench:placement, bench:node-sampling): jobs go to
 * worker threads (bench/placement-worker.ts) across the cores, progress to stderr.
 */
import path from "node:path";
import { Worker } from "node:worker_threads";
import type { BoundJob, BoundResult, Job, JobResult } from "./placement-worker";

export function parseSeeds(raw: string): number[] {
  return raw.split(",").flatMap((part) => {
    const m = /^(\d+)-(\d+)$/.exec(part.trim());
    if (m) return Array.from({ length: Number(m[2]) - Number(m[1]) + 1 }, (_, i) => Number(m[1]) + i);
    if (!/^\d+$/.test(part.trim())) throw new Error(`--seeds: expected numbers or ranges like 42-51, got ${JSON.stringify(part)}`);
    return [Number(part)];
  });
}

export function runJobs(jobs: (Job | BoundJob)[], threads: number, label = "bench:placement"): Promise<(JobResult | BoundResult)[]> {
  return new Promise((resolve, reject) => {
    const results: (JobResult | BoundResult)[] = [];
    let next = 0;
    const workers = Array.from({ length: Math.min(threads, jobs.length) }, () => {
      // A tiny JS bootstrap registers tsx in the worker, then loads the TypeScript worker.
      const workerFile = path.join(__dirname, "placement-worker.ts");
      const w = new Worker(`require("tsx/cjs"); require(${JSON.stringify(workerFile)});`, { eval: true });
      const feed = () => {
        if (next < jobs.length) w.postMessage(jobs[next++]);
        else void w.terminate();
      };
      w.on("message", (r: JobResult | BoundResult) => {
        results.push(r);
        const sampled = "bound" in r || r.percentageOfNodesToScore === undefined ? "" : ` (percentageOfNodesToScore ${r.percentageOfNodesToScore})`;
        const what = "bound" in r ? `bounds: packing ${r.packed}%, LP ${r.upperBound}%` : `${r.policy}${sampled}: ${r.allocation["130"]}% at 130%`;
        process.stderr.write(`${label}: ${results.length}/${jobs.length} ${r.trace} seed ${r.seed} ${what} (${r.wallSeconds.toFixed(1)} s)\n`);
        if (results.length === jobs.length) resolve(results);
        feed();
      });
      w.on("error", reject);
      feed();
      return w;
    });
    if (workers.length === 0) resolve(results);
  });
}

