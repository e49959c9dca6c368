/**
 * A small exact-path route table, the one way every service maps a request to its handler: a path (or a path
 * prefix) and a handler per method. A known path asked with another method is answered 405 with `Allow`; an unknown
 * path gets the service's 404. Shaped like std's `http/route.ts`, without patterns: the services' paths are fixed.
 * @module
 */
import { HttpError } from "./errors.ts";
import { pathOf } from "./path.ts";

/** A request handler as the services write them. */
export type Handler = (req: Request) => Response | Promise<Response>;

/** The methods a route may answer. */
export type Method = "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE";

/** One path and its handlers. A `GET` handler also answers `HEAD` unless the route gives one of its own. */
export interface Route {
  /** The exact path, or with {@link prefix} the start of every path it serves (`/state/`). */
  path: string;
  prefix?: boolean;
  methods: Partial<Record<Method, Handler>>;
}

interface Compiled {
  methods: Partial<Record<string, Handler>>;
  allow: string;
}

/**
 * The handler of a table of routes. Exact paths are matched first, then prefixes in the order given. A 404 or 405
 * is thrown as an {@link HttpError} (synchronously), for the service's error wrapper to answer.
 *
 * @example
 * ```ts
 * const route = routeTable([
 *   ...opsRoutes({ registry, ready }),
 *   { path: "/integrations", methods: { GET: () => jsonResponse(cache.snapshot()) } },
 * ], (req, path) => new HttpError(404, `no route for ${req.method} ${path}`));
 * ```
 */
export function routeTable(
  routes: Route[],
  notFound: (req: Request, path: string) => HttpError = (req, path) =>
    new HttpError(404, `not found: ${req.method} ${path}`),
): (req: Request) => Response | Promise<Response> {
  const exact = new Map<string, Compiled>();
  const prefixes: Array<[string, Compiled]> = [];
  for (const route of routes) {
    const methods: Partial<Record<string, Handler>> = { ...route.methods };
    if (methods.GET !== undefined && methods.HEAD === undefined) methods.HEAD = methods.GET;
    const compiled = { methods, allow: Object.keys(methods).sort().join(", ") };
    if (route.prefix) prefixes.push([route.path, compiled]);
    else if (exact.has(route.path)) throw new Error(`route ${route.path} is listed twice`);
    else exact.set(route.path, compiled);
  }
  return (req) => {
    const path = pathOf(req.url);
    let route = exact.get(path);
    if (route === undefined) {
      for (const [start, r] of prefixes) {
        if (path.startsWith(start)) {
          route = r;
          break;
        }
      }
    }
    if (route === undefined) throw notFound(req, path);
    const handler = route.methods[req.method];
    if (handler === undefined) {
      throw new HttpError(405, `method ${req.method} not allowed on ${path}`, { headers: { allow: route.allow } });
    }
    return handler(req);
  };
}
