/**
 * Injectable time source. Rules about time (TTLs, batching windows, tickers) take a {@link Clock} so tests can
 * drive them with {@link ManualClock} instead of sleeping.
 * @module
 */

/** Opaque handle returned by {@link Clock.setTimeout}. */
export type TimerId = number | ReturnType<typeof setTimeout>;

/** The time source every time-based rule is given. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Runs `fn` once after `ms` milliseconds. */
  setTimeout(fn: () => void, ms: number): TimerId;
  /** Cancels a timer of {@link setTimeout} that has not fired (nothing happens for one that has). */
  clearTimeout(id: TimerId): void;
  /** Resolves after `ms`; rejects with the signal's reason when `signal` aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

function sleepWith(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clock.clearTimeout(id);
      reject(signal?.reason);
    };
    const id = clock.setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** The real clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, Math.max(0, ms)),
  clearTimeout: (id) => clearTimeout(id as number),
  sleep(ms, signal) {
    return sleepWith(systemClock, ms, signal);
  },
};

/**
 * A clock that only moves when told to. Timers fire synchronously inside {@link ManualClock.advance}, in due order.
 *
 * @example
 * ```ts
 * const clock = new ManualClock(0);
 * let fired = false;
 * clock.setTimeout(() => fired = true, 1000);
 * await clock.advance(1000); // fired === true
 * ```
 */
export class ManualClock implements Clock {
  #now: number;
  #nextId = 1;
  #timers = new Map<TimerId, { at: number; fn: () => void }>();

  /** A clock at `start` (ms since the epoch). */
  constructor(start = 0) {
    this.#now = start;
  }

  /** The manual time (ms), moved only by {@link advance}. */
  now(): number {
    return this.#now;
  }

  /** Runs `fn` when {@link advance} reaches `ms` from now. */
  setTimeout(fn: () => void, ms: number): TimerId {
    const id = this.#nextId++;
    this.#timers.set(id, { at: this.#now + Math.max(0, ms), fn });
    return id;
  }

  /** Cancels a timer that has not fired. */
  clearTimeout(id: TimerId): void {
    this.#timers.delete(id);
  }

  /** Resolves when {@link advance} reaches `ms` from now; rejects when `signal` aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepWith(this, ms, signal);
  }

  /** Number of timers not yet fired. */
  get pending(): number {
    return this.#timers.size;
  }

  /**
   * Moves time forward by `ms`, firing every timer that falls due (including ones scheduled by fired timers), and
   * yields to the microtask queue after each so awaiting code can react before the next fires.
   */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    for (;;) {
      let next: [TimerId, { at: number; fn: () => void }] | undefined;
      for (const entry of this.#timers) {
        if (entry[1].at <= target && (next === undefined || entry[1].at < next[1].at)) next = entry;
      }
      if (next === undefined) break;
      this.#timers.delete(next[0]);
      this.#now = Math.max(this.#now, next[1].at);
      next[1].fn();
      await flushMicrotasks();
    }
    this.#now = target;
    await flushMicrotasks();
  }
}

async function flushMicrotasks(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}
