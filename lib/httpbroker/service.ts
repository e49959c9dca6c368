/**
 * Wires the broker together (store, HTTP handler, Redis sink, persistence, lease, ticker) so `receiver httpbroker`
 * and `event-router dev` run the same thing; the caller owns the HTTP server and the shutdown signal.
 * @module
 */
import type { Clock } from "../clock.ts";
import { systemClock } from "../clock.ts";
import type { HttpBrokerConfig } from "../config/httpbroker.ts";
import { describeHttpBrokerConfig } from "../config/httpbroker.ts";
import { describeRedisTarget } from "../config/redis_server.ts";
import { ConfigError } from "../config/errors.ts";
import type { Logger } from "../log.ts";
import { errorMessage } from "../log.ts";
import type { Registry } from "../metrics.ts";
import { createRegistry } from "../metrics.ts";
import { withDeadline } from "../http/shutdown.ts";
import { FlapjackSink } from "./flapjack_sink.ts";
import { createBrokerHandler } from "./http.ts";
import { LeaderLease } from "./leader_lease.ts";
import { createBrokerMetrics } from "./metrics.ts";
import { StatePersistence } from "./persistence.ts";
import type { RedisLink, RedisLinkOptions } from "./redis_link.ts";
import { StateStore } from "./state_store.ts";
import { Submitter } from "./submitter.ts";
import { Ticker } from "./ticker.ts";
import { RedisWorkerUnavailableError, WorkerRedisLink, type WorkerRedisOptions } from "./worker_redis.ts";

/** What the broker is given besides its config. */
export interface HttpBrokerDeps {
  /** Where the broker logs. */
  logger: Logger;
  /** Ticks, TTLs and persistence windows run on it; default the system clock. */
  clock?: Clock;
  /**
   * Where its metrics register; default a new registry (a prom-client Registry).
   * @ignore
   */
  registry?: Registry;
  /** Identifies this instance in the leader lease; default a random UUID. */
  instanceId?: string;
  /** How long start-up waits for the first Redis connection before serving anyway (ms); default 2000. */
  connectWaitMs?: number;
  /** Persistence coalescing window (ms); default 100. */
  flushDelayMs?: number;
  /** Deadline of the final flush at shutdown (ms); default 5000. */
  stopDeadlineMs?: number;
  /**
   * Where the Redis client runs: by default a Web Worker, so the HTTP thread neither loads ioredis nor encodes
   * commands (measured: ~5 % more requests per second); `main` keeps it on the calling thread.
   */
  redisThread?: "worker" | "main";
  /** Told the payloads of every submission Redis accepted (see FlapjackSinkOptions.onSubmitted). */
  onSubmitted?: (payloads: string[]) => void;
  /**
   * Settings of the Redis worker (tests: a crashing entry, a short restart delay).
   * @ignore
   */
  redisWorker?: Pick<WorkerRedisOptions, "entry" | "restartDelayMs" | "callTimeoutMs">;
}

/** A running broker. */
export interface HttpBroker {
  /** Serves `/state`, `/state/<entity>/<check>`, `/health`, `/ready` and `/metrics`. */
  handler: (req: Request) => Promise<Response>;
  /** Readiness by dependency (`/ready`). */
  ready(): Record<string, boolean>;
  /** Stops ticking, writes dirty states, releases the lease, closes Redis. */
  stop(): Promise<void>;
  /**
   * One of its parts, for tests; not part of the public API.
   * @ignore
   */
  readonly store: StateStore;
  /**
   * One of its parts, for tests; not part of the public API.
   * @ignore
   */
  readonly ticker: Ticker;
  /**
   * One of its parts, for tests; not part of the public API.
   * @ignore
   */
  readonly submitter: Submitter;
  /**
   * One of its parts, for tests; not part of the public API.
   * @ignore
   */
  readonly sink: FlapjackSink;
  /**
   * One of its parts, for tests; not part of the public API.
   * @ignore
   */
  readonly persistence: StatePersistence | undefined;
  /**
   * One of its parts, for tests; not part of the public API.
   * @ignore
   */
  readonly lease: LeaderLease | undefined;
  /**
   * One of its parts, for tests; not part of the public API.
   * @ignore
   */
  readonly registry: Registry;
}

/**
 * Starts the broker: connects to Redis (waiting briefly so persisted states are loaded before the first request),
 * then ticks every interval. It keeps running through Redis outages.
 */
