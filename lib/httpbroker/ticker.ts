/**
 * A non-drifting interval on the injected clock: run k starts at `first + k * interval`, however long each run
 * took; a run that overruns the next slot skips it instead of piling up.
 * @module
 */
import type { Clock, TimerId } from "../clock.ts";

/** Runs `task` every `intervalMs` until stopped; runs never overlap. */
export class Ticker {
  readonly #clock: Clock;
  readonly #interval: number;
  readonly #task: () => Promise<void>;
  #next = 0;
  #timer: TimerId | undefined;
  #running: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(clock: Clock, intervalMs: number, task: () => Promise<void>) {
    if (!(intervalMs > 0)) throw new RangeError("interval must be positive");
    this.#clock = clock;
    this.#interval = intervalMs;
    this.#task = task;
  }

  /** Starts the schedule: the first run now (as the original did at boot) or one interval from now. */
  start(opts: { immediate?: boolean } = {}): void {
    this.#next = this.#clock.now();
    if (opts.immediate) this.#fire();
    else {
      this.#next += this.#interval;
      this.#arm();
    }
  }

  /** Resolves when the run in progress (if any) has finished. */
  idle(): Promise<void> {
    return this.#running;
  }

  /** Cancels future runs and waits for the current one. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  #arm(): void {
    if (this.#stopped) return;
    const now = this.#clock.now();
    if (this.#next < now) this.#next += Math.ceil((now - this.#next) / this.#interval) * this.#interval;
    this.#timer = this.#clock.setTimeout(() => this.#fire(), this.#next - this.#clock.now());
  }

  #fire(): void {
    this.#timer = undefined;
    if (this.#stopped) return;
    // The schedule is measured from the slot this run belongs to, not from when the previous run ended.
    this.#next += this.#interval;
    this.#running = this.#task().catch(() => {}).finally(() => this.#arm());
  }
}
