/**
 * The JSON error body every service answers bad requests with:
 * `{"error_code": <status * 100 + n>, "message": "...", "details": [...]}`.
 * @module
 */

/** One item of an error's `details`: which field (and which item of a bulk request) was wrong, and how. */
export interface ErrorDetail {
  path?: string;
  message: string;
  index?: number;
  [key: string]: unknown;
}

/**
 * A request that cannot be accepted. Thrown by body readers and validators; turned into a response by
 * {@link errorResponse}.
 */
export class HttpError extends Error {
  readonly errorCode: number;
  constructor(
    readonly status: number,
    message: string,
    readonly details: ErrorDetail[] = [],
    /** Distinguishes errors of the same status: error_code = status * 100 + subcode. */
    subcode = 0,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "HttpError";
    this.errorCode = status * 100 + subcode;
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
 * Wraps a handler so that a thrown {@link HttpError} becomes its error body and anything else a 500 without
 * internals leaking to the client (the caller's `onError` logs it).
 */
export function withErrorBodies(
  handler: (req: Request) => Promise<Response>,
  onError: (err: unknown, req: Request) => void,
): (req: Request) => Promise<Response> {
  return async (req) => {
    try {
      return await handler(req);
    } catch (err) {
      if (err instanceof HttpError) return errorResponse(err);
      onError(err, req);
      return errorResponse(new HttpError(500, "internal error"));
    }
  };
}
