/**
 * The operations routes every service serves: `GET /health` (liveness), `GET /ready` (dependencies connected),
 * `GET /metrics` (Prometheus text).
 * @module
 */
import type { Registry } from "prom-client";
import { metricsResponse } from "../metrics.ts";
import { errorResponse, HttpError, jsonResponse } from "./errors.ts";

/** What `/ready` asks: each named dependency and whether it is usable now. */
export type ReadinessCheck = () => Record<string, boolean>;

/**
 * Returns a handler for the three routes, or `null` for any other request so the service's own routes follow.
 *
 * @example
 * ```ts
 * const ops = opsRoutes({ registry, ready: () => ({ kafka: producer.connected }) });
 * const handler = async (req: Request) => (await ops(req)) ?? serviceRoutes(req);
 * ```
 */
export function opsRoutes(
  opts: {
    registry: Registry;
    ready: ReadinessCheck;
    /** What `/ready` also shows without gating on it (the last Houston lookup, the SSE stream). */
    details?: () => Record<string, unknown>;
  },
): (req: Request) => Promise<Response | null> {
  return async (req) => {
    if (req.method !== "GET" && req.method !== "HEAD") return null;
    const path = new URL(req.url).pathname;
    switch (path) {
      case "/health":
        return new Response("OK", { headers: { "content-type": "text/plain; charset=utf-8" } });
      case "/ready": {
        const checks = opts.ready();
        const ok = Object.values(checks).every(Boolean);
        const details = opts.details?.();
        return jsonResponse(
          details === undefined || Object.keys(details).length === 0
            ? { ready: ok, checks }
            : { ready: ok, checks, details },
          ok ? 200 : 503,
        );
      }
      case "/metrics":
        return await metricsResponse(opts.registry);
      default:
        return null;
    }
  };
}

/**
 * What a service's port answers while the service is still starting (the port opens first): `/health` OK, so an
 * orchestrator does not restart it, `/ready` 503 with `checks` (all false), `/metrics`, and 503 `starting` for the rest.
 *
 * @example
 * ```ts
 * let handler = startingHandler(registry, { redis: false }, "the broker is starting: connecting to Redis");
 * starting.then((broker) => handler = broker.handler);
 * ```
 */
export function startingHandler(
  registry: Registry,
  checks: Record<string, false>,
  message: string,
): (req: Request) => Promise<Response> {
  const ops = opsRoutes({ registry, ready: () => checks });
  return async (req) => (await ops(req)) ?? errorResponse(new HttpError(503, message, [], 0, { "retry-after": "1" }));
}
