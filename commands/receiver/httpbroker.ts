/**
 * `event-router receiver httpbroker`: Flapjack's HTTP broker. Parses the flags, then serves the broker from
 * lib/httpbroker until SIGINT/SIGTERM (or the `stop` signal when embedded by `dev`).
 * @module
 */
import type { Command } from "../command.ts";
import { type HttpBrokerConfig, parseHttpBrokerArgs } from "../../lib/config/httpbroker.ts";
import { createLogger, type Logger } from "../../lib/log.ts";
import { versionLine } from "../../lib/version.ts";
import { serveUntilSignal, whileStarting } from "../_serve.ts";

const HELP = `usage: event-router receiver httpbroker [<flags>]

Accepts check states over HTTP (POST /state), caches the last state of every entity:check and submits each to
Flapjack's Redis every interval; once a state is older than its ttl it submits UNKNOWN instead.

Flags:
  --help                     Show help.
  --port="3090"              Address to bind HTTP server: 3090, :3090 or host:port (default 3090; env PORT)
  --server="localhost:6380"  Redis server to connect to: host:port, redis://[user[:password]@]host[:port][/db]
                             or rediss://... for TLS (default localhost:6380)
  --database=0               Redis database to connect to (default 0; or /db in the URL, not both)
  --redis-tls-ca=FILE        PEM file of the CAs that sign the Redis server's certificate (with rediss://)
  --interval=10s             How often to submit events (default 10s)
  --queue="events"           Redis list that Flapjack reads (default events)
  --flapjack-version=2       2: also LPUSH "+" to <queue>_actions; 1: events list only (default 2)
  --no-persist               Keep states in memory only (default: persisted in Redis, survive restarts)
  --log-format=text          text (Go log lines, as the original) or json
  --tls-cert=FILE            serve HTTPS with this certificate (PEM, chain allowed); needs --tls-key
  --tls-key=FILE             the certificate's private key (PEM, unencrypted)
  --request-timeout=30s      a request body must arrive within this, else 408 (0 disables)
  --max-states=1000000       most checks cached; a new check beyond it gets 503 (updates always pass)
  --debug                    Enable verbose output (default false)
  --version                  Show application version.

Environment:
  PORT                       the HTTP port when --port is not given
  REDIS_PASSWORD             the Redis password (or REDIS_PASSWORD_FILE: a file holding it), so that it need not
                             be on the command line

HTTP API:
  POST   /state                    one event object or a JSON array of them
  GET    /state                    cached states keyed entity:check
  DELETE /state/<entity>/<check>   forget one check
  GET    /health, /ready, /metrics
`;

/** Runs the broker until `stop` aborts or a signal arrives; resolves to the exit code. */
export async function runHttpBroker(
  config: HttpBrokerConfig,
  opts: { logger?: Logger; stop?: AbortSignal; onListen?: (addr: Deno.NetAddr) => void } = {},
): Promise<number> {
  const logger = opts.logger ?? createLogger({ debug: config.debug, format: config.logFormat });
  // The service is loaded only by the command that runs it: each process keeps only its own dependencies.
  const { startHttpBroker } = await import("../../lib/httpbroker/service.ts");
  const { createServiceRegistry } = await import("../../lib/metrics.ts");
  const { startingHandler } = await import("../../lib/http/ops.ts");
  const registry = createServiceRegistry("httpbroker");
  // The port opens first: /health answers while the broker connects to Redis and loads its persisted states.
  const starting = startHttpBroker(config, { logger, registry });
  // `fatal` rejects when start-up fails (a database Redis refuses: a configuration error, exit 2).
  const { handler, fatal } = whileStarting(
    starting,
    startingHandler(registry, { redis: false }, "the broker is starting: connecting to Redis", logger),
  );
  return await serveUntilSignal({
    hostname: config.listen.hostname,
    port: config.listen.port,
    portSetting: "--port",
    logRequests: config.debug,
    tls: config.tls,
    handler,
    logger,
    fatal,
    drain: async () => {
      const broker = await starting.catch(() => undefined);
      await broker?.stop();
    },
    stop: opts.stop,
    onListen: opts.onListen,
  });
}

/** The `receiver httpbroker` command. */
export const httpBrokerCommand: Command = {
  name: "receiver httpbroker",
  summary: "accept check states over HTTP and submit them to Flapjack's Redis with TTLs",
  help: HELP,
  async run(args, env) {
    const config = parseHttpBrokerArgs(args, env);
    if (config === "version") {
      console.log(versionLine());
      return 0;
    }
    return await runHttpBroker(config);
  },
};
