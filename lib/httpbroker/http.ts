/**
 * The broker's HTTP API as a plain handler: `POST /state` (one event or a bulk array), `GET /state`,
 * `DELETE /state/<entity>/<check>`, plus `/health`, `/ready`, `/metrics`. Requests only touch the in-memory store.
 * @module
 */
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import { errorMessage } from "../log.ts";
import type { Registry } from "../metrics.ts";
import { readJsonBody } from "../http/body.ts";
import { errorResponse, HttpError, jsonResponse } from "../http/errors.ts";
import { opsRoutes, type ReadinessCheck } from "../http/ops.ts";
import { cachedStateJson, parsePostedStates, stateKey, toCachedState } from "./check_state.ts";
import type { BrokerMetrics } from "./metrics.ts";
import type { StateStore } from "./state_store.ts";

/** Largest accepted request body. */
export const MAX_BODY_BYTES = 1024 * 1024;

/** Subcode of a 400 for a body that parsed as JSON but is not a valid event (error_code 40003). */
const INVALID_EVENT = 3;

/** What the handler works with. */
export interface BrokerHttpDeps {
  store: StateStore;
  clock: Clock;
  logger: Logger;
  metrics: BrokerMetrics;
  registry: Registry;
  ready: ReadinessCheck;
}

const TEXT = { "content-type": "text/plain; charset=utf-8" };

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
  const ops = opsRoutes({ registry: deps.registry, ready: deps.ready });
  // One labelled child per status code, so counting a request is a property lookup rather than label hashing.
  const counters = new Map<number, { inc(): void }>();
  const count = (status: number) => {
    let c = counters.get(status);
    if (c === undefined) {
      c = metrics.requests.labels(String(status));
      counters.set(status, c);
    }
    c.inc();
  };

  async function postState(req: Request): Promise<Response> {
    const body = await readJsonBody(req, { maxBytes: MAX_BODY_BYTES, requireJsonContentType: false });
    const parsed = parsePostedStates(body);
    if (!parsed.ok) {
      const first = parsed.details[0];
      const more = parsed.details.length > 1 ? ` (and ${parsed.details.length - 1} more)` : "";
      const where = first?.index !== undefined ? `item ${first.index}: ` : "";
      throw new HttpError(
        400,
        `invalid event: ${where}${first?.message ?? "invalid"}${more}`,
        parsed.details,
        INVALID_EVENT,
      );
    }
    const receivedAt = Math.floor(clock.now() / 1000);
    const wantsJson = (req.headers.get("accept") ?? "").includes("application/json");
    let text = "";
    for (const posted of parsed.states) {
      const cached = toCachedState(posted, receivedAt);
      store.put(cached);
      const line = `Caching state: ${cachedStateJson(cached)}`;
      if (logger.debugEnabled) logger.debug(line);
      if (!wantsJson) text += line + "\n";
    }
    if (wantsJson) return jsonResponse({ cached: parsed.states.length });
    return new Response(text, { headers: TEXT });
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
    } catch {
      throw new HttpError(400, `bad URL encoding in ${path}`);
    }
    const key = stateKey(entity, check);
    if (!store.delete(key)) throw new HttpError(404, `no cached state for ${key}`);
    return jsonResponse({ deleted: key });
  }

  async function route(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const path = url.pathname;
    if (path === "/state") {
      if (req.method === "POST") return await postState(req);
      if (req.method === "GET" || req.method === "HEAD") return jsonResponse(store.snapshot());
      throw new HttpError(405, `method ${req.method} not allowed on /state`, [], 0, { allow: "GET, POST" });
    }
    if (path.startsWith("/state/")) {
      if (req.method === "DELETE") return deleteState(path);
      throw new HttpError(405, `method ${req.method} not allowed on ${path}`, [], 0, { allow: "DELETE" });
    }
    const op = await ops(req);
    if (op !== null) return op;
    throw new HttpError(404, `not found: ${req.method} ${path}`);
  }

  return async (req) => {
    let res: Response;
    try {
      res = await route(req);
    } catch (err) {
      if (err instanceof HttpError) {
        res = errorResponse(err);
      } else {
        logger.error("request failed", { error: errorMessage(err), method: req.method, url: req.url });
        res = errorResponse(new HttpError(500, "internal error"));
      }
    }
    count(res.status);
    return res;
  };
}
