/**
 * `event-router start`: the clickstream router with Houston as the source of each app's integrations.
 * @module
 */
import { loadRouterConfig, type RouterConfig } from "../lib/config/router.ts";
import type { Env } from "../lib/config/parse.ts";
import { kafkaSecurityHelp } from "../lib/config/kafka_security.ts";
import { createLogger, type Logger } from "../lib/log.ts";
import { VERSION } from "../lib/version.ts";
import type { Command } from "./command.ts";
import { serveUntilSignal, whileStarting } from "./_serve.ts";

const ENVIRONMENT = `Environment:
  ER_BOOTSTRAP_SERVERS                  Kafka brokers, host:port,host:port (required)
  ER_KAFKA_GROUP_ID                     consumer group id (required)
  ER_KAFKA_INGESTION_TOPIC              topic of incoming events (required)
  ER_SERVER_PORT                        HTTP port for /health /ready /metrics /integrations (default 8080; alias ER_SERVE_PORT)
  ER_KAFKA_PRODUCER_FLUSH_TIMEOUT_MS    shutdown drain deadline (default 1000)
  ER_KAFKA_PRODUCER_MESSAGE_TIMOUT_MS   per-produce timeout (default 5000; alias ER_KAFKA_PRODUCER_MESSAGE_TIMEOUT_MS)
  ER_MAX_RETRIES                        retries before a message is dead-lettered to S3 (default 2)
  ER_CLICKSTREAM_RETRY_TOPIC            retry topic (required with --retry)
  ER_CLICKSTREAM_RETRY_S3_BUCKET        dead-letter bucket (required with --retry)
  CLICKSTREAM_RETRY_S3_PATH_PREFIX      dead-letter key prefix (alias ER_CLICKSTREAM_RETRY_S3_PATH_PREFIX)
  ER_CACHE_TTL_MIN                      integration cache TTL in minutes (default 5)
  ER_DISABLE_CACHE_TTL                  keep cache entries until SSE replaces them (default false)
  ER_KAFKA_COMPRESSION                  codec of produced batches: none, gzip, snappy, lz4, zstd (default none)
  ER_METRICS_APP_LABELS                 false: count produced messages per integration only, without appId (default true)
  ER_LOG_FORMAT                         json (default) or text log lines
  ER_DEBUG                              debug logs (default false)
  ER_TLS_CERT_FILE, ER_TLS_KEY_FILE     serve HTTPS with this certificate (PEM, chain allowed) and key
  AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY   S3 client for dead letters
  AWS_ENDPOINT_URL_S3 (or AWS_ENDPOINT_URL)              S3-compatible endpoint (MinIO, s3rver)`;

const FLAGS = `Flags:
      --retry               retry failed produces through the retry topic, then dead-letter them to S3
      --disable-sse         do not subscribe to Houston's SSE broadcast
      --disable-cache-ttl   keep cache entries until an SSE event replaces them
      --kafka-compression   codec of produced batches (ER_KAFKA_COMPRESSION)
      --debug               debug logs
  -h, --help                help for this command

Kafka security (each also a flag: ER_KAFKA_SASL_USERNAME is --kafka-sasl-username; secrets only as
--<name>-file or <NAME>_FILE, a file holding the value):
${kafkaSecurityHelp("ER_")}`;

/** Runs a router from its config until SIGINT/SIGTERM (or `stop`), then drains; resolves to the exit code. */
export async function runRouter(
  config: RouterConfig,
  opts: { logger?: Logger; stop?: AbortSignal; onListen?: (addr: Deno.NetAddr) => void } = {},
): Promise<number> {
  const logger = opts.logger ?? createLogger({ debug: config.debug, format: config.logFormat });
  logger.info("starting event-router", {
    version: VERSION,
    command: config.source.kind === "houston" ? "start" : "mock",
    brokers: config.bootstrapServers,
    groupId: config.groupId,
    ingestionTopic: config.ingestionTopic,
    port: config.serverPort,
    https: config.tls !== undefined,
    kafkaSecurity: config.kafkaSecurity.protocol,
    compression: config.compression,
    retry: config.retry !== undefined,
  });
  for (const notice of config.notices ?? []) logger.warn(notice);
  // The service is loaded only by the command that runs it: each process keeps only its own dependencies.
  const { startRouter } = await import("../lib/router/service.ts");
  const { startingHandler } = await import("../lib/http/ops.ts");
  const { createServiceRegistry } = await import("../lib/metrics.ts");
  const registry = createServiceRegistry("event_router");
  // The port opens first: /health answers while the router waits for Kafka and its consumer group.
  const giveUp = new AbortController();
  const starting = startRouter(config, { logger, registry, signal: giveUp.signal });
  const { handler, fatal } = whileStarting(
    starting,
    startingHandler(
      registry,
      { consumer: false },
      "the router is starting: it has not joined its consumer group yet",
      logger,
    ),
  );
  return await serveUntilSignal({
    hostname: "0.0.0.0",
    port: config.serverPort,
    portSetting: "ER_SERVER_PORT",
    logRequests: config.debug,
    tls: config.tls,
    handler,
    logger,
    stop: opts.stop,
    fatal,
    onListen: opts.onListen,
    drain: async () => {
      giveUp.abort();
      const router = await starting.catch(() => undefined);
      await router?.stop();
    },
  });
}

/** The `start` command. */
export const startCommand: Command = {
  name: "start",
  summary: "start event-router",
  help: `start event-router: route clickstream events to each app's enabled integrations (looked up in Houston)

Usage:
  event-router start [flags]

${FLAGS}

${ENVIRONMENT}
  ER_HOUSTON_API_URL                    Houston GraphQL URL (required)
  ER_HOUSTON_API_KEY                    Houston API key, or:
  ER_HOUSTON_USERNAME, ER_HOUSTON_PASSWORD   a Houston superuser to log in as
  ER_SSE_URL                            Houston SSE broadcast URL (required unless --disable-sse)
`,
  async run(args: string[], env: Env): Promise<number> {
    const config = loadRouterConfig(args, env, "start");
    return await runRouter(config);
  },
};
