/**
 * The `POST /events` (and `POST /event`) handler: authorise, read and validate the body, hand the events to the
 * intake, and answer `{"results": [...]}` with the spec's status code.
 * @module
 */
import type { Clock } from "../clock.ts";
import { readJsonBody } from "../http/body.ts";
import { type ErrorDetail, errorResponse, HttpError } from "../http/errors.ts";
import { pathOf } from "../http/path.ts";
import type { Logger } from "../log.ts";
import { errorMessage } from "../log.ts";
import type { ApiKeys } from "./api_keys.ts";
import { authorize, type WebhookHostPolicy } from "./auth.ts";
import { type EventIntake, type EventResult, resultsStatus } from "./intake.ts";
import type { KclMetrics } from "./metrics.ts";
import { parseUserEvents } from "./user_event.ts";

/** Dependencies of {@link createEventsHandler}. */
export interface EventsHandlerDeps {
  keys: ApiKeys;
  webhookHosts: WebhookHostPolicy;
  intake: EventIntake;
  maxBodyBytes: number;
  metrics: KclMetrics;
  clock: Clock;
  logger: Logger;
  /** True once shutdown began: new requests are refused with 503. */
  closing: () => boolean;
}

const JSON_HEADERS = { "content-type": "application/json; charset=utf-8" };

/**
 * Returns a handler for the event endpoints, or `null` for other paths so other routes can follow.
 *
 * @example
 * ```ts
 * const events = createEventsHandler(deps);
 * const handler = async (req: Request) => (await events(req)) ?? notFound();
 * ```
 */
export function createEventsHandler(deps: EventsHandlerDeps): (req: Request) => Promise<Response | null> {
  const { metrics } = deps;
  const codeCounters = new Map<number, { inc(): void }>();
  const countCode = (code: number) => {
    let c = codeCounters.get(code);
    if (c === undefined) {
      c = metrics.httpRequests.labels(String(code));
      codeCounters.set(code, c);
    }
    c.inc();
  };

  const handle = async (req: Request): Promise<Response> => {
    if (req.method !== "POST") {
      throw new HttpError(405, `method ${req.method} not allowed; use POST`, [], 1, { allow: "POST" });
    }
    if (deps.closing()) throw shuttingDown();
    const ctx = authorize(req.headers, deps.keys, deps.webhookHosts);
    const receivedAt = deps.clock.now();
    const body = await readJsonBody(req, { maxBytes: deps.maxBodyBytes });
    // Shutdown may have begun while the body arrived; buffers already flushed would never send these events.
    // From here to the buffers nothing awaits, so this check cannot go stale.
    if (deps.closing()) throw shuttingDown();
    const items = parseUserEvents(body);
    const outcome = await deps.intake.submit(ctx, items, receivedAt);
    if (outcome.kind === "overloaded") {
      throw new HttpError(
        503,
        `${outcome.priority} priority buffer is full; retry later`,
        [],
        1,
        { "retry-after": String(outcome.retryAfterSeconds) },
      );
    }
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
    return new Response(JSON.stringify({ results }), { status, headers: JSON_HEADERS });
  };

  return async (req) => {
    const path = pathOf(req.url);
    if (path !== "/events" && path !== "/event") return null;
    const started = performance.now();
    let res: Response;
    try {
      res = await handle(req);
    } catch (err) {
      if (err instanceof HttpError) res = errorResponse(err);
      else {
        deps.logger.error("event request failed", { error: errorMessage(err) });
        res = errorResponse(new HttpError(500, "internal error"));
      }
    }
    countCode(res.status);
    metrics.requestSeconds.observe((performance.now() - started) / 1000);
    return res;
  };
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
