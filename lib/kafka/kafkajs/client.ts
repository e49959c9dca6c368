/**
 * Creates the kafkajs client the router's consumer groups are built from, with kafkajs' logs sent through our {@link Logger},
 * and parses `host:port,host:port` bootstrap lists from config.
 * @module
 */
import type { TokenSource } from "../sasl/oauthbearer.ts";
import process from "node:process";
import { Kafka, logLevel } from "kafkajs";
import type { LogEntry, RetryOptions } from "kafkajs";
import type { Logger } from "../../log.ts";
import { type Clock, systemClock } from "../../clock.ts";
import { registerKafkajsCodecs } from "./codecs.ts";
import { kafkajsSecurity } from "./security.ts";
import type { KafkaSecurityConfig } from "../security.ts";

/** Options of {@link createKafka}. */
export interface CreateKafkaOptions {
  /** Bootstrap brokers as `host:port` (checked by the config: lib/host_port.ts). */
  brokers: string[];
  clientId: string;
  logger: Logger;
  /** TCP connect timeout per broker; kafkajs default 1000 ms. */
  connectionTimeoutMs?: number;
  /** Time to wait for a broker's response; kafkajs default 30000 ms. */
  requestTimeoutMs?: number;
  /** Client-wide retry policy; producers and consumers may override it. */
  retry?: RetryOptions;
  /** TLS and SASL (default: plain TCP). */
  security?: KafkaSecurityConfig;
  /** Times the suppression of repeated log lines; default the system clock. */
  clock?: Clock;
  /** The service's OAUTHBEARER token source, shared with its other clients (made here when absent). */
  tokens?: TokenSource;
}

/**
 * Creates a kafkajs {@link Kafka} client whose log lines go to `logger` with `component: "kafkajs"`.
 * kafkajs INFO and DEBUG become debug lines (kafkajs is chatty at INFO), WARN stays warn, ERROR stays error except
 * for failures kafkajs is about to retry (connection errors, entries carrying `retryCount`), which are warn: the
 * wrappers in this folder log the final outcome at error. Registers the codecs of every Kafka compression type.
 *
 * @example
 * ```ts
 * const kafka = createKafka({ brokers: parseBootstrapServers("127.0.0.1:9092"), clientId: "router", logger });
 * const consumer = new AckConsumer(kafka, { groupId: "router", topics: ["ingest"], logger, handle });
 * ```
 */
export function createKafka(opts: CreateKafkaOptions): Kafka {
  // Consumers must read batches of every codec that producers use.
  registerKafkajsCodecs();
  const log = opts.logger.child({ component: "kafkajs", clientId: opts.clientId });
  quietNegativeTimeoutWarnings(log);
  return new Kafka({
    clientId: opts.clientId,
    brokers: opts.brokers,
    connectionTimeout: opts.connectionTimeoutMs,
    requestTimeout: opts.requestTimeoutMs,
    retry: opts.retry,
    ...(opts.security === undefined ? {} : kafkajsSecurity(opts.security, { tokens: opts.tokens })),
    // kafkajs drops entries above this level before building them, so debug-off costs nothing.
    logLevel: log.debugEnabled ? logLevel.DEBUG : logLevel.WARN,
    logCreator: () => {
      const repeats = new RepeatFilter(opts.clock ?? systemClock);
      return (entry) => forwardKafkaLog(log, repeats, entry);
    },
  });
}

let warningsQuieted = false;

/**
 * kafkajs' request queue schedules its throttle check with `throttledUntil - Date.now()` while `throttledUntil` is
 * still -1, a negative delay that Node clamps to 1 ms (the intended behaviour) after printing a
 * TimeoutNegativeWarning to stderr on every new connection. Those go to debug; every other process warning still
 * reaches the listeners that were there before (the default one prints it).
 */
function quietNegativeTimeoutWarnings(log: Logger): void {
  if (warningsQuieted) return;
  warningsQuieted = true;
  const previous = process.listeners("warning");
  process.removeAllListeners("warning");
  process.on("warning", (warning) => {
    if (warning.name === "TimeoutNegativeWarning") {
      log.debug("kafkajs scheduled a timer with a negative delay (run after 1 ms)", { warning: warning.message });
      return;
    }
    for (const listener of previous) listener(warning);
  });
}

/**
 * A refused authentication is reported by the services themselves (once per broker and cause, see KafkaCluster and
 * AckConsumer); kafkajs' own lines about it, several per attempt, are debug.
 */
const AUTHENTICATION_FAILURE = /authentication failed|SaslAuthenticate/i;

/** Namespaces whose ERROR entries describe a connection attempt kafkajs will make again. */
const RETRIED_NAMESPACES = new Set(["Connection", "BrokerPool", "Cluster"]);

/** An identical warn or error line from kafkajs is shown once per this window; its repeats are debug. */
const REPEAT_WINDOW_MS = 5 * 60_000;
/** Bounds the memory of lines seen (forgotten all at once when full). */
const REPEAT_MEMORY = 1000;

/** Passes each distinct line once per {@link REPEAT_WINDOW_MS}: kafkajs logs every retry of a broker that is down. */
class RepeatFilter {
  readonly #shownAt = new Map<string, number>();
  readonly #clock: Clock;
  constructor(clock: Clock) {
    this.#clock = clock;
  }

  firstInWindow(key: string): boolean {
    const now = this.#clock.now();
    const at = this.#shownAt.get(key);
    if (at !== undefined && now - at < REPEAT_WINDOW_MS) return false;
    if (this.#shownAt.size >= REPEAT_MEMORY) this.#shownAt.clear();
    this.#shownAt.set(key, now);
    return true;
  }
}

function forwardKafkaLog(log: Logger, repeats: RepeatFilter, entry: LogEntry): void {
  const { timestamp: _timestamp, logger: _logger, message, ...extra } = entry.log as unknown as
    & Record<string, unknown>
    & { timestamp: string; logger: string; message: string };
  // A stack trace points into kafkajs' sources, which tells an operator nothing: debug only.
  const { stack, ...rest } = extra;
  const fields = { namespace: entry.namespace, ...rest };
  const loud = entry.level <= logLevel.WARN;
  if (
    loud && (
      AUTHENTICATION_FAILURE.test(`${message} ${String(rest["error"] ?? "")}`) ||
      !repeats.firstInWindow(`${entry.namespace}|${message}|${String(rest["broker"] ?? "")}`)
    )
  ) {
    log.debug(message, { ...fields, stack });
    return;
  }
  switch (entry.level) {
    case logLevel.ERROR:
      if ("retryCount" in extra || RETRIED_NAMESPACES.has(entry.namespace)) log.warn(message, fields);
      else log.error(message, fields);
      return;
    case logLevel.WARN:
      log.warn(message, fields);
      return;
    default:
      log.debug(message, { ...fields, stack });
  }
}
