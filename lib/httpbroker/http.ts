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
import {
  cachedStateJson,
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

/** What the handler works with. */
export interface BrokerHttpDeps {
  store: StateStore;
  clock: Clock;
  logger: Logger;
  metrics: BrokerMetrics;
  registry: Registry;
  ready: ReadinessCheck;
}

const BODY_OPTIONS = { maxBytes: MAX_BODY_BYTES, requireJsonContentType: false };
// Non-fatal UTF-8 decoding is Deno's single-pass fast op; the fatal decoder (a slower generic op) only runs when the
// lenient result shows a replacement character, i.e. when the bytes may be invalid. For valid UTF-8 both give the
// same string, so the strict check costs nothing on the common path.
const lenientUtf8 = new TextDecoder("utf-8");
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
/** Marks a body the fast path could not parse (the shared reader then produces the exact error). */
const UNPARSED = Symbol("unparsed");

/** UTF-8 bytes to a JSON value, or {@link UNPARSED} for invalid UTF-8, an empty body or malformed JSON. */
function parseJsonBytes(bytes: Uint8Array): unknown {
  try {
    let text = lenientUtf8.decode(bytes);
    if (text.includes("\uFFFD")) text = strictUtf8.decode(bytes);
    return JSON.parse(text);
  } catch {
    return UNPARSED;
  }
}

/**
 * Reads the JSON body the slow way: no usable declared length, or bytes the fast path could not parse. The shared
 * streamed reader enforces the limit while reading and produces the exact error (UTF-8, empty, position of a JSON
 * syntax error with line and column).
 */
async function readBodySlow(req: Request, bytes?: Uint8Array<ArrayBuffer>): Promise<unknown> {
  if (bytes === undefined) return await readJsonBody(req, BODY_OPTIONS);
  return await readJsonBody(new Request("http://body/", { method: "POST", body: bytes }), BODY_OPTIONS);
}

/** The path of a request URL without building a URL object (the hot path only needs the path). */
function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start < 0) return "/";
  const end = url.indexOf("?", start);
  const hash = url.indexOf("#", start);
  const stop = end < 0 ? hash : hash < 0 ? end : Math.min(end, hash);
  return stop < 0 ? url.slice(start) : url.slice(start, stop);
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
  const ops = opsRoutes({ registry: deps.registry, ready: deps.ready });
  // Counted in plain variables and handed to prom-client when scraped: a labelled inc() per request hashes its
  // labels every time, which showed up as a measurable share of the request path.
  let ok = 0;
  const pending = new Map<number, number>();
  const count = (status: number) => {
    if (status === 200) ok++;
    else pending.set(status, (pending.get(status) ?? 0) + 1);
  };
  metrics.onCollect(() => {
    if (ok > 0) metrics.requests.inc({ code: "200" }, ok);
    ok = 0;
    for (const [status, n] of pending) metrics.requests.inc({ code: String(status) }, n);
    pending.clear();
  });

  /** Caches one validated event; its `Caching state: <json>` line (logged at debug, as the original did). */
  function cacheOne(posted: PostedState, receivedAt: number): string {
    const cached = toCachedState(posted, receivedAt);
    store.put(cached);
    const line = `Caching state: ${cachedStateJson(cached)}`;
    if (logger.debugEnabled) logger.debug(line);
    return line;
  }

  /** Validates and caches a parsed body; the response (throws HttpError 400 for an invalid one). */
  function cacheStates(body: unknown, wantsJson: boolean): Response {
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
    // One receive time for the whole request, so a bulk request never straddles a second.
    const receivedAt = Math.floor(clock.now() / 1000);
    let text = "";
    for (const posted of parsed.states) {
      const line = cacheOne(posted, receivedAt);
      if (!wantsJson) text += line + "\n";
    }
    if (wantsJson) return jsonResponse({ cached: parsed.states.length });
    // No headers object: a string body alone gets `text/plain;charset=UTF-8` and Deno's fast static-response path,
    // which nearly doubled requests/s over passing the same content type explicitly (measured).
    return new Response(text);
  }

  /** `POST /state`, the hot path: one async step (the body read), everything else synchronous. */
  async function postState(req: Request): Promise<Response> {
    let res: Response;
    try {
      const headers = req.headers;
      const declared = Number(headers.get("content-length") ?? NaN);
      let body: unknown;
      // The common case reads the whole body at once (several times cheaper than a streamed read), inline so the
      // request costs a single await. HTTP/1.1 framing makes the body exactly the declared length, so it cannot get
      // past the limit; a missing or too large length takes the streamed reader, which enforces it.
      if (declared > 0 && declared <= MAX_BODY_BYTES) {
        const bytes = await req.bytes();
        body = parseJsonBytes(bytes);
        if (body === UNPARSED) body = await readBodySlow(req, bytes);
      } else {
        body = await readBodySlow(req);
      }
      const wantsJson = (headers.get("accept") ?? "").includes("application/json");
      // One plainly valid event (the common request) skips the bulk bookkeeping of parsePostedStates.
      const one = wantsJson ? undefined : fastParsePostedState(body);
      res = one === undefined
        ? cacheStates(body, wantsJson)
        : new Response(cacheOne(one, Math.floor(clock.now() / 1000)) + "\n");
    } catch (err) {
      res = failure(err, req);
    }
    count(res.status);
    return res;
  }

  function failure(err: unknown, req: Request): Response {
    if (err instanceof HttpError) return errorResponse(err);
    logger.error("request failed", { error: errorMessage(err), method: req.method, url: req.url });
    return errorResponse(new HttpError(500, "internal error"));
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

  async function route(req: Request, path: string): Promise<Response> {
    if (path === "/state") {
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

  async function other(req: Request, path: string): Promise<Response> {
    let res: Response;
    try {
      res = await route(req, path);
    } catch (err) {
      res = failure(err, req);
    }
    count(res.status);
    return res;
  }

  return (req) => {
    const path = pathOf(req.url);
    return path === "/state" && req.method === "POST" ? postState(req) : other(req, path);
  };
}
