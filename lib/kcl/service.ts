/**
 * Wires the proxy together: API keys, the two Kafka producers (batched classes share one, immediate has its own),
 * the priority batcher, de-duplication, failure webhooks, metrics and the HTTP handler; and its graceful stop.
 * @module
 */
import type { Clock } from "../clock.ts";
import { systemClock } from "../clock.ts";
import type { KclProxyConfig } from "../config/kcl_proxy.ts";
import { HttpError, withErrorBodies } from "../http/errors.ts";
import { opsRoutes } from "../http/ops.ts";
import { routeTable } from "../http/routes.ts";
import { StatusCounter } from "../http/status_counter.ts";
import { withDeadline } from "../http/shutdown.ts";
import type { RecordSender } from "../kafka/delivery.ts";
import { CoalescingSender } from "../kafka/coalescing_sender.ts";
import { WireProducer } from "../kafka/wire_producer.ts";
import type { BrokerSecurity } from "../kafka/wire/connection.ts";
import { brokerSecurity } from "../kafka/security.ts";
import { ClusterProbe } from "../kafka/cluster_probe.ts";
import {
  ProducerWorker,
  ProducerWorkerUnavailableError,
  type WorkerProducerSettings,
} from "../kafka/worker_producer.ts";
import type { Logger } from "../log.ts";
import { errorMessage } from "../log.ts";
import { createRegistry, type Registry } from "../metrics.ts";
import { ApiKeys } from "./api_keys.ts";
import { DedupWindow } from "./dedup.ts";
import { EventCounter } from "./event_counter.ts";
import { createEventsHandler } from "./http.ts";
import { EventIntake } from "./intake.ts";
import { createKclMetrics, type KclMetrics } from "./metrics.ts";
import { type BufferedEvent, type ClassLimits, type FailedEvent, PriorityBatcher } from "./priority_batcher.ts";
import type { BatchedClass } from "./priority.ts";
import { eventValue, RecordBuilder } from "./record.ts";
import { type FailureReport, WebhookNotifier } from "./webhook_notifier.ts";

/** What the proxy is built from besides its config. */
export interface KclProxyDeps {
  /** Where the proxy logs (its lines carry `service: kcl-proxy`). */
  logger: Logger;
  /** Batching windows, dedup, webhooks and the probe run on it; default the system clock. */
  clock?: Clock;
  /**
   * Where its metrics register; default a new registry (a prom-client Registry).
   * @ignore
   */
  registry?: Registry;
  /** Pre-loaded keys (tests, embedding); otherwise read from `config.apiKeysFile`. */
  keys?: ApiKeys;
  /**
   * `main` keeps the producers on the calling thread (tests, comparisons); by default they run in a Web Worker so that
   * Kafka encoding does not compete with HTTP handling.
   */
  producerThread?: "worker" | "main";
  /** Overrides of the batching rules (tests). */
  limits?: Partial<Record<BatchedClass, Partial<ClassLimits>>>;
  /** Producer retries per send (default 5, as kafkajs). */
  producerRetries?: number;
  /** Broker-side wait for replicas per produce request. */
  produceTimeoutMs?: number;
  /** Used for failure webhooks. */
  fetch?: typeof fetch;
  /** Wait before the second webhook try (doubles after). */
  webhookBackoffMs?: number;
  /** How often the cluster probe behind `/ready` asks Kafka while it answers (default 5000 ms). */
  kafkaProbeIntervalMs?: number;
}

/** What {@link KclProxy.stop} reports. */
export interface StopReport {
  /** True when every buffer was flushed within the shutdown timeout. */
  flushed: boolean;
  /** Events that were not produced (reported via webhook where the request named one). */
  unproduced: number;
}

/** A running proxy. */
export interface KclProxy {
  /** Serves `/events`, `/event`, `/health`, `/ready` and `/metrics`. */
  handler: (req: Request) => Promise<Response>;
  /** Readiness per dependency: `kafka` (a broker accepts the proxy) and `accepting` (not shutting down). */
  ready: () => Record<string, boolean>;
  /** Re-reads the API keys file (SIGHUP); false when it was invalid and the old keys stay. */
  reloadKeys: () => Promise<boolean>;
  /** Refuses new requests, flushes every buffer within the shutdown timeout, reports the rest, disconnects. */
  stop: () => Promise<StopReport>;
  /**
   * The registry its metrics are in; for tests, not part of the public API.
   * @ignore
   */
  registry: Registry;
  /**
   * Its metrics (counters the tests read); not part of the public API.
   * @ignore
   */
  metrics: KclMetrics;
  /** Rejects when Kafka production died for good (the producer worker crashed); the command then exits 1. */
  fatal: Promise<never>;
}

