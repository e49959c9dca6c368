/**
 * Public library API of event-router, for people embedding its pieces in their own Deno programs.
 * @module
 */
export { type Clock, ManualClock, systemClock } from "./lib/clock.ts";
export { createLogger, type Logger, silentLogger } from "./lib/log.ts";
export { formatDuration, parseDuration } from "./lib/duration.ts";
export { formatSseEvent, readSseStream, type SseEvent, SseParser } from "./lib/sse.ts";
export { ConfigError, UsageError } from "./lib/config/errors.ts";
export { HttpError } from "./lib/http/errors.ts";
export { type KclProxy, type KclProxyDeps, startKclProxy } from "./lib/kcl/service.ts";
export { loadRouterConfig, type RouterConfig } from "./lib/config/router.ts";
export { type RouterDeps, type RunningRouter, startRouter } from "./lib/router/service.ts";
