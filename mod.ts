/**
 * Public library API of event-router, for people embedding its pieces in their own Deno programs: each service's
 * config type and parser next to its `start*`, and the shared pieces they are given (clock, logger, errors). Test
 * doubles (a manual clock, a silent logger, real servers for tests) are in `./testing`.
 * @module
 */
export { type Clock, systemClock, type TimerId } from "./lib/clock.ts";
export { createLogger, type LogFields, type Logger, type LoggerOptions, type LogLevel } from "./lib/log.ts";
export { formatDuration, parseDuration } from "./lib/duration.ts";
export { formatSseEvent, readSseStream, type SseEvent, SseParser, type SseParserCallbacks } from "./lib/sse.ts";
export { ConfigError, UsageError } from "./lib/config/errors.ts";
export type { Env } from "./lib/config/parse.ts";
export { type ErrorDetail, HttpError, type HttpErrorOptions } from "./lib/http/errors.ts";
export type { CompressionCodec } from "./lib/kafka/compression/codec.ts";
export type { KafkaSaslConfig, KafkaSecurityConfig, KafkaTlsConfig, SecurityProtocol } from "./lib/kafka/security.ts";
export type { ServerTls } from "./lib/config/tls_files.ts";
export type { RedisTarget } from "./lib/config/redis_server.ts";

// kcl-proxy
export {
  KCL_PROXY_DEFAULTS,
  type KclProxyConfig,
  kclProxyConfig,
  parseKclProxyConfig,
} from "./lib/config/kcl_proxy.ts";
export { type KclProxy, type KclProxyDeps, startKclProxy, type StopReport } from "./lib/kcl/service.ts";
export { type ApiKey, ApiKeys } from "./lib/kcl/api_keys.ts";
export { type BatchedClass, PRIORITY_CLASSES, type PriorityClass } from "./lib/kcl/priority.ts";
export type { ClassLimits } from "./lib/kcl/priority_batcher.ts";

// router (`start`, `mock`)
export {
  type IntegrationSourceConfig,
  loadRouterConfig,
  parseIntegrationList,
  ROUTER_DEFAULTS,
  type RouterConfig,
  routerConfig,
  type S3Config,
} from "./lib/config/router.ts";
export { type PendingOffset, type RouterDeps, type RunningRouter, startRouter } from "./lib/router/service.ts";
export type { Fetch, Integration } from "./lib/router/houston_client.ts";
export type { DeadLetter, DeadLetterStore } from "./lib/router/dead_letter.ts";

// httpbroker (`receiver httpbroker`)
export {
  HTTPBROKER_DEFAULTS,
  type HttpBrokerConfig,
  httpBrokerConfig,
  type HttpBrokerRawInput,
  type ListenAddress,
  loadHttpBrokerConfig,
  parseHttpBrokerArgs,
} from "./lib/config/httpbroker.ts";
export { type HttpBroker, type HttpBrokerDeps, startHttpBroker } from "./lib/httpbroker/service.ts";
