/**
 * The retry lane (`--retry`): failed produces are handed to the retry topic as
 * `{"retryCount": n, "integration": "<topic>"|null, "message": <event>}`; the same process consumes that topic,
 * waits `min(2^n s, 60 s)`, tries again, and after `ER_MAX_RETRIES` stores the event in S3 instead (and only there).
 * @module
 */
import { z } from "zod";
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import { errorMessage } from "../log.ts";
import type { OutboundRecord } from "../kafka/delivery.ts";
import type { DeadLetterStore } from "./dead_letter.ts";
import { parseEvent, rawMemberText, wantsIntegration } from "./event.ts";
import type { IntegrationCache } from "./integration_cache.ts";
import { coordinates, type InboundMessage, outboundHeaders } from "./message.ts";
import type { RouterMetrics } from "./metrics.ts";
import type { RecordSender } from "./produce_batcher.ts";

/** Pseudo-integration of dead letters whose app lookup kept failing. */
export const UNROUTED = "unrouted";
/** Pseudo-integration of dead letters that are not routable events at all. */
export const INVALID = "invalid";

const MAX_BACKOFF_MS = 30_000;

const envelopeSchema = z.object({
  retryCount: z.number().int().min(0),
  integration: z.string().min(1).nullable(),
  message: z.record(z.string(), z.unknown()),
});

/** Builds a retry-topic value around the event's exact JSON text. */
export function retryEnvelope(retryCount: number, integration: string | null, eventJson: string): string {
  return `{"retryCount":${retryCount},"integration":${JSON.stringify(integration)},"message":${eventJson}}`;
}

/** A parsed retry-topic value; `message` is the event's original text. */
export interface RetryEnvelope {
  retryCount: number;
  integration: string | null;
  message: string;
}

/** Parses a retry-topic value, or returns undefined when it is not one. */
export function parseRetryEnvelope(value: Uint8Array | null): RetryEnvelope | undefined {
  if (value === null) return undefined;
  const text = new TextDecoder().decode(value);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = envelopeSchema.safeParse(doc);
  if (!parsed.success) return undefined;
  const message = rawMemberText(text, "message");
  if (message === undefined) return undefined;
  return { retryCount: parsed.data.retryCount, integration: parsed.data.integration, message };
}

/** Delay before retry number `retryCount` is attempted: `min(2^retryCount s, 60 s)`. */
export function retryDelayMs(retryCount: number): number {
  return Math.min(2 ** retryCount * 1000, 60_000);
}

/** Options of {@link RetryLane}. */
export interface RetryLaneOptions {
  topic: string;
  maxRetries: number;
  /** Sends to the retry topic and re-produces to integrations. */
  sender: RecordSender;
  deadLetters: DeadLetterStore;
  cache: IntegrationCache;
  metrics: RouterMetrics;
  logger: Logger;
  clock: Clock;
  /** Aborted at shutdown: waits end and the message stays uncommitted. */
  signal: AbortSignal;
}

/**
 * Hands failed messages over to the retry topic, handles the retry topic's messages, and writes dead letters.
 * Every hand-over and upload is retried with backoff until it succeeds or the lane is stopped, because the input
 * offset is committed only after it succeeded.
 */
export class RetryLane {
  readonly #encoder = new TextEncoder();
  readonly #decoder = new TextDecoder();

  constructor(private readonly opts: RetryLaneOptions) {}

  /** Produces the retry envelope for `msg` (an ingestion message) until the retry topic acknowledges it. */
  async handOver(msg: InboundMessage, integration: string | null, retryCount: number, eventJson?: string) {
    const json = eventJson ?? this.#decoder.decode(msg.value ?? new Uint8Array());
    const record: OutboundRecord = {
      topic: this.opts.topic,
      key: msg.key,
      value: retryEnvelope(retryCount, integration, json),
      headers: outboundHeaders(msg.headers),
    };
    let delay = 100;
    for (;;) {
      const [d] = await this.opts.sender.send([record]);
      if (d?.ok) {
        this.opts.metrics.retried.inc();
        return;
      }
      this.opts.logger.warn("retry topic produce failed, trying again", {
        retryTopic: this.opts.topic,
        integration,
        error: d ? errorMessage((d as { error?: unknown }).error) : "no delivery",
        delayMs: delay,
      });
      await this.opts.clock.sleep(delay, this.opts.signal);
      delay = Math.min(delay * 2, MAX_BACKOFF_MS);
    }
  }

