/**
 * Engine time sources. The engine only reads `now()`; the loop waits a step's simulated
 * duration with `sleep`. Seconds throughout.
 * - `WallClock`: real time, optionally sped up (`speedup` simulated seconds per wall second).
 * - `VirtualClock`: deterministic time that moves only when told; `sleep` advances it and
 *   yields to the event loop once, so a server on it runs steps as fast as the CPU allows
 *   while every latency it reports is the simulated one.
 */
export interface Clock {
  now(): number;
  sleep(seconds: number): Promise<void>;
}

export class WallClock implements Clock {
  private readonly origin = performance.now();
  constructor(readonly speedup = 1) {
    if (!(speedup > 0)) throw new Error(`speedup must be positive, got ${speedup}`);
  }
  now(): number {
    return ((performance.now() - this.origin) / 1000) * this.speedup;
  }
  sleep(seconds: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, (seconds / this.speedup) * 1000));
  }
}

export class VirtualClock implements Clock {
  constructor(private t = 0) {}
  now(): number {
    return this.t;
  }
  advance(seconds: number): void {
    if (!(seconds >= 0)) throw new Error(`cannot advance by ${seconds}`);
    this.t += seconds;
  }
  /** Moves to `time` if it is later (event-driven drivers jump to the next arrival). */
  advanceTo(time: number): void {
    if (time > this.t) this.t = time;
  }
  sleep(seconds: number): Promise<void> {
    this.advance(seconds);
    return new Promise((resolve) => setImmediate(resolve));
  }
}
