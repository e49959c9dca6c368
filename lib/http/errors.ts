/**
 * The JSON error body every service answers bad requests with:
 * `{"error_code": <status * 100 + n>, "message": "...", "details": [...]}`.
 * @module
 */
import type { Logger } from "../log.ts";
import { errorMessage } from "../log.ts";

/** The status a request whose client went away mid-request is counted under (nginx's 499; nobody receives it). */
export const CLIENT_CLOSED_STATUS = 499;

/** One item of an error's `details`: which field (and which item of a bulk request) was wrong, and how. */
export interface ErrorDetail {
  /** The field (`entity`, `data.x`) or header (`X-API-KEY`) that was wrong. */
  path?: string;
  /** What was wrong with it. */
  message: string;
  /** Which item of a bulk request. */
  index?: number;
  /** Further facts a handler adds (`requestId`). */
  [key: string]: unknown;
}

/** What an {@link HttpError} carries besides its status and message. */
export interface HttpErrorOptions {
  /** Which fields were wrong, and how (the body's `details`). */
  details?: ErrorDetail[];
  /** Distinguishes errors of the same status: `error_code` = status × 100 + subcode; default 0. */
  subcode?: number;
  /** Response headers (`allow`, `retry-after`, `connection`). */
  headers?: Record<string, string>;
  /** The error behind this one, for logs and debugging; never shown to the client. */
  cause?: unknown;
}

/**
 * A request that cannot be accepted. Handlers and validators throw it; {@link withErrorBodies} (or
 * {@link errorResponse}) turns it into the JSON error body.
 *
 * @example
 * ```ts
 * throw new HttpError(403, "topic not allowed", { details: [{ path: "KCL-TOPIC", message: "not allowed" }], subcode: 3 });
 * ```
 */
export class HttpError extends Error {
  /** `HttpError`. */
  override name = "HttpError";
  /** The HTTP status answered. */
  readonly status: number;
  /** The body's `error_code`: status × 100 + subcode. */
  readonly errorCode: number;
  /** The body's `details`. */
  readonly details: ErrorDetail[];
  /** Headers of the answer. */
  readonly headers: Record<string, string>;

  /**
   * An error to answer with `status` and the JSON error body.
   * @param status the HTTP status to answer
   * @param message the body's `message`: what was wrong, for the client to read
   */
  constructor(status: number, message: string, options: HttpErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.status = status;
    this.details = options.details ?? [];
    this.headers = options.headers ?? {};
    this.errorCode = status * 100 + (options.subcode ?? 0);
  }
}

/** A JSON response. */
export function jsonResponse(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
  });
}

/** The error body for an {@link HttpError}. */
export function errorResponse(err: HttpError): Response {
  return jsonResponse(
    { error_code: err.errorCode, message: err.message, details: err.details },
    err.status,
    err.headers,
  );
}

/**
 * The answer to what a handler threw: an {@link HttpError}'s JSON body (a client that went away is logged at debug
 * only, nobody receives that answer), anything else a 500 without internals leaking to the client, logged as an error.
 */
export function errorAnswer(err: unknown, req: Request, logger: Logger): Response {
  if (err instanceof HttpError) {
    if (err.status === CLIENT_CLOSED_STATUS && logger.debugEnabled) logger.debug(err.message, { url: req.url });
    return errorResponse(err);
  }
  logger.error("request failed", { error: errorMessage(err), method: req.method, url: req.url });
  return errorResponse(new HttpError(500, "internal error", { cause: err }));
}

/**
 * Wraps a service's handler so that whatever it throws becomes an answer ({@link errorAnswer}), like hono's
 * `onError`, and tells `answered` the status of every answer (the request counter). An async function awaiting the
 * handler, not a `.then()` on its promise: V8's await allocates no derived promise, and this sits on every hot path
 * (measured: the `.then()` form cost the broker's POST /state about a tenth of its instructions per request).
 *
 * @example
 * ```ts
 * const handler = withErrorBodies(routeTable(routes), logger, (status) => statuses.add(status));
 * ```
 */
export function withErrorBodies(
  handler: (req: Request) => Response | Promise<Response>,
  logger: Logger,
  answered?: (status: number) => void,
): (req: Request) => Promise<Response> {
  return async (req) => {
    let res: Response;
    try {
      res = await handler(req);
    } catch (err) {
      res = errorAnswer(err, req, logger);
    }
    answered?.(res.status);
    return res;
  };
}
