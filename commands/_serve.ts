/**
 * The one place services start their HTTP server and wait for SIGINT/SIGTERM, shared by every command so each
 * shuts down the same way: stop intake, drain with a deadline, exit 0.
 * @module
 */
import type { Logger } from "../lib/log.ts";
import type { ServerTls } from "../lib/config/tls_files.ts";
import { ConfigError } from "../lib/config/errors.ts";
import { errorMessage } from "../lib/log.ts";
import { waitForSignal } from "../lib/http/shutdown.ts";

/** Options of {@link serveUntilSignal}. */
export interface ServeOptions {
  hostname: string;
  port: number;
  /** How the user sets the port (`ER_SERVER_PORT`, `KCL_PORT (--port)`), for the error when it is taken. */
  portSetting?: string;
  /** Serve HTTPS with this certificate chain and key; plain HTTP without. */
  tls?: ServerTls;
  /** Log every request at debug level, as the original broker did: `Started POST /state for <client>`, `Completed ...`. */
  logRequests?: boolean;
  handler: (req: Request) => Promise<Response>;
  logger: Logger;
  /**
   * Called once on SIGINT/SIGTERM (or `stop` abort), after the listener is closed to new connections. A number is
   * the exit code when the drain left something undone (see the command's documented codes).
   */
  drain: () => Promise<void | number>;
  /** Aborting it triggers the same shutdown as a signal (used by `dev` and tests). */
  stop?: AbortSignal;
  /** Resolves when the service fails fatally while running; its rejection stops the service with exit 1. */
  fatal?: Promise<never>;
  onListen?: (addr: Deno.NetAddr) => void;
}

/** What a service that started hands over to {@link whileStarting}. */
export interface StartedService {
  handler: (req: Request) => Promise<Response>;
  /** Rejects when the service fails for good while running; absent: it never does. */
  fatal?: Promise<never>;
}

/**
 * The port opens first: `placeholder` (lib/http/ops.ts `startingHandler`) answers until `starting` resolves, then the
 * service's own handler does. `fatal` rejects when start-up fails or, later, when the service does; hand both to
 * {@link serveUntilSignal}.
 *
 * @example
 * ```ts
 * const starting = startRouter(config, deps);
 * const { handler, fatal } = whileStarting(starting, startingHandler(registry, { consumer: false }, "starting", logger));
 * ```
 */
export function whileStarting(
  starting: Promise<StartedService>,
  placeholder: (req: Request) => Promise<Response>,
): { handler: (req: Request) => Promise<Response>; fatal: Promise<never> } {
  let current = placeholder;
  const fatal = starting.then((service) => {
    current = service.handler;
    return service.fatal ?? new Promise<never>(() => {});
  });
  fatal.catch(() => {}); // reported by serveUntilSignal when it comes first; ignored once shutting down
  return { handler: (req) => current(req), fatal };
}

/** Serves until a signal, then drains; resolves to the exit code (0 after a clean drain, 1 on a fatal error). */
export async function serveUntilSignal(opts: ServeOptions): Promise<number> {
  const server = listen(opts);
  // An own controller so the signal listeners are removed however the wait ends.
  const waiting = new AbortController();
  const onStop = () => waiting.abort();
  if (opts.stop?.aborted) waiting.abort();
  opts.stop?.addEventListener("abort", onStop, { once: true });
  const signal = waitForSignal(["SIGINT", "SIGTERM"], waiting.signal);
  let code = 0;
  let configError: ConfigError | undefined;
  try {
    const reason = await (opts.fatal ? Promise.race([signal, opts.fatal]) : signal);
    opts.logger.info("shutting down", { reason });
  } catch (err) {
    // A configuration error found while starting (behind the open port) ends like any other: exit 2, listed.
    if (err instanceof ConfigError) configError = err;
    else opts.logger.error("fatal error, shutting down", { error: errorMessage(err) });
    code = 1;
  } finally {
    opts.stop?.removeEventListener("abort", onStop);
    waiting.abort();
  }
  // Stop accepting, but let requests already in flight finish while buffers drain.
  const closing = server.shutdown();
  try {
    const drained = await opts.drain();
    if (typeof drained === "number" && drained !== 0 && code === 0) code = drained;
  } catch (err) {
    opts.logger.error("drain failed", { error: errorMessage(err) });
    code = 1;
  }
  await closing;
  if (configError !== undefined) throw configError;
  return code;
}

/** Binds the port; a port in use is a configuration error naming it and its setting (exit 2). */
function listen(opts: ServeOptions): Deno.HttpServer<Deno.NetAddr> {
  try {
    return Deno.serve({
      hostname: opts.hostname,
      port: opts.port,
      ...(opts.tls === undefined ? {} : { cert: opts.tls.cert, key: opts.tls.key }),
      onListen: (addr) => {
        opts.logger.info("listening", {
          address: `${addr.hostname}:${addr.port}`,
          scheme: opts.tls === undefined ? "http" : "https",
        });
        opts.onListen?.(addr);
      },
      onError: (err) => {
        opts.logger.error("request failed", { error: errorMessage(err) });
        return new Response("internal error", { status: 500 });
      },
    }, opts.logRequests ? withRequestLog(opts.handler, opts.logger) : opts.handler);
  } catch (err) {
    if (err instanceof Deno.errors.AddrInUse) {
      const setting = opts.portSetting === undefined ? "" : ` (${opts.portSetting})`;
      throw new ConfigError([
        `port ${opts.port}${setting}: ${opts.hostname}:${opts.port} is already in use by another process; ` +
        "stop it or choose another port",
      ]);
    }
    throw err;
  }
}

const STATUS_TEXT: Record<number, string> = {
  200: "OK",
  202: "Accepted",
  204: "No Content",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  499: "Client Closed Request",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
};

/** The handler with a debug line when each request starts and ends (method, path, client; status, duration). */
function withRequestLog(
  handler: (req: Request) => Promise<Response>,
  logger: Logger,
): (req: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>) => Promise<Response> {
  return async (req, info) => {
    const started = performance.now();
    const path = req.url.slice(req.url.indexOf("/", req.url.indexOf("//") + 2));
    logger.debug(`Started ${req.method} ${path} for ${info.remoteAddr.hostname}:${info.remoteAddr.port}`);
    const res = await handler(req);
    const ms = performance.now() - started;
    const took = ms < 1 ? `${(ms * 1000).toFixed(3)}us` : `${ms.toFixed(3)}ms`;
    logger.debug(`Completed ${res.status} ${STATUS_TEXT[res.status] ?? ""} in ${took}`.replace("  ", " "));
    return res;
  };
}
