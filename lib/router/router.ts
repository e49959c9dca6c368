/**
 * The per-message pipeline of the ingestion topic: read the routing fields, find the app's integrations (waiting
 * with backoff while Houston fails), produce the unchanged message to every integration the event does not opt out
 * of, and resolve only when each produce is acknowledged or handed over to the retry lane. The consumer commits the
 * offset only after that, so nothing is lost on a crash or rebalance.
 * @module
 */
import { Backoff, MAX_BACKOFF_MS, retry } from "../backoff.ts";
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import { errorMessage } from "../log.ts";
import type { OutboundRecord } from "../kafka/delivery.ts";
import { type ClickstreamEvent, type InvalidReason, parseEvent, wantsIntegration } from "./event.ts";
import type { Integration } from "./houston_client.ts";
import type { IntegrationCache } from "./integration_cache.ts";
import { coordinates, type InboundMessage, outboundHeaders } from "./message.ts";
import type { RouterMetrics } from "./metrics.ts";
import type { RecordSender } from "../kafka/delivery.ts";
import { INVALID, type RetryLane, UNROUTED } from "./retry.ts";
import type { RetryPolicy } from "./retry_policy.ts";

/** Backoff of a message waiting for Houston or for a failed produce without `--retry`. */
const WAIT_IN_PLACE = { initialMs: 100, maxMs: MAX_BACKOFF_MS };

/** Options of {@link MessageRouter}. */
export interface MessageRouterOptions {
  cache: IntegrationCache;
  sender: RecordSender;
  metrics: RouterMetrics;
  logger: Logger;
  clock: Clock;
  /** `ER_MAX_RETRIES`: failed lookups before a message goes to the retry lane, and what a failed produce does. */
  policy: RetryPolicy;
  /** The retry lane when `--retry` is on. */
  retry?: RetryLane;
  /** Aborted at shutdown: waiting messages give up and stay uncommitted. */
  signal: AbortSignal;
}

/**
 * Routes ingestion messages. {@link MessageRouter.handle} is the consumer's handler.
 *
 * @example
 * ```ts
 * const router = new MessageRouter({ cache, sender: batcher, metrics, logger, clock, policy, signal });
 * const consumer = new AckConsumer(kafka, { groupId, topics: [topic], logger, handle: (m) => router.handle(m) });
 * ```
 */
export class MessageRouter {
  readonly #o: MessageRouterOptions;

  constructor(opts: MessageRouterOptions) {
    this.#o = opts;
  }

