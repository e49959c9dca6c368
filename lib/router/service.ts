/**
 * Wires the clickstream router together from its config: Kafka clients, Houston (or `mock`'s fixed list), the
 * integration cache, SSE, the retry lane, metrics and the HTTP handler. Commands and `dev` run it; it never reads
 * the environment or installs signal handlers itself.
 * @module
 */
import { backoffDelay, RECONNECT_BACKOFF } from "../backoff.ts";
import type { Clock, TimerId } from "../clock.ts";
import { systemClock } from "../clock.ts";
import type { RouterConfig } from "../config/router.ts";
import { createKafka } from "../kafka/kafkajs/client.ts";
import { AckConsumer, type UndecodableBatchError } from "../kafka/kafkajs/consumer.ts";
import { WireProducer } from "../kafka/wire_producer.ts";
import { brokerSecurity, tokenSource } from "../kafka/security.ts";
import { ClusterProbe } from "../kafka/cluster_probe.ts";
import { kafkaCheck } from "../kafka/diagnosis.ts";
import type { Logger } from "../log.ts";
import { errorMessage } from "../log.ts";
import { createRegistry, type Registry } from "../metrics.ts";
import { type DeadLetterStore, S3DeadLetters } from "./dead_letter.ts";
import {
  ApiKeyToken,
  type Fetch,
  HoustonClient,
  type IntegrationSource,
  LoginToken,
  StaticIntegrationSource,
  type TokenProvider,
} from "./houston_client.ts";
import { routerHandler } from "./http.ts";
import { IntegrationCache } from "./integration_cache.ts";
import { createRouterMetrics, type RouterMetrics } from "./metrics.ts";
import { CoalescingSender } from "../kafka/coalescing_sender.ts";
import { RetryLane } from "./retry.ts";
import { RetryPolicy } from "./retry_policy.ts";
import { MessageRouter } from "./router.ts";
import { SseSubscriber } from "./sse_subscriber.ts";

/** How often a consumer-group join in progress is reported. */
const JOIN_PROGRESS_MS = 5_000;

/** How an operator sets the router's brokers, named in the advice of a Kafka failure line. */
const BROKERS_SETTING = "ER_BOOTSTRAP_SERVERS";
/** What the caller provides besides the config. */
export interface RouterDeps {
  /** Where the router logs. */
  logger: Logger;
  /** Backoffs, the cache's TTL and the progress lines run on it; default the system clock. */
  clock?: Clock;
  /**
   * Where its metrics register; default a new registry (a prom-client Registry).
   * @ignore
   */
  registry?: Registry;
  /** fetch used for Houston and SSE (default: the global one). */
  fetch?: Fetch;
  /** Replaces the S3 dead-letter store (tests may pass their own real store). */
  deadLetters?: DeadLetterStore;
  /** Messages of one fetched batch routed concurrently; default 10000. */
  concurrency?: number;
  /** Partitions whose batches are routed at the same time; default 4. */
  partitionsConsumedConcurrently?: number;
  /** Retries of a failed produce before it counts as failed (default 5). */
  producerRetries?: number;
  /** Kafka client id; default `event-router`. */
  clientId?: string;
  /** Aborting it gives up waiting for Kafka at start (`startRouter` then rejects). */
  signal?: AbortSignal;
}

/** An input offset left uncommitted at shutdown. */
export interface PendingOffset {
  /** The topic consumed. */
  topic: string;
  /** Its partition. */
  partition: number;
  /** The first offset not committed (a decimal string). */
  offset: string;
}

