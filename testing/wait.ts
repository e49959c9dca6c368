/**
 * Bounded waits for tests: every wait on an event has a deadline and a message saying what did not happen.
 * @module
 */

/**
 * Resolves like `promise`, or rejects with `timed out after <ms> ms waiting for <what>` if it takes longer.
 *
 * @example
 * ```ts
 * await withTimeout(consumerJoined, 10_000, "the consumer to join its group");
 * ```
 */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Polls `condition` every `intervalMs` until it returns true, failing after `ms`. For state that has no event to
 * await (e.g. the contents of a server).
 */
export async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  ms: number,
  what: string,
  intervalMs = 20,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() >= deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** A promise with its resolve and reject functions. */
export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(reason: unknown): void;
}

/** Creates a {@link Deferred}. */
export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * Polls `GET url` every 100 ms until it answers 200 (a process's /health or /ready), failing after `ms`. Connection
 * errors count as "not yet": the process may still be starting.
 */
export async function waitForHttpOk(url: string, ms: number, what: string): Promise<void> {
  await waitUntil(
    async () => {
      try {
        const res = await fetch(url);
        await res.body?.cancel();
        return res.status === 200;
      } catch {
        return false;
      }
    },
    ms,
    what,
    100,
  );
}
