/**
 * The `POST /events` (and `POST /event`) handler: authorise, read and validate the body, hand the events to the
 * intake, and answer `{"results": [...]}` with the spec's status code.
 * @module
 */
import type { Clock } from "../clock.ts";
import { readJsonBodyFast, replacementCharError } from "../http/body.ts";
import { type ErrorDetail, errorResponse, HttpError } from "../http/errors.ts";
import { CLIENT_CLOSED_STATUS, statusLabel } from "../http/body_deadline.ts";
import type { Logger } from "../log.ts";
import { errorMessage } from "../log.ts";
import type { ApiKeys } from "./api_keys.ts";
import { authorize, type WebhookHostPolicy, WebhookUrls } from "./auth.ts";
import { type EventIntake, type EventResult, type IntakeOutcome, resultsStatus } from "./intake.ts";
import type { KclMetrics } from "./metrics.ts";
import type { PriorityClass } from "./priority.ts";
import { parseUserEvents } from "./user_event.ts";

/** Dependencies of {@link createEventsHandler}. */
export interface EventsHandlerDeps {
  keys: ApiKeys;
  webhookHosts: WebhookHostPolicy;
  intake: EventIntake;
  maxBodyBytes: number;
  /** A body must arrive this long after the request began (0: no limit), else 408. */
  requestTimeoutMs?: number;
  metrics: KclMetrics;
  clock: Clock;
  logger: Logger;
  /** True once shutdown began: new requests are refused with 503. */
  closing: () => boolean;
}

const JSON_HEADERS = { "content-type": "application/json; charset=utf-8" };
/** The same as a Headers object, which a Response copies a little faster than a plain record (measured). */
const RESULTS_HEADERS = new Headers(JSON_HEADERS);

/** Whether a request path is one of the event endpoints. */
export function isEventsPath(path: string): boolean {
  return path === "/events" || path === "/event";
}

/**
 * Returns the handler of the event endpoints (route with {@link isEventsPath}). The common request takes one await
 * (the body) and no other promise: batched events are answered as soon as they are buffered.
 *
 * @example
 * ```ts
 * const events = createEventsHandler(deps);
 * const handler = (req: Request) => isEventsPath(pathOf(req.url)) ? events(req) : other(req);
 * ```
 */
export function createEventsHandler(deps: EventsHandlerDeps): (req: Request) => Promise<Response> {
  const { metrics, intake, keys, clock, closing } = deps;
  const webhooks = new WebhookUrls(deps.webhookHosts);
  const bodyOptions = { maxBytes: deps.maxBodyBytes, timeoutMs: deps.requestTimeoutMs ?? 0 };
  // Requests by status code, handed to prom-client when the metrics are read (a labelled inc hashes its label).
  const codes = new Float64Array(600);
  metrics.onCollect(() => {
    for (let code = 0; code < codes.length; code++) {
      const n = codes[code]!;
      if (n === 0) continue;
      codes[code] = 0;
      metrics.httpRequests.labels(statusLabel(code)).inc(n);
    }
  });

  return async (req) => {
    const started = performance.now();
    let res: Response;
    try {
      if (req.method !== "POST") {
        throw new HttpError(405, `method ${req.method} not allowed; use POST`, [], 1, { allow: "POST" });
      }
      if (closing()) throw shuttingDown();
      const ctx = authorize(req.headers, keys, webhooks);
      const receivedAt = clock.now();
      const body = await readJsonBodyFast(req, bodyOptions);
      // Shutdown may have begun while the body arrived; buffers already flushed would never send these events.
      // From here to the buffers nothing awaits, so this check cannot go stale.
      if (closing()) throw shuttingDown();
      const submitted = intake.submit(ctx, parseUserEvents(body), receivedAt);
      res = respond(submitted instanceof Promise ? await submitted : submitted);
    } catch (err) {
      if (err instanceof HttpError) {
        res = errorResponse(err);
        if (err.status === CLIENT_CLOSED_STATUS && deps.logger.debugEnabled) deps.logger.debug(err.message);
      } else {
        deps.logger.error("event request failed", { error: errorMessage(err) });
        res = errorResponse(new HttpError(500, "internal error"));
      }
    }
    const status = res.status;
    if (status < codes.length) codes[status]!++;
    else metrics.httpRequests.labels(statusLabel(status)).inc();
    metrics.requestSeconds.observe((performance.now() - started) / 1000);
    return res;
  };
}

/** The response for an intake outcome. */
function respond(outcome: IntakeOutcome): Response {
  if (outcome.kind === "overloaded") {
    throw new HttpError(
      503,
      `${outcome.priority} priority buffer is full; retry later`,
      [],
      1,
      { "retry-after": String(outcome.retryAfterSeconds) },
    );
  }
  if (outcome.kind === "replacement-char") throw replacementCharError();
  const results = outcome.results;
  const status = resultsStatus(results);
  if (status === 400) {
    return resultsError(status, 10, "every event is invalid", results, invalidDetails(results));
  }
  if (status === 502) return resultsError(status, 1, "no event could be produced", results, []);
  if (status === 503) {
    return resultsError(status, 3, "low priority buffer is full; events dropped", results, [], {
      "retry-after": "5",
    });
  }
  return new Response(resultsBody(results), { status, headers: RESULTS_HEADERS });
}

/** `{"results":[...]}` of one accepted event without a requestId, by class: the most common answer. */
const SINGLE_ACCEPTED: Partial<Record<PriorityClass, string>> = {};

function resultsBody(results: EventResult[]): string {
  const only = results.length === 1 ? results[0]! : undefined;
  if (only?.status === "accepted" && only.requestId === undefined && only.priority !== undefined) {
    return SINGLE_ACCEPTED[only.priority] ??= JSON.stringify({ results });
  }
  return JSON.stringify({ results });
}

function shuttingDown(): HttpError {
  return new HttpError(503, "shutting down", [], 2, { "retry-after": "5", connection: "close" });
}

function invalidDetails(results: EventResult[]): ErrorDetail[] {
  const details: ErrorDetail[] = [];
  for (const r of results) for (const e of r.errors ?? []) details.push({ ...e });
  return details;
}

function resultsError(
  status: number,
  subcode: number,
  message: string,
  results: EventResult[],
  details: ErrorDetail[],
  headers: Record<string, string> = {},
): Response {
  return new Response(
    JSON.stringify({ error_code: status * 100 + subcode, message, details, results }),
    { status, headers: { ...JSON_HEADERS, ...headers } },
  );
}
