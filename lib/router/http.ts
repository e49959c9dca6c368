/**
 * The router's HTTP surface: `/health`, `/ready` (consumer joined its group), `/metrics`, and `GET /integrations`
 * (what the cache holds).
 * @module
 */
import { HttpError, jsonResponse, withErrorBodies } from "../http/errors.ts";
import { opsRoutes, type ReadinessCheck } from "../http/ops.ts";
import { routeTable } from "../http/routes.ts";
import type { Logger } from "../log.ts";
import type { Registry } from "../metrics.ts";
import type { IntegrationCache } from "./integration_cache.ts";

/**
 * Builds the router's request handler.
 *
 * @example
 * ```ts
 * const handler = routerHandler({ registry, cache, logger, ready: () => ({ consumer: consumer.ready }) });
 * ```
 */
export function routerHandler(
  opts: {
    registry: Registry;
    cache: IntegrationCache;
    logger: Logger;
    ready: ReadinessCheck;
    details?: () => Record<string, unknown>;
  },
): (req: Request) => Promise<Response> {
  const route = routeTable([
    ...opsRoutes(opts),
    { path: "/integrations", methods: { GET: () => jsonResponse({ integrations: opts.cache.snapshot() }) } },
  ], (req, path) => new HttpError(404, `no route for ${req.method} ${path}`));
  return withErrorBodies(route, opts.logger);
}