/** A running router. */
export interface RunningRouter {
  /** Serves `/health`, `/ready`, `/metrics` and `/integrations`. */
  handler: (req: Request) => Promise<Response>;
  /**
   * Readiness per dependency: `consumer` joined its group, `kafka` a broker accepts us (cluster probe), and
   * `retryConsumer` with `--retry`.
   */
  ready(): Record<string, boolean>;
  /**
   * The integrations cache (what `/integrations` shows); for tests, not part of the public API.
   * @ignore
   */
  cache: IntegrationCache;
  /**
   * Its metrics (for tests; not part of the public API).
   * @ignore
   */
  metrics: RouterMetrics;
  /**
   * The registry its metrics are in; for tests, not part of the public API.
   * @ignore
   */
  registry: Registry;
  /**
   * Stops intake, lets in-flight messages finish for up to `deadlineMs` (default `ER_KAFKA_PRODUCER_FLUSH_TIMEOUT_MS`),
   * and returns the offsets that were left uncommitted (they will be consumed again).
   */
  stop(deadlineMs?: number): Promise<{ pending: PendingOffset[] }>;
  /** Rejects when a consumer crashed for good (the command then exits 1); never resolves. */
  fatal: Promise<never>;
}

/**
 * Starts the router and resolves once the Kafka clients are connected and the consumers are started.
 *
 * @example
 * ```ts
 * const router = await startRouter(loadRouterConfig(args, env, "start"), { logger });
 * // serve router.handler ...
 * const { pending } = await router.stop();
 * ```
 */
