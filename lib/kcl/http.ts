/**
 * The `POST /events` (and `POST /event`) handler: authorise, read and validate the body, hand the events to the
 * intake, and answer `{"results": [...]}` with the spec's status code.
 * @module
 */
import type { Clock } from "../clock.ts";
import { readJsonBodyFast, replacementCharError } from "../http/body.ts";
import { type ErrorDetail, HttpError } from "../http/errors.ts";
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
  /** True once shutdown began: new requests are refused with 503. */
  closing: () => boolean;
}

const JSON_HEADERS = { "content-type": "application/json; charset=utf-8" };
/** The same as a Headers object, which a Response copies a little faster than a plain record (measured). */
const RESULTS_HEADERS = new Headers(JSON_HEADERS);

/**
 * Returns the handler of the event endpoints (`POST /events`, `POST /event` in the service's route table); it throws
 * HttpErrors for the service's error wrapper to answer. The common request takes one await (the body) and no other
 * promise: batched events are answered as soon as they are buffered.
 *
 * @example
 * ```ts
 * const events = createEventsHandler(deps);
 * const route = routeTable([{ path: "/events", methods: { POST: events } }, ...opsRoutes({ registry, ready })]);
 * ```
 */
export function createEventsHandler(deps: EventsHandlerDeps): (req: Request) => Promise<Response> {
  const { metrics, intake, keys, clock, closing } = deps;
  const webhooks = new WebhookUrls(deps.webhookHosts);
  const bodyOptions = { maxBytes: deps.maxBodyBytes, timeoutMs: deps.requestTimeoutMs ?? 0 };

  return async (req) => {
    const started = performance.now();
    try {
      if (closing()) throw shuttingDown();
      const ctx = authorize(req.headers, keys, webhooks);
      const receivedAt = clock.now();
      const body = await readJsonBodyFast(req, bodyOptions);
      // Shutdown may have begun while the body arrived; buffers already flushed would never send these events.
      // From here to the buffers nothing awaits, so this check cannot go stale.
      if (closing()) throw shuttingDown();
      const submitted = intake.submit(ctx, parseUserEvents(body), receivedAt);
      return respond(submitted instanceof Promise ? await submitted : submitted);
    } finally {
      metrics.requestSeconds.observe((performance.now() - started) / 1000);
    }
  };
}

/** The response for an intake outcome. */
function respond(outcome: IntakeOutcome): Response {
  if (outcome.kind === "overloaded") {
    throw new HttpError(503, `${outcome.priority} priority buffer is full; retry later`, {
      subcode: 1,
      headers: { "retry-after": String(outcome.retryAfterSeconds) },
    });
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
  return new HttpError(503, "shutting down", { subcode: 2, headers: { "retry-after": "5", connection: "close" } });
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