export async function startHttpBroker(config: HttpBrokerConfig, deps: HttpBrokerDeps): Promise<HttpBroker> {
  const clock = deps.clock ?? systemClock;
  const logger = deps.logger;
  const registry = deps.registry ?? createRegistry();
  logger.info(`Booting with config: ${describeHttpBrokerConfig(config)}`);

  const store = new StateStore(config.maxStates);
  const metrics = createBrokerMetrics(registry, () => store.size, config.maxStates);
  const redisOptions: RedisLinkOptions = { ...config.redis };
  const sink = new FlapjackSink({
    link: await openRedisLink(redisOptions, deps.redisThread ?? "worker", { ...deps.redisWorker, logger }),
    server: describeRedisTarget(config.redis),
    queue: config.queue,
    flapjackVersion: config.flapjackVersion,
    logger,
    onSubmitted: deps.onSubmitted,
  });
  const persistence = config.persist
    ? new StatePersistence({
      redis: sink.redis,
      store,
      queue: config.queue,
      clock,
      logger,
      flushDelayMs: deps.flushDelayMs,
      connected: () => sink.connected,
    })
    : undefined;
  // Without persistence every instance only knows its own states, so each must submit them (the original's model).
  const lease = persistence
    ? new LeaderLease({
      redis: sink.redis,
      queue: config.queue,
      id: deps.instanceId ?? crypto.randomUUID(),
      ttlMs: config.intervalMs * 3,
    })
    : undefined;

  let loading: Promise<void> = Promise.resolve();
  sink.onReady(() => {
    if (!persistence) return;
    loading = persistence.loadAndRewrite().then(
      (n) => {
        if (n > 0) logger.info(`Loaded ${n} persisted states from redis`);
      },
      (err) => logger.warn("loading persisted states failed", { error: errorMessage(err) }),
    );
  });
  sink.start();
  if (await sink.waitReady(deps.connectWaitMs ?? 2000)) await loading;
  else if (sink.refusal?.kind === "database") {
    // A database the server does not have is a configuration error: writing elsewhere would lose every state.
    await sink.close();
    throw new ConfigError([`--database: ${sink.refusal.message}`]);
  } else logger.warn("redis not reachable yet; accepting states and retrying in the background");

  const submitter = new Submitter({ store, sink, clock, logger, metrics, persistence, lease });
  const ticker = new Ticker(clock, config.intervalMs, async () => {
    await submitter.run();
  });
  ticker.start({ immediate: true });

  const handler = createBrokerHandler({
    store,
    clock,
    logger,
    metrics,
    registry,
    ready: () => ({ redis: sink.connected }),
    requestTimeoutMs: config.requestTimeoutMs,
    committed: persistence === undefined ? undefined : () => persistence.committed(),
  });

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      await ticker.stop();
      if (persistence) {
        persistence.stop();
        if (sink.connected) {
          const r = await withDeadline(persistence.flush().catch(() => {}), deps.stopDeadlineMs ?? 5000, clock);
          if (!r.done || store.dirtyCount > 0) {
            logger.warn("states not persisted at shutdown", { states: store.dirtyCount });
          }
        } else if (store.dirtyCount > 0) {
          logger.warn("redis unreachable at shutdown; states not persisted", { states: store.dirtyCount });
        }
      }
      await lease?.release().catch(() => {});
      await sink.close();
    })();
    return stopping;
  };

  return {
    handler,
    ready: () => ({ redis: sink.connected }),
    stop,
    store,
    ticker,
    submitter,
    sink,
    persistence,
    lease,
    registry,
  };
}

/** The Redis connection, in a worker unless asked otherwise or the worker cannot run. */
async function openRedisLink(
  options: RedisLinkOptions,
  thread: "worker" | "main",
  worker: WorkerRedisOptions,
): Promise<RedisLink> {
  const { logger } = worker;
  if (thread === "worker") {
    try {
      return await WorkerRedisLink.start(options, worker);
    } catch (err) {
      if (!(err instanceof RedisWorkerUnavailableError)) throw err;
      // Single-file bundles do not carry the worker entry: same behaviour, a little slower.
      logger.warn("redis worker unavailable; using redis on the main thread", { error: errorMessage(err) });
    }
  }
  // Imported only here, so that with the worker the HTTP thread never loads ioredis.
  const { DirectRedisLink } = await import("./direct_redis.ts");
  return new DirectRedisLink(options);
}
