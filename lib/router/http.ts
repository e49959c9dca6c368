/**
 * The router's HTTP surface: `/health`, `/ready` (consumer joined its group), `/metrics`, and `GET /integrations`
 * (what the cache holds).
 * @module
 */
import { errorResponse, HttpError, jsonResponse } from "../http/errors.ts";
import { opsRoutes, type ReadinessCheck } from "../http/ops.ts";
import type { Registry } from "../metrics.ts";
import type { IntegrationCache } from "./integration_cache.ts";

/**
 * Builds the router's request handler.
 *
 * @example
 * ```ts
 * const handler = routerHandler({ registry, cache, ready: () => ({ consumer: consumer.ready }) });
 * ```
 */
export function routerHandler(
  opts: {
    registry: Registry;
    cache: IntegrationCache;
    ready: ReadinessCheck;
    details?: () => Record<string, unknown>;
  },
): (req: Request) => Promise<Response> {
  const ops = opsRoutes({ registry: opts.registry, ready: opts.ready, details: opts.details });
  return async (req) => {
    const handled = await ops(req);
    if (handled !== null) return handled;
    const path = new URL(req.url).pathname;
    if (path === "/integrations") {
      if (req.method !== "GET" && req.method !== "HEAD") {
        return errorResponse(
          new HttpError(405, `method ${req.method} not allowed on /integrations`, [], 0, { allow: "GET, HEAD" }),
        );
      }
      return jsonResponse({ integrations: opts.cache.snapshot() });
    }
    return errorResponse(new HttpError(404, `no route for ${req.method} ${path}`));
  };
}
