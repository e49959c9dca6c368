/**
 * The broker's HTTP API as a plain handler: `POST /state` (one event or a bulk array), `GET /state`,
 * `DELETE /state/<entity>/<check>`, plus `/health`, `/ready`, `/metrics`. Requests only touch the in-memory store.
 * @module
 */
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import type { Registry } from "../metrics.ts";
import { readJsonBodyFast, replacementCharError } from "../http/body.ts";
import { pathOf } from "../http/path.ts";
import { HttpError, jsonResponse, withErrorBodies } from "../http/errors.ts";
import { opsRoutes, type ReadinessCheck } from "../http/ops.ts";
import { routeTable } from "../http/routes.ts";
import { StatusCounter } from "../http/status_counter.ts";
import {
  type CachedState,
  fastParsePostedState,
  parsePostedStates,
  type PostedState,
  stateKey,
  toCachedState,
} from "./check_state.ts";
import type { BrokerMetrics } from "./metrics.ts";
import type { StateStore } from "./state_store.ts";

/** Largest accepted request body. */
export const MAX_BODY_BYTES = 1024 * 1024;

/** Subcode of a 400 for a body that parsed as JSON but is not a valid event (error_code 40003). */
const INVALID_EVENT = 3;
/** The last line of a text answer whose states could not be written to Redis yet. */
const NOT_PERSISTED =
  "Not yet persisted: Redis is unreachable; the state is cached in memory and will be written once Redis is back\n";

/** Subcode of the 503 for a full cache (error_code 50301). */
const STATES_FULL = 1;

/** What the handler works with. */
export interface BrokerHttpDeps {
  store: StateStore;
  clock: Clock;
  logger: Logger;
  metrics: BrokerMetrics;
  registry: Registry;
  ready: ReadinessCheck;
  /** A body must arrive this long after the request began (0: no limit), else 408. */
  requestTimeoutMs?: number;
  /**
   * Resolves once what was cached is in Redis (true), or false when it could not be written now (Redis down): the
   * answer then says the state is cached but not yet persisted. Absent (`--no-persist`): answers do not wait.
   */
  committed?: () => Promise<boolean>;
}

/**
 * Builds the request handler.
 *
 * @example
 * ```ts
 * const handler = createBrokerHandler({ store, clock, logger, metrics, registry, ready: () => ({ redis: true }) });
 * const res = await handler(new Request("http://x/state"));
 * ```
 */
