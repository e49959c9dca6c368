/**
 * The retry lane (`--retry`): failed produces are handed to the retry topic as
 * `{"retryCount": n, "integration": "<topic>"|null, "message": <event>}`; the same process consumes that topic,
 * waits `min(2^n s, 60 s)`, tries again, and after `ER_MAX_RETRIES` stores the event in S3 instead (and only there).
 * @module
 */
import { z } from "zod";
import { MAX_BACKOFF_MS, retry } from "../backoff.ts";
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import { errorMessage } from "../log.ts";
import type { OutboundRecord } from "../kafka/delivery.ts";
import type { DeadLetterStore } from "./dead_letter.ts";
import { parseEvent, rawMemberText, wantsIntegration } from "./event.ts";
import type { IntegrationCache } from "./integration_cache.ts";
import { coordinates, type InboundMessage, outboundHeaders } from "./message.ts";
import type { RouterMetrics } from "./metrics.ts";
import type { RecordSender } from "../kafka/delivery.ts";
import type { RetryPolicy } from "./retry_policy.ts";

/** Pseudo-integration of dead letters whose app lookup kept failing. */
export const UNROUTED = "unrouted";
/** Pseudo-integration of dead letters that are not routable events at all. */
export const INVALID = "invalid";

/** Waits between tries of a hand-over to the retry topic, and of a dead-letter upload to S3. */
const HAND_OVER_BACKOFF = { initialMs: 100, maxMs: MAX_BACKOFF_MS };
const UPLOAD_BACKOFF = { initialMs: 200, maxMs: MAX_BACKOFF_MS };

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

/** Options of {@link RetryLane}. */
export interface RetryLaneOptions {
  topic: string;
  /** `ER_MAX_RETRIES` and the waits between retries. */
  policy: RetryPolicy;
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
    await retry(async () => {
      const [d] = await this.opts.sender.send([record]);
      if (d === undefined) throw new Error("no delivery");
      if (!d.ok) throw d.error;
    }, {
      ...HAND_OVER_BACKOFF,
      clock: this.opts.clock,
      signal: this.opts.signal,
      onRetry: (err, _attempt, delayMs) =>
        this.opts.logger.warn("retry topic produce failed, trying again", {
          retryTopic: this.opts.topic,
          integration,
          error: errorMessage(err),
          delayMs,
        }),
    });
    this.opts.metrics.retried.inc();
  }

  /** Uploads a dead letter, retrying with backoff until S3 accepts it. */
  async deadLetter(
    integration: string,
    messageId: string,
    body: Uint8Array,
    retryCount: number,
    error: string,
  ): Promise<void> {
    await retry(() => this.opts.deadLetters.put({ integration, messageId, body, retryCount, error }), {
      ...UPLOAD_BACKOFF,
      clock: this.opts.clock,
      signal: this.opts.signal,
      onRetry: (err, _attempt, delayMs) => {
        this.opts.metrics.s3Failures.inc();
        this.opts.logger.warn("S3 upload failed, trying again", {
          integration,
          messageId,
          error: errorMessage(err),
          delayMs,
        });
      },
    });
    this.opts.metrics.uploadedToS3.inc();
    this.opts.logger.info("dead-lettered to S3", { integration, messageId, retryCount, error });
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
    const wait = writtenAt + this.opts.policy.delayMs(envelope.retryCount) - this.opts.clock.now();
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
    // This message was retry number retryCount + 1.
    const decision = this.opts.policy.decide(envelope.retryCount + 1);
    if (decision.action === "dead-letter") {
      await this.deadLetter(integration ?? UNROUTED, messageId, body, decision.retryCount, error);
      return;
    }
    this.opts.logger.info("retry failed, handing over again", {
      integration,
      messageId,
      retryCount: decision.retryCount,
      error,
    });
    await this.handOver(msg, integration, decision.retryCount, envelope.message);
  }
}
