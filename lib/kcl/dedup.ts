/**
 * requestId de-duplication: a (client, requestId) seen within the window is a duplicate and is not produced again.
 * Memory is bounded: expired entries are evicted in insertion order, and past `maxEntries` the oldest go first.
 * @module
 */
import type { Clock } from "../clock.ts";

/**
 * Remembers (client, requestId) pairs for `windowMs` (0 disables).
 *
 * @example
 * ```ts
 * const dedup = new DedupWindow(clock, 600_000);
 * if (!dedup.claim("INCROWD", "r-1")) answer("duplicate");
 * ```
 */
export class DedupWindow {
  /** key -> expiry time; Map iteration order is insertion order, which is expiry order for a fixed window. */
  readonly #seen = new Map<string, number>();
  readonly #clock: Clock;
  readonly #windowMs: number;
  readonly #maxEntries: number;

  constructor(clock: Clock, windowMs: number, maxEntries = 1_000_000) {
    this.#clock = clock;
    this.#windowMs = windowMs;
    this.#maxEntries = maxEntries;
  }

  /** Whether de-duplication is on. */
  get enabled(): boolean {
    return this.#windowMs > 0;
  }

  /** Entries currently remembered. */
  get size(): number {
    return this.#seen.size;
  }

  /**
   * Records the pair and returns true, or returns false when it was already seen within the window.
   * With the window disabled it always returns true.
   */
  claim(clientId: string, requestId: string): boolean {
    if (this.#windowMs <= 0) return true;
    const now = this.#clock.now();
    this.#evict(now);
    const key = clientId + "\u0000" + requestId;
    const expiry = this.#seen.get(key);
    if (expiry !== undefined && expiry > now) return false;
    this.#seen.delete(key);
    this.#seen.set(key, now + this.#windowMs);
    if (this.#seen.size > this.#maxEntries) {
      const oldest = this.#seen.keys().next();
      if (!oldest.done) this.#seen.delete(oldest.value);
    }
    return true;
  }

  /** Forgets a pair whose event was not produced (dropped, failed), so the client's retry is not a duplicate. */
  release(clientId: string, requestId: string): void {
    this.#seen.delete(clientId + "\u0000" + requestId);
  }

  #evict(now: number): void {
    for (const [key, expiry] of this.#seen) {
      if (expiry > now) break;
      this.#seen.delete(key);
    }
  }
}