/**
 * Starts the proxy: loads keys, starts both producers and the cluster probe behind `/ready`. Does not wait for Kafka:
 * while no broker accepts the proxy, immediate events are answered `failed`, batched ones wait in their buffers (and
 * are reported by webhook when they cannot be produced), and `/ready` answers 503. Rejects when the keys are invalid.
 *
 * @example
 * ```ts
 * const proxy = await startKclProxy(config, { logger });
 * Deno.serve({ port: config.port }, proxy.handler);
 * // on SIGTERM:
 * await proxy.stop();
 * ```
 */
export async function startKclProxy(config: KclProxyConfig, deps: KclProxyDeps): Promise<KclProxy> {
  const logger = deps.logger.child({ service: "kcl-proxy" });
  const clock = deps.clock ?? systemClock;
  const registry = deps.registry ?? createRegistry();
  const metrics = createKclMetrics(registry);
  const counter = new EventCounter(metrics);
  const keys = deps.keys ?? await ApiKeys.load(config.apiKeysFile, logger);
  // Shared by the probe and producers on this thread (one OAUTHBEARER token); a producer worker makes its own.
  const security = brokerSecurity(config.kafkaSecurity, { clock });
  const probe = new ClusterProbe({
    brokers: config.bootstrapServers,
    clientId: "kcl-proxy",
    logger,
    clock,
    security,
    intervalMs: deps.kafkaProbeIntervalMs,
    brokersSetting: "KCL_BOOTSTRAP_SERVERS",
  });
  probe.start();
  let producers: Producers;
  try {
    producers = await connectProducers(config, deps, logger, security);
  } catch (err) {
    await probe.stop();
    throw err;
  }
  const batchedProducer = producers.batched;
  const immediateProducer = producers.immediate;

  const dedup = new DedupWindow(clock, config.dedupWindowMs);
  const notifier = new WebhookNotifier({
    clock,
    logger,
    metrics,
    fetch: deps.fetch,
    backoffMs: deps.webhookBackoffMs,
  });

  const reportUnproduced = (status: "failed" | "unproduced", events: FailedEvent[]) => {
    const reports: FailureReport[] = [];
    let unreported = 0;
    for (const e of events) {
      const rec = e.rec;
      counter.add(rec.clientId, rec.priority, status);
      // Not on Kafka: the client's retry with the same requestId must not be a duplicate.
      if (rec.requestId !== undefined) dedup.release(rec.clientId, rec.requestId);
      if (e.webhookUrl === undefined) {
        unreported++;
        continue;
      }
      const report: FailureReport = {
        url: e.webhookUrl,
        failure: { topic: rec.record.topic, error: e.error, event: eventValue(rec) },
      };
      if (rec.requestId !== undefined) report.failure.requestId = rec.requestId;
      if (e.webhookSecret !== undefined) report.secret = e.webhookSecret;
      reports.push(report);
    }
    if (unreported > 0) {
      logger.error("events not produced and no webhook to report them to", { events: unreported });
    }
    if (reports.length > 0) notifier.report(reports);
  };

  const batcher = new PriorityBatcher({
    sender: batchedProducer,
    clock,
    logger,
    metrics,
    limits: {
      ...deps.limits,
      low: { capacity: config.lowBuffer, ...deps.limits?.low },
      normal: { capacity: config.normalBuffer, ...deps.limits?.normal },
      high: { capacity: config.normalBuffer, ...deps.limits?.high },
    },
    // 4 × 1000-record sends keep the cluster busy: with kafkajs, 2 × 5000 produced ~30% fewer events/s, and the
    // wire producer encodes 1000 records in ~1.3 ms, so a send never waits long behind another.
    maxSendsPerClass: 4,
    maxEventsPerSend: 1000,
    onFailed: (_cls, failed) => reportUnproduced("failed", failed),
    onProduced: (cls, events: BufferedEvent[]) => {
      // A batch mostly holds one client's events: one count per run of them.
      let run = 0;
      for (let i = 0; i < events.length; i++) {
        run++;
        const client = events[i]!.rec.clientId;
        if (i + 1 === events.length || events[i + 1]!.rec.clientId !== client) {
          counter.add(client, cls, "produced", run);
          run = 0;
        }
      }
    },
  });
  // Immediate events of concurrent requests share produce calls, at most 4 at once.
  const immediateSeconds = metrics.produceSeconds.labels("immediate");
  const immediateEvents = metrics.batchEvents.labels("immediate");
  const immediate = new CoalescingSender(immediateProducer, {
    after: "microtask",
    maxInFlight: 4,
    observe: (events, seconds) => {
      immediateEvents.observe(events);
      immediateSeconds.observe(seconds);
    },
  });
  const intake = new EventIntake({ batcher, immediate, dedup, records: new RecordBuilder(), counter });

  let closing = false;
  const events = createEventsHandler({
    keys,
    webhookHosts: config.webhookAllowedHosts === undefined ? undefined : new Set(config.webhookAllowedHosts),
    intake,
    maxBodyBytes: config.maxBodyBytes,
    requestTimeoutMs: config.requestTimeoutMs,
    metrics,
    clock,
    closing: () => closing,
  });
  const ready = () => ({ kafka: probe.ready, accepting: !closing });
  const statuses = new StatusCounter(metrics.httpRequests, metrics);
  const route = routeTable([
    { path: "/events", methods: { POST: events } },
    { path: "/event", methods: { POST: events } },
    ...opsRoutes({ registry, ready }),
  ], () => new HttpError(404, "not found: use POST /events", { subcode: 1 }));
  const handler = withErrorBodies(route, logger, (status) => statuses.add(status));

  let stopping: Promise<StopReport> | undefined;
  const stop = (): Promise<StopReport> => {
    stopping ??= (async () => {
      closing = true;
      logger.info("draining", {
        buffered: batcher.pending("low") + batcher.pending("normal") + batcher.pending("high"),
      });
      const drained = await withDeadline(
        Promise.all([batcher.flushAll(), immediate.drain()]),
        config.shutdownTimeoutMs,
        clock,
      );
      let unproduced = 0;
      if (!drained.done) {
        // Past the deadline nothing more is waited for: buffered events were never sent and in-flight batches are
        // unconfirmed; both are reported now, as the process is about to exit.
        const left = batcher.takeBuffered().map((e) => ({ ...e, error: "not produced before shutdown timeout" }));
        const unconfirmed = batcher.abandonInFlight().map((e) => ({
          ...e,
          error: "produce not acknowledged before shutdown timeout (may or may not be on Kafka)",
        }));
        unproduced = left.length + unconfirmed.length;
        reportUnproduced("unproduced", [...left, ...unconfirmed]);
        logger.error("shutdown timeout: events not produced", { events: unproduced });
      }
      // Disconnecting may hang while a broker is unreachable; the webhooks below matter more.
      await withDeadline(
        producers.close(),
        drained.done ? config.shutdownTimeoutMs : 1000,
        clock,
      );
      await probe.stop();
      const webhooks = await withDeadline(notifier.idle(), Math.max(1000, config.shutdownTimeoutMs), clock);
      if (!webhooks.done) logger.error("failure webhooks still pending at exit", { calls: notifier.pending });
      logger.info("stopped", { flushed: drained.done, unproduced });
      return { flushed: drained.done, unproduced };
    })();
    return stopping;
  };

  return { handler, ready, reloadKeys: () => keys.reload(), stop, registry, metrics, fatal: producers.fatal };
}

