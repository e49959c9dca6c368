/**
 * The router's retry rule (`--retry`, `ER_MAX_RETRIES`) in one place: after a failed delivery, whether the message
 * goes (back) to the retry topic, with which `retryCount` and after what wait, or to the S3 dead letters.
 * @module
 */

/** What happens after a failed attempt. */
export type RetryDecision =
  /** Hand over to the retry topic with this `retryCount`; that retry is tried `delayMs` after the hand-over. */
  | { action: "retry"; retryCount: number; delayMs: number }
  /** Out of retries: dead-letter with this `retryCount` (the retries that were made). */
  | { action: "dead-letter"; retryCount: number };

/** Longest wait before a retry: `min(2^retryCount s, 60 s)` (spec). */
const MAX_RETRY_DELAY_MS = 60_000;

/**
 * `ER_MAX_RETRIES` retries (default 2) after the original delivery, then a dead letter.
 *
 * @example
 * ```ts
 * const policy = new RetryPolicy(2);
 * policy.decide(0); // { action: "retry", retryCount: 0, delayMs: 1000 }: the original delivery failed
 * policy.decide(2); // { action: "dead-letter", retryCount: 2 }: the second retry failed too
 * ```
 */
export class RetryPolicy {
  /** Retries after the original delivery. */
  readonly maxRetries: number;

  constructor(maxRetries: number) {
    if (!Number.isSafeInteger(maxRetries) || maxRetries < 0) {
      throw new RangeError(`maxRetries must be a whole number ≥ 0, got ${maxRetries}`);
    }
    this.maxRetries = maxRetries;
  }

  /**
   * After attempt `attempt` failed: 0 is the original delivery, n ≥ 1 the n-th retry (the retry-topic message whose
   * `retryCount` is n − 1).
   */
  decide(attempt: number): RetryDecision {
    if (attempt >= this.maxRetries) return { action: "dead-letter", retryCount: attempt };
    return { action: "retry", retryCount: attempt, delayMs: this.delayMs(attempt) };
  }

  /** The wait before the retry with this `retryCount`: `min(2^retryCount s, 60 s)`. */
  delayMs(retryCount: number): number {
    return Math.min(2 ** Math.min(retryCount, 16) * 1000, MAX_RETRY_DELAY_MS);
  }

  /**
   * How many failed integration lookups a message waits through in place before it goes to the retry topic (with
   * `integration: null`): `ER_MAX_RETRIES`, and at least one.
   */
  get lookupFailuresInPlace(): number {
    return Math.max(1, this.maxRetries);
  }
}
