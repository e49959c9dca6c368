/**
 * The operations routes every service serves: `GET /health` (liveness), `GET /ready` (dependencies connected),
 * `GET /metrics` (Prometheus text).
 * @module
 */
import type { Registry } from "prom-client";
import { metricsResponse } from "../metrics.ts";
import type { Logger } from "../log.ts";
import { HttpError, jsonResponse, withErrorBodies } from "./errors.ts";
import { type Route, routeTable } from "./routes.ts";

/** What `/ready` asks: each named dependency and whether it is usable now. */
export type ReadinessCheck = () => Record<string, boolean>;

/**
 * The three routes, for the service's {@link routeTable}.
 *
 * @example
 * ```ts
 * const route = routeTable([...opsRoutes({ registry, ready: () => ({ kafka: probe.ready }) }), ...serviceRoutes]);
 * ```
 */
export function opsRoutes(
  opts: {
    registry: Registry;
    ready: ReadinessCheck;
    /** What `/ready` also shows without gating on it (the last Houston lookup, the SSE stream). */
    details?: () => Record<string, unknown>;
  },
): Route[] {
  return [
    {
      path: "/health",
      methods: { GET: () => new Response("OK", { headers: { "content-type": "text/plain; charset=utf-8" } }) },
    },
    {
      path: "/ready",
      methods: {
        GET: () => {
          const checks = opts.ready();
          const ok = Object.values(checks).every(Boolean);
          const details = opts.details?.();
          return jsonResponse(
            details === undefined || Object.keys(details).length === 0
              ? { ready: ok, checks }
              : { ready: ok, checks, details },
            ok ? 200 : 503,
          );
        },
      },
    },
    { path: "/metrics", methods: { GET: () => metricsResponse(opts.registry) } },
  ];
}

/**
 * What a service's port answers while the service is still starting (the port opens first): `/health` OK, so an
 * orchestrator does not restart it, `/ready` 503 with `checks` (all false), `/metrics`, and 503 `starting` for the rest.
 *
 * @example
 * ```ts
 * let handler = startingHandler(registry, { redis: false }, "the broker is starting: connecting to Redis", logger);
 * starting.then((broker) => handler = broker.handler);
 * ```
 */
export function startingHandler(
  registry: Registry,
  checks: Record<string, false>,
  message: string,
  logger: Logger,
): (req: Request) => Promise<Response> {
  const starting = new HttpError(503, message, { headers: { "retry-after": "1" } });
  return withErrorBodies(routeTable(opsRoutes({ registry, ready: () => checks }), () => starting), logger);
}