export function createBrokerHandler(deps: BrokerHttpDeps): (req: Request) => Promise<Response> {
  const { store, clock, logger, metrics } = deps;
  const bodyOptions = {
    maxBytes: MAX_BODY_BYTES,
    requireJsonContentType: false,
    timeoutMs: deps.requestTimeoutMs ?? 0,
  };
  const statuses = new StatusCounter(metrics.requests, metrics);

  /**
   * A validated event ready to cache. `Request.json()` decodes invalid UTF-8 to U+FFFD without a word, so an event
   * holding U+FFFD is refused rather than cached with silently corrupted text (see replacementCharError). The check
   * runs on the cached state's JSON, which holds every accepted field, so it is one native scan per event.
   */
  function prepare(posted: PostedState, receivedAt: number): CachedState {
    const cached = toCachedState(posted, receivedAt);
    if (cached.json.includes("\uFFFD")) throw replacementCharError();
    return cached;
  }

  /** The 503 of a request that would cache a new check beyond the limit; counted, it says which limit. */
  function full(): HttpError {
    metrics.statesRefused.inc();
    return new HttpError(
      503,
      `the broker caches at most ${store.maxStates} checks (--max-states) and is full: updates of cached checks ` +
        `are accepted, new checks are refused until some are deleted (DELETE /state/<entity>/<check>)`,
      { subcode: STATES_FULL },
    );
  }

  /** Caches a prepared event (logged at debug, as the original did). */
  function cacheOne(cached: CachedState): void {
    store.put(cached);
    if (logger.debugEnabled) logger.debug(`Caching state: ${cached.json}`);
  }

  /** Validates and caches a parsed body; the response (throws HttpError 400 for an invalid one). */
  function cacheStates(body: unknown, wantsJson: boolean): { cached: number; text: string } {
    const parsed = parsePostedStates(body);
    if (!parsed.ok) {
      const first = parsed.details[0];
      const more = parsed.details.length > 1 ? ` (and ${parsed.details.length - 1} more)` : "";
      const where = first?.index !== undefined ? `item ${first.index}: ` : "";
      throw new HttpError(400, `invalid event: ${where}${first?.message ?? "invalid"}${more}`, {
        details: parsed.details,
        subcode: INVALID_EVENT,
      });
    }
    if (parsed.ignored.length > 0) {
      metrics.unknownFields.inc(parsed.ignored.length);
      if (logger.debugEnabled) logger.debug("ignored unknown fields", { fields: [...new Set(parsed.ignored)] });
    }
    // One receive time for the whole request, so a bulk request never straddles a second.
    const receivedAt = Math.floor(clock.now() / 1000);
    // All-or-nothing: every event is prepared (and checked) before any is cached.
    const prepared = parsed.states.map((posted) => prepare(posted, receivedAt));
    if (!store.admits(new Set(prepared.map((p) => p.key)))) throw full();
    let text = "";
    for (const p of prepared) {
      cacheOne(p);
      if (!wantsJson) text += `Caching state: ${p.json}\n`;
    }
    return { cached: parsed.states.length, text };
  }

  /** The 200 of cached states, once they are durable (or known not to be: Redis down, then it says so). */
  async function answer(cached: number, text: string, wantsJson: boolean): Promise<Response> {
    const persisted = deps.committed === undefined ? undefined : await deps.committed();
    if (wantsJson) return jsonResponse(persisted === false ? { cached, persisted } : { cached });
    // No headers object: a string body alone gets `text/plain;charset=UTF-8` and Deno's fast static-response path,
    // which nearly doubled requests/s over passing the same content type explicitly (measured).
    return new Response(persisted === false ? text + NOT_PERSISTED : text);
  }

  /** `POST /state`, the hot path: one async step (the body read), everything else synchronous. */
  async function postState(req: Request): Promise<Response> {
    const wantsJson = (req.headers.get("accept") ?? "").includes("application/json");
    // `Request.json()` is the one body reader with a synchronous whole-body fast path in Deno.serve (see
    // readJsonBodyFast); what it cannot tell us (invalid UTF-8) is caught by the U+FFFD check in prepare().
    const body = await readJsonBodyFast(req, bodyOptions);
    // One plainly valid event (the common request) skips the bulk bookkeeping of parsePostedStates.
    const one = wantsJson ? undefined : fastParsePostedState(body);
    if (one === undefined) {
      const { cached, text } = cacheStates(body, wantsJson);
      return answer(cached, text, wantsJson);
    }
    const cached = prepare(one, Math.floor(clock.now() / 1000));
    if (!store.admitsOne(cached.key)) throw full();
    cacheOne(cached);
    const text = `Caching state: ${cached.json}\n`;
    // Without persistence there is nothing to wait for: the answer without another promise.
    return deps.committed === undefined ? new Response(text) : answer(1, text, false);
  }

  function deleteState(path: string): Response {
    const parts = path.slice("/state/".length).split("/");
    if (parts.length !== 2 || parts[0] === "" || parts[1] === "") {
      throw new HttpError(404, `not found: ${path} (expected /state/<entity>/<check>)`);
    }
    let entity: string, check: string;
    try {
      entity = decodeURIComponent(parts[0] as string);
      check = decodeURIComponent(parts[1] as string);
    } catch (err) {
      throw new HttpError(400, `bad URL encoding in ${path}`, { cause: err });
    }
    const key = stateKey(entity, check);
    if (!store.delete(key)) throw new HttpError(404, `no cached state for ${key}`);
    return jsonResponse({ deleted: key });
  }

  const route = routeTable([
    { path: "/state", methods: { POST: postState, GET: () => jsonResponse(store.snapshot()) } },
    { path: "/state/", prefix: true, methods: { DELETE: (req) => deleteState(pathOf(req.url)) } },
    ...opsRoutes({ registry: deps.registry, ready: deps.ready }),
  ]);
  return withErrorBodies(route, logger, (status) => statuses.add(status));
}