  /** Uploads a dead letter, retrying with backoff until S3 accepts it. */
  async deadLetter(
    integration: string,
    messageId: string,
    body: Uint8Array,
    retryCount: number,
    error: string,
  ): Promise<void> {
    let delay = 200;
    for (;;) {
      try {
        await this.opts.deadLetters.put({ integration, messageId, body, retryCount, error });
        this.opts.metrics.uploadedToS3.inc();
        this.opts.logger.info("dead-lettered to S3", { integration, messageId, retryCount, error });
        return;
      } catch (err) {
        this.opts.metrics.s3Failures.inc();
        this.opts.logger.warn("S3 upload failed, trying again", {
          integration,
          messageId,
          error: errorMessage(err),
          delayMs: delay,
        });
      }
      await this.opts.clock.sleep(delay, this.opts.signal);
      delay = Math.min(delay * 2, MAX_BACKOFF_MS);
    }
  }

  /** Handles one message of the retry topic. */
  async handle(msg: InboundMessage): Promise<void> {
    const envelope = parseRetryEnvelope(msg.value);
    if (envelope === undefined) {
      this.opts.metrics.invalid.inc({ reason: "bad_retry_envelope" });
      this.opts.logger.warn("retry topic message is not a retry envelope; dead-lettering it", {
        topic: msg.topic,
        partition: msg.partition,
        offset: msg.offset,
      });
      await this.deadLetter(INVALID, coordinates(msg), msg.value ?? new Uint8Array(), 0, "not a retry envelope");
      return;
    }
    const body = this.#encoder.encode(envelope.message);
    const parsed = parseEvent(body);
    const messageId = (parsed.ok ? parsed.event.messageId : undefined) ?? coordinates(msg);

    // Wait out the rest of the delay since the envelope was written (a backlog is not delayed twice).
    const writtenAt = Number(msg.timestamp ?? this.opts.clock.now());
    const wait = writtenAt + retryDelayMs(envelope.retryCount) - this.opts.clock.now();
    if (wait > 0) await this.opts.clock.sleep(wait, this.opts.signal);

    let targets: string[];
    /** The integration name per target, for the `integration` metric label. */
    let names: string[];
    if (envelope.integration !== null) {
      targets = [envelope.integration];
      // The envelope carries the topic only (spec); a cached entry of the app gives its integration's name back.
      const cached = parsed.ok ? this.opts.cache.peek(parsed.event.appId) : undefined;
      names = [cached?.find((i) => i.topic === envelope.integration)?.name ?? envelope.integration];
    } else {
      if (!parsed.ok) {
        await this.deadLetter(INVALID, messageId, body, envelope.retryCount, parsed.reason);
        return;
      }
      try {
        const integrations = await this.opts.cache.get(parsed.event.appId);
        const wanted = integrations.filter((i) => wantsIntegration(parsed.event.integrations, i.name));
        targets = wanted.map((i) => i.topic);
        names = wanted.map((i) => i.name);
        if (integrations.length === 0) this.opts.metrics.noIntegrations.inc();
      } catch (err) {
        this.opts.metrics.lookupFailures.inc();
        await this.#failed(msg, envelope, null, messageId, body, errorMessage(err));
        return;
      }
    }
    if (targets.length === 0) return;
    const records: OutboundRecord[] = targets.map((topic) => ({
      topic,
      key: msg.key,
      value: body,
      headers: outboundHeaders(msg.headers),
    }));
    const deliveries = await this.opts.sender.send(records);
    const failures: Promise<void>[] = [];
    const appId = parsed.ok ? parsed.event.appId : "";
    deliveries.forEach((d, i) => {
      if (d.ok) {
        this.opts.metrics.produced.inc({ appId, integration: names[i]! });
        this.opts.metrics.bytesProduced.inc(body.byteLength);
        return;
      }
      this.opts.metrics.producedFailed.inc();
      failures.push(this.#failed(msg, envelope, targets[i]!, messageId, body, errorMessage(d.error)));
    });
    await Promise.all(failures);
  }

  async #failed(
    msg: InboundMessage,
    envelope: RetryEnvelope,
    integration: string | null,
    messageId: string,
    body: Uint8Array,
    error: string,
  ): Promise<void> {
    const next = envelope.retryCount + 1;
    if (next >= this.opts.maxRetries) {
      await this.deadLetter(integration ?? UNROUTED, messageId, body, next, error);
      return;
    }
    this.opts.logger.info("retry failed, handing over again", { integration, messageId, retryCount: next, error });
    await this.handOver(msg, integration, next, envelope.message);
  }
}
