/**
 * Drives an engine against a clock: while there is work, plan a step, wait its simulated
 * duration, apply it. Idle, it parks until `wake()` (a new request). Aborts that land during
 * a step take effect at once (the engine frees the blocks); the step's output for them is
 * dropped when it completes.
 */
import type { Clock } from "./clock";
import type { LLMEngine } from "./engine";

export class EngineLoop {
  private running = false;
  private parked: (() => void) | null = null;
  private done: Promise<void> | null = null;
  /** Steps run so far; a figure for logs and tests. */
  steps = 0;

  constructor(
    private readonly engine: LLMEngine,
    private readonly clock: Clock,
    private readonly onError: (err: unknown) => void = (err) => {
      process.stderr.write(`serving engine loop error: ${err instanceof Error ? err.stack : String(err)}\n`);
    },
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.done = this.run();
  }

  wake(): void {
    const p = this.parked;
    this.parked = null;
    p?.();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake();
    await this.done;
  }

  private async run(): Promise<void> {
    while (this.running) {
      if (!this.engine.hasWork()) {
        await new Promise<void>((resolve) => (this.parked = resolve));
        continue;
      }
      try {
        const step = this.engine.schedule();
        await this.clock.sleep(step.cost.seconds);
        this.engine.complete(step);
        this.steps++;
      } catch (err) {
        // An engine bug must not wedge the server; report and keep serving.
        this.onError(err);
        await this.clock.sleep(0.001);
      }
    }
  }
}
