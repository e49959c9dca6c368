/**
 * Graceful shutdown: stop intake, drain with a deadline, report what was left. Signal wiring stays in commands/.
 * @module
 */
import type { Clock } from "../clock.ts";
import { systemClock } from "../clock.ts";

/** Result of {@link withDeadline}. */
export type DeadlineResult<T> = { done: true; value: T } | { done: false };

/** Races `work` against `ms`; the work is not cancelled, the caller decides what to report. */
export async function withDeadline<T>(
  work: Promise<T>,
  ms: number,
  clock: Clock = systemClock,
): Promise<DeadlineResult<T>> {
  let timer: ReturnType<Clock["setTimeout"]> | undefined;
  const timeout = new Promise<DeadlineResult<T>>((resolve) => {
    timer = clock.setTimeout(() => resolve({ done: false }), ms);
  });
  try {
    return await Promise.race([work.then((value) => ({ done: true as const, value })), timeout]);
  } finally {
    if (timer !== undefined) clock.clearTimeout(timer);
  }
}

/**
 * Resolves on the first of the given signals (SIGINT/SIGTERM by default) and removes its listeners; `commands/`
 * use it to start a graceful shutdown.
 */
export function waitForSignal(
  signals: Deno.Signal[] = ["SIGINT", "SIGTERM"],
  abort?: AbortSignal,
): Promise<Deno.Signal | "aborted"> {
  return new Promise((resolve) => {
    const handlers = new Map<Deno.Signal, () => void>();
    const done = (sig: Deno.Signal | "aborted") => {
      for (const [s, h] of handlers) Deno.removeSignalListener(s, h);
      abort?.removeEventListener("abort", onAbort);
      resolve(sig);
    };
    const onAbort = () => done("aborted");
    for (const s of signals) {
      const h = () => done(s);
      handlers.set(s, h);
      Deno.addSignalListener(s, h);
    }
    if (abort?.aborted) done("aborted");
    else abort?.addEventListener("abort", onAbort, { once: true });
  });
}
