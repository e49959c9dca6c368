/**
 * Deadlines on request bodies, and what a failed body read means. Deno.serve hands a request to its handler once
 * the headers are in and never times out the body: a client that declares 100 bytes and sends 4 would hold its
 * handler (and the buffers behind it) for ever. A body read that fails is the client's connection going away,
 * which is not a server error: it is counted as `client_closed` and logged at debug.
 * @module
 */
import { CLIENT_CLOSED_STATUS, HttpError } from "./errors.ts";

export { CLIENT_CLOSED_STATUS };

/** The label of a status code in request metrics: the code, or `client_closed` for {@link CLIENT_CLOSED_STATUS}. */
export function statusLabel(status: number): string {
  return status === CLIENT_CLOSED_STATUS ? "client_closed" : String(status);
}

/** The error of a request whose client closed the connection before its body arrived. */
export function clientClosed(): HttpError {
  return new HttpError(CLIENT_CLOSED_STATUS, "the client closed the connection before the request body arrived");
}

/** The 408 of a body that did not arrive in time; the connection is not kept for another request. */
export function bodyTimedOut(timeoutMs: number): HttpError {
  return new HttpError(408, `the request body did not arrive within ${timeoutMs / 1000} s`, {
    headers: { connection: "close" },
  });
}

/** Rethrows a body read's failure: a request error as it is, a transport failure as {@link clientClosed}. */
export function bodyReadFailure(err: unknown): never {
  if (err instanceof HttpError || err instanceof SyntaxError) throw err;
  throw clientClosed();
}

interface Waiting {
  due: number;
  timeoutMs: number;
  fail: (err: HttpError) => void;
}

/** Reads in progress; one timer sweeps them while there are any, instead of a timer per request. */
const waiting = new Set<Waiting>();
let sweeper: ReturnType<typeof setInterval> | undefined;
const SWEEP_MS = 250;

function sweep(): void {
  const now = performance.now();
  for (const w of waiting) {
    if (w.due <= now) {
      waiting.delete(w);
      w.fail(bodyTimedOut(w.timeoutMs));
    }
  }
  if (waiting.size === 0 && sweeper !== undefined) {
    clearInterval(sweeper);
    sweeper = undefined;
  }
}

/**
 * `read` (a body read) within `timeoutMs` (0: no deadline): rejects with {@link bodyTimedOut} when it is late, with
 * {@link clientClosed} when the connection broke, and otherwise settles as `read` does. The deadline is checked every
 * 250 ms. A late read keeps running until the connection ends; its outcome is then ignored.
 *
 * @example
 * ```ts
 * const body = await withinDeadline(req.json(), 30_000);
 * ```
 */
export function withinDeadline<T>(read: Promise<T>, timeoutMs: number): Promise<T> {
  if (!(timeoutMs > 0)) return read.catch(bodyReadFailure);
  return new Promise<T>((resolve, reject) => {
    const entry: Waiting = { due: performance.now() + timeoutMs, timeoutMs, fail: reject };
    waiting.add(entry);
    if (sweeper === undefined) {
      sweeper = setInterval(sweep, SWEEP_MS);
    }
    read.then((value) => {
      waiting.delete(entry);
      resolve(value);
    }, (err) => {
      waiting.delete(entry);
      try {
        bodyReadFailure(err);
      } catch (mapped) {
        reject(mapped);
      }
    });
  });
}