export async function startRouter(config: RouterConfig, deps: RouterDeps): Promise<RunningRouter> {
  const logger = deps.logger;
  const clock = deps.clock ?? systemClock;
  const registry = deps.registry ?? createRegistry();
  const metrics = createRouterMetrics(registry, { appLabels: config.metricsAppLabels ?? true });
  const stopping = new AbortController();

  let tokens: TokenProvider | undefined;
  let source: IntegrationSource;
  if (config.source.kind === "static") {
    source = new StaticIntegrationSource(config.source.integrations);
  } else {
    const auth = config.source.auth;
    tokens = "apiKey" in auth ? new ApiKeyToken(auth.apiKey) : new LoginToken({
      url: config.source.url,
      username: auth.username,
      password: auth.password,
      clock,
      logger: logger.child({ component: "houston" }),
      fetch: deps.fetch,
    });
    source = new HoustonClient({ url: config.source.url, tokens, fetch: deps.fetch });
  }
  const cache = new IntegrationCache({
    source,
    clock,
    logger: logger.child({ component: "integration-cache" }),
    ttlMs: config.cacheTtlMs,
    events: {
      miss: () => metrics.cacheMiss.inc(),
      update: () => metrics.cacheUpdate.inc(),
      staleServed: () => metrics.cacheStale.inc(),
      evicted: () => metrics.cacheEvicted.inc(),
    },
  });

  const clientId = deps.clientId ?? "event-router";
  // The per-produce timeout also bounds every request; the floor keeps the consumer's 1 s long-poll fetches valid.
  const requestTimeoutMs = Math.max(config.messageTimeoutMs, 1500);
  const security = config.kafkaSecurity;
  // One OAUTHBEARER token for the consumer, the producer and the probe.
  const kafkaTokens = tokenSource(security, { clock, fetch: deps.fetch });
  const wireSecurity = brokerSecurity(security, { tokens: kafkaTokens });
  const kafka = createKafka({
    brokers: config.bootstrapServers,
    clientId,
    logger,
    clock,
    requestTimeoutMs,
    security,
    tokens: kafkaTokens,
  });
  const producer = new WireProducer({
    security: wireSecurity,
    brokers: config.bootstrapServers,
    clientId,
    logger,
    clock,
    timeoutMs: config.messageTimeoutMs,
    requestTimeoutMs,
    retries: deps.producerRetries,
    compression: config.compression,
  });
  // The producer connects on its first send; the probe tells /ready whether a broker accepts us meanwhile.
  const probe = new ClusterProbe({
    brokers: config.bootstrapServers,
    clientId,
    logger,
    clock,
    security: wireSecurity,
    brokersSetting: BROKERS_SETTING,
  });
  probe.start();
  // The produces of one fetched batch's messages leave together: one request per broker.
  const batcher = new CoalescingSender(producer, { after: "task", maxRecords: 30_000 });

  const retryPolicy = new RetryPolicy(config.maxRetries);
  let deadLetters: DeadLetterStore | undefined;
  let retryLane: RetryLane | undefined;
  if (config.retry !== undefined) {
    deadLetters = deps.deadLetters ?? new S3DeadLetters(config.retry.s3);
    retryLane = new RetryLane({
      topic: config.retry.topic,
      policy: retryPolicy,
      // Unbatched: a hand-over must not wait behind, or share a request with, the records that just failed.
      sender: producer,
      deadLetters,
      cache,
      metrics,
      logger: logger.child({ component: "retry" }),
      clock,
      signal: stopping.signal,
    });
  }
  const router = new MessageRouter({
    cache,
    sender: batcher,
    metrics,
    logger: logger.child({ component: "router" }),
    clock,
    policy: retryPolicy,
    retry: retryLane,
    signal: stopping.signal,
  });

  const onUndecodableBatch = (e: UndecodableBatchError) =>
    metrics.undecodableBatches.inc({ topic: e.topic, partition: String(e.partition) });
  // High enough that a whole fetched batch (about 1 MB per partition) is routed at once, so its produces leave
  // together instead of in several rounds.
  const concurrency = deps.concurrency ?? 10_000;
  const consumer = new AckConsumer(kafka, {
    groupId: config.groupId,
    topics: [config.ingestionTopic],
    fromBeginning: true,
    logger,
    clock,
    concurrency,
    // Several partitions at once, so a message waiting on Houston stalls only its own partition.
    partitionsConsumedConcurrently: deps.partitionsConsumedConcurrently ?? 4,
    handle: (msg) => router.handle(msg),
    onUndecodableBatch,
  });
  let retryConsumer: AckConsumer | undefined;
  if (retryLane !== undefined && config.retry !== undefined) {
    const lane = retryLane;
    retryConsumer = new AckConsumer(kafka, {
      groupId: `${config.groupId}-retry`,
      topics: [config.retry.topic],
      fromBeginning: true,
      logger,
      clock,
      concurrency,
      handle: (msg) => lane.handle(msg),
      onUndecodableBatch,
    });
  }

  let sse: SseSubscriber | undefined;
  if (config.sseUrl !== undefined && tokens !== undefined) {
    sse = new SseSubscriber({
      url: config.sseUrl,
      tokens,
      clock,
      logger: logger.child({ component: "sse" }),
      fetch: deps.fetch,
      onClickstream: (appId) => {
        metrics.sseClickstream.inc();
        cache.refresh(appId).catch((err) =>
          logger.warn("refresh after SSE clickstream event failed", { appId, error: errorMessage(err) })
        );
      },
      onConnected: (since) => {
        const expired = cache.expireOlderThan(since);
        if (expired > 0) logger.info("SSE reconnected; cached entries from before the gap expired", { expired });
      },
      onIgnored: (type) => metrics.sseIgnored.inc({ type }),
    });
    sse.start();
  }

  // Kafka may not accept us yet (down, refusing our credentials): keep trying until it does or the command gives up
  // (signal). A line per cause, not per attempt: the repeats are debug, and /ready says 503 meanwhile.
  let lastCause = "";
  // Joining can take a session timeout or more (a previous member must time out first, Kafka may be down): a line
  // every few seconds says the router is still at it.
  const joinStarted = clock.now();
  let attempt = 1;
  let progress: TimerId | undefined;
  const tellProgress = () => {
    logger.info("still joining the consumer group", {
      groupId: config.groupId,
      waitedSeconds: Math.round((clock.now() - joinStarted) / 1000),
      attempt,
    });
    progress = clock.setTimeout(tellProgress, JOIN_PROGRESS_MS);
  };
  progress = clock.setTimeout(tellProgress, JOIN_PROGRESS_MS);
  for (;; attempt++) {
    try {
      await consumer.start();
      await retryConsumer?.start();
      clock.clearTimeout(progress);
      break;
    } catch (err) {
      const delay = backoffDelay(attempt, RECONNECT_BACKOFF);
      const givingUp = deps.signal?.aborted === true || consumer.failure !== null;
      const cause = errorMessage(err);
      if (!givingUp) {
        const log = cause === lastCause ? logger.debug : logger.warn;
        lastCause = cause;
        log.call(logger, "cannot join the consumer group yet; retrying", {
          brokers: config.bootstrapServers,
          groupId: config.groupId,
          attempt,
          retryInMs: delay,
          error: cause,
          check: kafkaCheck(cause, BROKERS_SETTING),
        });
      }
      if (givingUp || !await clock.sleep(delay, deps.signal).then(() => true, () => false)) {
        clock.clearTimeout(progress);
        stopping.abort();
        await probe.stop();
        await sse?.stop();
        await consumer.stop({ deadlineMs: 0 }).catch(() => {});
        await retryConsumer?.stop({ deadlineMs: 0 }).catch(() => {});
        await producer.disconnect().catch(() => {});
        deadLetters?.close();
        throw err;
      }
    }
  }
  logger.info("router started", {
    joinedAfterSeconds: Math.round((clock.now() - joinStarted) / 1000),
    ingestionTopic: config.ingestionTopic,
    groupId: config.groupId,
    retry: config.retry !== undefined,
    sse: sse !== undefined,
    source: config.source.kind,
  });

  const ready = () => {
    const checks: Record<string, boolean> = { consumer: consumer.ready, kafka: probe.ready };
    if (retryConsumer !== undefined) checks["retryConsumer"] = retryConsumer.ready;
    return checks;
  };

  // Shown by /ready without gating it: a Houston outage is served from the cache, a cut SSE stream reconnects.
  const details = () => {
    const out: Record<string, unknown> = {};
    if (source instanceof HoustonClient) {
      const last = source.lastLookup;
      out["houston"] = last === undefined ? { lastLookup: "none yet" } : {
        lastLookup: last.ok ? "ok" : "failed",
        at: new Date(last.at).toISOString(),
        ...(last.error === undefined ? {} : { error: last.error }),
      };
    }
    if (sse !== undefined) out["sse"] = { connected: sse.connected };
    return out;
  };

  // kafkajs gives up on a consumer only for non-retriable errors; the process must then stop rather than idle.
  let failureTimer: ReturnType<Clock["setTimeout"]> | undefined;
  const fatal = new Promise<never>((_, reject) => {
    const check = () => {
      const failure = consumer.failure ?? retryConsumer?.failure ?? null;
      if (failure !== null) return reject(failure);
      failureTimer = clock.setTimeout(check, 1000);
    };
    failureTimer = clock.setTimeout(check, 1000);
  });
  // Nobody may be listening (tests, dev); the rejection is still reported through serveUntilSignal when it is.
  fatal.catch(() => {});

  let stopped: Promise<{ pending: PendingOffset[] }> | undefined;
  const stop = (deadlineMs = config.flushTimeoutMs) => {
    stopped ??= (async () => {
      if (failureTimer !== undefined) clock.clearTimeout(failureTimer);
      // Messages still waiting (Houston backoff, retry delays) when the deadline passes give up uncommitted.
      const timer = clock.setTimeout(() => stopping.abort(new Error("shutdown deadline passed")), deadlineMs);
      const [main, retried] = await Promise.all([
        consumer.stop({ deadlineMs }),
        retryConsumer?.stop({ deadlineMs }) ?? Promise.resolve({ pending: [] }),
      ]);
      clock.clearTimeout(timer);
      stopping.abort(new Error("router stopped"));
      await sse?.stop();
      await batcher.drain();
      await probe.stop();
      await producer.disconnect().catch((err) =>
        logger.warn("producer disconnect failed", { error: errorMessage(err) })
      );
      deadLetters?.close();
      const pending = [...main.pending, ...retried.pending];
      if (pending.length > 0) {
        logger.warn("shutdown left messages unfinished; their offsets were not committed", { pending });
      } else {
        logger.info("router stopped; every consumed message was routed and committed");
      }
      return { pending };
    })();
    return stopped;
  };

  return {
    handler: routerHandler({ registry, cache, logger, ready, details }),
    ready,
    cache,
    metrics,
    registry,
    stop,
    fatal,
  };
}
