/**
 * Retry and backoff, the one home for both: how long to wait before the next attempt ({@link backoffDelay},
 * {@link Backoff}) and a loop that tries until success, a limit, or an abort ({@link retry}) — on the injected
 * {@link Clock}, so tests drive the waits with a `ManualClock`. Shaped like std's `async/retry.ts`.
 * @module
 */
import type { Clock } from "./clock.ts";

/** How waits grow: `initialMs` before the first retry, times `multiplier` for each further one, never above `maxMs`. */
export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
  /** Growth per attempt; default 2. */
  multiplier?: number;
  /**
   * Spread as a fraction of the wait (0.2: ±20 %), so many clients that failed together do not retry together;
   * default 0.
   */
  jitter?: number;
  /** Random source for the jitter, in [0, 1); default `Math.random`. */
  random?: () => number;
}

/** The longest wait of every reconnect loop in the services: retrying stays prompt once the other side is back. */
export const MAX_BACKOFF_MS = 30_000;

/** Reconnecting to a server that is down or refuses us: 1 s doubling to {@link MAX_BACKOFF_MS}. */
export const RECONNECT_BACKOFF: BackoffPolicy = { initialMs: 1_000, maxMs: MAX_BACKOFF_MS };

/**
 * The wait before retry number `attempt` (1 for the first retry).
 *
 * @example
 * ```ts
 * backoffDelay(1, RECONNECT_BACKOFF); // 1000
 * backoffDelay(3, RECONNECT_BACKOFF); // 4000
 * backoffDelay(99, RECONNECT_BACKOFF); // 30000
 * ```
 */
export function backoffDelay(attempt: number, policy: BackoffPolicy): number {
  const multiplier = policy.multiplier ?? 2;
  // The exponent is capped so a long outage never overflows to Infinity (or NaN with jitter).
  const exponent = Math.min(Math.max(attempt, 1) - 1, 64);
  const base = Math.min(policy.initialMs * multiplier ** exponent, policy.maxMs);
  const jitter = policy.jitter ?? 0;
  if (jitter === 0) return base;
  const random = policy.random ?? Math.random;
  return Math.round(base * (1 - jitter + 2 * jitter * random()));
}

/**
 * The waits of one retry loop whose attempts are not a simple call (a reconnect loop, a batch that shrinks as parts
 * succeed): {@link next} gives the wait before the next attempt, {@link reset} starts over after a success.
 */
export class Backoff {
  readonly #policy: BackoffPolicy;
  #attempt = 0;

  constructor(policy: BackoffPolicy) {
    this.#policy = policy;
  }

  /** Retries waited for since the last reset. */
  get attempt(): number {
    return this.#attempt;
  }

  /** The wait before the next attempt (grows with each call). */
  next(): number {
    this.#attempt++;
    return backoffDelay(this.#attempt, this.#policy);
  }

  /** After a success: the next failure waits {@link BackoffPolicy.initialMs} again. */
  reset(): void {
    this.#attempt = 0;
  }
}

/** Options of {@link retry}. */
export interface RetryOptions extends BackoffPolicy {
  clock: Clock;
  /** Aborting ends the wait at once: {@link retry} rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Attempts in all, the first included; default unlimited. */
  maxAttempts?: number;
  /** Told of each failure that will be retried, before the wait (log it, count it). */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  /** Whether a failure is worth another try; a failure it refuses is rethrown at once. Default: every failure. */
  retryIf?: (err: unknown) => boolean;
}

/**
 * Calls `fn` until it resolves, waiting with backoff after each rejection. Rejects with `fn`'s last error once
 * `maxAttempts` ran out, or with the signal's reason when it aborts.
 *
 * @example
 * ```ts
 * await retry(() => s3.put(letter), {
 *   initialMs: 200,
 *   maxMs: MAX_BACKOFF_MS,
 *   clock,
 *   signal,
 *   onRetry: (err, _attempt, delayMs) => logger.warn("S3 upload failed, trying again", { delayMs }),
 * });
 * ```
 */
export async function retry<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions): Promise<T> {
  const maxAttempts = opts.maxAttempts ?? Infinity;
  for (let attempt = 1;; attempt++) {
    opts.signal?.throwIfAborted();
    try {
      return await fn(attempt);
    } catch (err) {
      if (attempt >= maxAttempts || (opts.retryIf !== undefined && !opts.retryIf(err))) throw err;
      const delayMs = backoffDelay(attempt, opts);
      opts.onRetry?.(err, attempt, delayMs);
      await opts.clock.sleep(delayMs, opts.signal);
    }
  }
}
