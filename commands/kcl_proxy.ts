/**
 * `event-router kcl-proxy`: the HTTP-to-Kafka proxy. Parses config, starts the service from lib/kcl, serves it,
 * reloads API keys on SIGHUP, and drains on SIGINT/SIGTERM.
 * @module
 */
import type { Command } from "./command.ts";
import { serveUntilSignal, whileStarting } from "./_serve.ts";
import type { Env } from "../lib/config/parse.ts";
import { parseKclProxyConfig } from "../lib/config/kcl_proxy.ts";
import { kafkaSecurityHelp } from "../lib/config/kafka_security.ts";
import { createLogger, errorMessage } from "../lib/log.ts";
import { VERSION } from "../lib/version.ts";

/** The exit code after a SIGTERM whose drain left accepted events unproduced (reported by webhook where given). */
export const EXIT_UNPRODUCED = 3;

/** Whether the proxy listens on the local machine only (where plain HTTP exposes nothing). */
function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "::1" || hostname === "[::1]" || /^127\./.test(hostname);
}

const HELP = `HTTP to Kafka proxy with priority batching and per-client API keys.

Accepts POST /events (and /event) with one UserEvent or an array of at most 1000, authenticated by the headers
X-API-KEY, X-APP-ID, X-REALM, KCL-TOPIC (and optional KCL-WEBHOOK-URL), and produces them to Kafka by priority:
low [0,10) batched and droppable, normal [10,20) batched, high [20,30) batched within 100 ms, immediate [30,∞)
produced before the response. Also serves GET /health, /ready and /metrics.

Usage:
  event-router kcl-proxy [flags]

Exit codes: 0 stopped with every accepted event produced; 1 runtime failure; 2 invalid configuration; 3 stopped
(SIGTERM) with accepted events that could not be produced within --shutdown-timeout (each reported to its failure
webhook, or logged when it had none).

Flags (each also set by its environment variable; flags win):
      --bootstrap-servers host:port,...  KCL_BOOTSTRAP_SERVERS      Kafka brokers host:port,... (required)
      --port port                        KCL_PORT                   HTTP port (default 8080)
      --host address                     KCL_HOST                   listen address (default 0.0.0.0)
      --api-keys file                    KCL_API_KEYS_FILE          API keys JSON file, re-read on SIGHUP (required)
      --max-body-bytes bytes             KCL_MAX_BODY_BYTES         largest request body (default 1048576)
      --dedup-window duration            KCL_DEDUP_WINDOW           requestId de-duplication window, 0 disables (default 10m)
      --webhook-allowed-hosts host,...   KCL_WEBHOOK_ALLOWED_HOSTS  comma-separated webhook hosts (default any http(s) host)
      --shutdown-timeout duration        KCL_SHUTDOWN_TIMEOUT       time to flush buffers on SIGTERM (default 10s)
      --low-buffer events                KCL_LOW_BUFFER             low priority buffer size (default 10000)
      --normal-buffer events             KCL_NORMAL_BUFFER          normal/high priority buffer size (default 50000)
      --kafka-compression codec          KCL_KAFKA_COMPRESSION      batch codec: none, gzip, snappy, lz4, zstd (default none)
      --request-timeout duration         KCL_REQUEST_TIMEOUT        a request body must arrive within this, else 408 (default 30s)
      --tls-cert-file file               KCL_TLS_CERT_FILE          serve HTTPS with this certificate (PEM, chain allowed)
      --tls-key-file file                KCL_TLS_KEY_FILE           the certificate's private key (PEM, unencrypted)
      --log-format json|text             KCL_LOG_FORMAT             json (default): one object per line; text: Go log lines
      --debug                            KCL_DEBUG                  debug logging
  -h, --help                                                        help for kcl-proxy

Kafka security (each also a flag: KCL_KAFKA_SASL_USERNAME is --kafka-sasl-username; secrets only as
--<name>-file or <NAME>_FILE, a file holding the value):
${kafkaSecurityHelp("KCL_")}
`;

/** The `kcl-proxy` command. */
export const kclProxyCommand: Command = {
  name: "kcl-proxy",
  summary: "HTTP to Kafka proxy with priority batching and per-client API keys",
  help: HELP,
  async run(args: string[], env: Env): Promise<number> {
    const config = parseKclProxyConfig(args, env);
    const logger = createLogger({ debug: config.debug, format: config.logFormat }).child({ service: "kcl-proxy" });
    logger.info("starting kcl-proxy", {
      version: VERSION,
      address: `${config.hostname}:${config.port}`,
      https: config.tls !== undefined,
      brokers: config.bootstrapServers,
      kafkaSecurity: config.kafkaSecurity.protocol,
      compression: config.compression,
      apiKeysFile: config.apiKeysFile,
    });
    // The service is loaded only by the command that runs it: each process keeps only its own dependencies.
    const { startKclProxy } = await import("../lib/kcl/service.ts");
    if (config.tls === undefined && !isLoopback(config.hostname)) {
      logger.warn("serving plain HTTP on a non-loopback address: API keys cross this connection unencrypted", {
        address: config.hostname,
        fix: "set KCL_TLS_CERT_FILE and KCL_TLS_KEY_FILE, or put a TLS-terminating proxy in front",
      });
    }
    const { createServiceRegistry } = await import("../lib/metrics.ts");
    const { startingHandler } = await import("../lib/http/ops.ts");
    const registry = createServiceRegistry("kcl");
    // The port opens first: /health answers while the API keys load and the producers start.
    const starting = startKclProxy(config, { logger, registry });
    const { handler, fatal } = whileStarting(
      starting,
      startingHandler(registry, { kafka: false }, "the proxy is starting: its Kafka producers are not up yet", logger),
    );
    const onHup = () => {
      starting.then((proxy) => proxy.reloadKeys())
        .catch((err) => logger.error("API keys reload failed", { error: errorMessage(err) }));
    };
    Deno.addSignalListener("SIGHUP", onHup);
    try {
      return await serveUntilSignal({
        hostname: config.hostname,
        port: config.port,
        portSetting: "KCL_PORT (--port)",
        logRequests: config.debug,
        tls: config.tls,
        handler,
        logger,
        fatal,
        drain: async () => {
          const proxy = await starting.catch(() => undefined);
          if (proxy === undefined) return 1;
          const report = await proxy.stop();
          // Exit 0 promises that everything accepted reached Kafka; the rest went to failure webhooks (or the log).
          return report.flushed && report.unproduced === 0 ? 0 : EXIT_UNPRODUCED;
        },
      });
    } finally {
      Deno.removeSignalListener("SIGHUP", onHup);
    }
  },
};