interface Producers {
  batched: RecordSender & { readonly connected: boolean };
  immediate: RecordSender & { readonly connected: boolean };
  close(): Promise<unknown>;
  /** Rejects when the producers can no longer work at all; never resolves. */
  fatal: Promise<never>;
}

/**
 * The batched classes' producer and the immediate one (acks -1 both, see the spec), in a worker thread unless asked
 * for the calling thread or the worker cannot run. They connect on their first send.
 */
async function connectProducers(
  config: KclProxyConfig,
  deps: KclProxyDeps,
  logger: Logger,
  security: BrokerSecurity,
): Promise<Producers> {
  const settings: WorkerProducerSettings = {
    acks: -1,
    retries: deps.producerRetries,
    timeoutMs: deps.produceTimeoutMs,
    compression: config.compression,
  };
  try {
    if (deps.producerThread !== "main") {
      try {
        const worker = await ProducerWorker.start({
          brokers: config.bootstrapServers,
          clientId: "kcl-proxy",
          logger,
          client: { security: config.kafkaSecurity },
          producers: [settings, settings],
          // The cluster probe tells when Kafka accepts us; the producers connect on their first send.
          connect: false,
        });
        return {
          batched: worker.producer(0),
          immediate: worker.producer(1),
          close: () => worker.close(),
          fatal: worker.crashed,
        };
      } catch (err) {
        if (!(err instanceof ProducerWorkerUnavailableError)) throw err;
        // Single-file bundles do not carry the worker entry: same behaviour, only slower.
        logger.warn("producer worker unavailable; producing on the main thread", { error: errorMessage(err) });
      }
    }
    const options = {
      ...settings,
      brokers: config.bootstrapServers,
      clientId: "kcl-proxy",
      logger,
      security,
    };
    const batched = new WireProducer(options);
    const immediate = new WireProducer(options);
    const close = () => Promise.allSettled([batched.disconnect(), immediate.disconnect()]);
    // Producers on this thread connect on their first send and reconnect by themselves; they never fail for good.
    return { batched, immediate, close, fatal: new Promise<never>(() => {}) };
  } catch (err) {
    throw new Error(`cannot start the Kafka producers: ${errorMessage(err)}`);
  }
}