  /** Routes one message; resolves when it may be committed, rejects when it must not (shutdown). */
  handle(msg: InboundMessage): Promise<void> {
    const started = performance.now();
    const m = this.#o.metrics;
    m.consumed.inc();
    const size = msg.value?.byteLength ?? 0;
    m.bytesConsumed.inc(size);
    const parsed = parseEvent(msg.value);
    if (!parsed.ok) return this.#invalid(msg, parsed.reason);
    const event = parsed.event;
    const cached = this.#o.cache.peek(event.appId);
    if (cached !== undefined) return this.#route(msg, event, cached, started);
    return this.#lookup(msg, event).then((integrations) => {
      if (integrations !== undefined) return this.#route(msg, event, integrations, started);
    });
  }

  async #invalid(msg: InboundMessage, reason: InvalidReason): Promise<void> {
    this.#o.metrics.invalid.inc({ reason });
    if (this.#o.logger.debugEnabled) {
      this.#o.logger.debug("message cannot be routed", {
        reason,
        topic: msg.topic,
        partition: msg.partition,
        offset: msg.offset,
      });
    }
    if (this.#o.retry !== undefined) {
      await this.#o.retry.deadLetter(INVALID, coordinates(msg), msg.value ?? new Uint8Array(), 0, reason);
    }
  }

  /** The app's integrations, waiting with backoff while lookups fail; undefined once handed to the retry lane. */
  async #lookup(msg: InboundMessage, event: ClickstreamEvent): Promise<Integration[] | undefined> {
    const lane = this.#o.retry;
    try {
      return await retry(async () => {
        try {
          return await this.#o.cache.get(event.appId);
        } catch (err) {
          this.#o.metrics.lookupFailures.inc();
          throw err;
        }
      }, {
        ...WAIT_IN_PLACE,
        // Without a retry lane the message waits here for as long as it takes; the offset stays uncommitted.
        maxAttempts: lane === undefined ? Infinity : this.#o.policy.lookupFailuresInPlace,
        clock: this.#o.clock,
        signal: this.#o.signal,
        onRetry: (err, _attempt, delayMs) =>
          this.#o.logger.warn("integration lookup failed; message waits", {
            appId: event.appId,
            error: errorMessage(err),
            delayMs,
          }),
      });
    } catch (err) {
      if (lane === undefined || this.#o.signal.aborted) throw err;
      this.#o.logger.warn("integration lookup keeps failing, handing the message to the retry topic", {
        appId: event.appId,
        failures: this.#o.policy.lookupFailuresInPlace,
        error: errorMessage(err),
      });
      await lane.handOver(msg, null, 0);
      return undefined;
    }
  }

  async #route(
    msg: InboundMessage,
    event: ClickstreamEvent,
    integrations: Integration[],
    started: number,
  ): Promise<void> {
    const m = this.#o.metrics;
    if (integrations.length === 0) {
      m.noIntegrations.inc();
      if (this.#o.logger.debugEnabled) {
        this.#o.logger.debug("app has no enabled integrations", {
          appId: event.appId,
          topic: msg.topic,
          partition: msg.partition,
          offset: msg.offset,
        });
      }
      if (this.#o.retry !== undefined) {
        const id = event.messageId ?? coordinates(msg);
        await this.#o.retry.deadLetter(UNROUTED, id, msg.value!, 0, "app has no enabled integrations");
      }
      return;
    }
    const headers = outboundHeaders(msg.headers);
    let targets: Integration[] = [];
    let records: OutboundRecord[] = [];
    for (const integration of integrations) {
      if (!wantsIntegration(event.integrations, integration.name)) continue;
      targets.push(integration);
      records.push({ topic: integration.topic, key: msg.key, value: msg.value, headers });
    }
    // Every integration opted out: nothing to deliver, the message is done.
    if (records.length === 0) return;
    const size = msg.value?.byteLength ?? 0;
    const backoff = new Backoff(WAIT_IN_PLACE);
    for (;;) {
      const deliveries = await this.#o.sender.send(records);
      const failedTargets: Integration[] = [];
      const failedRecords: OutboundRecord[] = [];
      const errors: string[] = [];
      for (let i = 0; i < deliveries.length; i++) {
        const d = deliveries[i]!;
        const target = targets[i]!;
        if (d.ok) {
          m.producedFor(event.appId, target.name).inc();
          m.bytesProduced.inc(size);
        } else {
          m.producedFailed.inc();
          failedTargets.push(target);
          failedRecords.push(records[i]!);
          errors.push(errorMessage(d.error));
        }
      }
      if (failedRecords.length === 0) break;
      const lane = this.#o.retry;
      if (lane !== undefined) {
        const decision = this.#o.policy.decide(0);
        if (decision.action === "dead-letter") {
          const id = event.messageId ?? coordinates(msg);
          await Promise.all(
            failedTargets.map((t, i) => lane.deadLetter(t.topic, id, msg.value!, decision.retryCount, errors[i]!)),
          );
        } else {
          await Promise.all(failedTargets.map((t) => lane.handOver(msg, t.topic, decision.retryCount)));
        }
        break;
      }
      // Without a retry lane the message waits here until every integration has it; the offset stays uncommitted.
      const delayMs = backoff.next();
      this.#o.logger.warn("produce failed; retrying", {
        appId: event.appId,
        topics: failedTargets.map((t) => t.topic),
        error: errors[0],
        delayMs,
      });
      await this.#o.clock.sleep(delayMs, this.#o.signal);
      targets = failedTargets;
      records = failedRecords;
    }
    m.routeSeconds.observe((performance.now() - started) / 1000);
  }
}
