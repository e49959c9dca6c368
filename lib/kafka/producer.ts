/**
 * A kafkajs producer that reports, per record, where it was written or why it was not, and never throws for a
 * delivery failure: callers route each failed record to their own retry or dead-letter path.
 * @module
 */
import { Buffer } from "node:buffer";
import { CompressionTypes, Partitioners } from "kafkajs";
import type { IHeaders, Kafka, Message, PartitionerArgs, Producer, RecordMetadata, TopicMessages } from "kafkajs";
import type { Logger } from "../log.ts";
import { errorMessage } from "../log.ts";

/** One record to produce. */
export interface OutboundRecord {
  topic: string;
  key?: string | Uint8Array | null;
  value: string | Uint8Array | null;
  headers?: Record<string, string | Uint8Array>;
}

/**
 * The outcome of one {@link OutboundRecord}. `offset` is the record's own offset in its partition as a decimal
 * string, or `"-1"` when the producer does not wait for acknowledgements (`acks: 0`).
 */
export type Delivery =
  | { ok: true; topic: string; partition: number; offset: string }
  | { ok: false; topic: string; error: Error };

/** Options of {@link DeliveryProducer}. */
export interface DeliveryProducerOptions {
  logger: Logger;
  /** -1 (default): all in-sync replicas; 1: the leader; 0: no acknowledgement (offsets unknown). */
  acks?: -1 | 0 | 1;
  /** kafkajs idempotent producer (requires `acks: -1`). Default false. */
  idempotent?: boolean;
  /** How long a broker may wait for replicas before answering a produce request; kafkajs default 30000 ms. */
  timeoutMs?: number;
  /** How often kafkajs retries a failed produce request before the records are reported failed; default 5. */
  retries?: number;
  /** Batch compression; default none. */
  compression?: "none" | "gzip";
}

/** Where a sent message was partitioned; the offset is computed from its position among its partition's messages. */
type PartitionCursor = { base: number | bigint; next: number };

/**
 * Produces records with per-record delivery results.
 *
 * @example
 * ```ts
 * const producer = new DeliveryProducer(kafka, { logger });
 * await producer.connect();
 * const [d] = await producer.send([{ topic: "events", key: "user-1", value: "{}" }]);
 * if (!d.ok) deadLetter(d.error);
 * await producer.disconnect();
 * ```
 */
export class DeliveryProducer {
  readonly #producer: Producer;
  readonly #log: Logger;
  readonly #acks: -1 | 0 | 1;
  readonly #timeoutMs: number | undefined;
  readonly #compression: CompressionTypes;
  /**
   * The partition the partitioner chose for each message object handed to kafkajs. kafkajs passes our message
   * objects through to the partitioner by reference (producer/groupMessagesPerPartition.js), and every send
   * builds fresh message objects, so entries never leak between sends and vanish with the messages.
   */
  readonly #partitionOf = new WeakMap<Message, number>();
  #connected = false;

  constructor(kafka: Kafka, opts: DeliveryProducerOptions) {
    this.#log = opts.logger.child({ component: "kafka-producer" });
    this.#acks = opts.acks ?? -1;
    this.#timeoutMs = opts.timeoutMs;
    this.#compression = opts.compression === "gzip" ? CompressionTypes.GZIP : CompressionTypes.None;
    const partitionOf = this.#partitionOf;
    this.#producer = kafka.producer({
      idempotent: opts.idempotent ?? false,
      retry: opts.retries === undefined ? undefined : { retries: opts.retries },
      createPartitioner: () => {
        const choose = Partitioners.DefaultPartitioner();
        return (args: PartitionerArgs): number => {
          // kafkajs re-partitions every message on each retry of a send but keeps the responses of brokers that
          // already succeeded; the round-robin choice for keyless messages could then differ from the attempt whose
          // response is kept. Keeping the first choice makes every attempt group messages identically.
          const previous = partitionOf.get(args.message);
          if (previous !== undefined && previous < args.partitionMetadata.length) return previous;
          const partition = choose(args);
          partitionOf.set(args.message, partition);
          return partition;
        };
      },
    });
  }

  /** Whether {@link connect} succeeded and {@link disconnect} has not been called since. */
  get connected(): boolean {
    return this.#connected;
  }

  /** Connects to the cluster; rejects when no broker can be reached. */
  async connect(): Promise<void> {
    await this.#producer.connect();
    this.#connected = true;
  }

  /** Disconnects; sends in progress fail and are reported as failed deliveries. */
  async disconnect(): Promise<void> {
    this.#connected = false;
    await this.#producer.disconnect();
  }

  /**
   * Produces `records` in one request per broker (records may name different topics) and resolves with one
   * {@link Delivery} per record, in the same order. Never rejects: when the batch fails after kafkajs' retries,
   * every record of the call is reported with that error.
   */
  async send(records: OutboundRecord[]): Promise<Delivery[]> {
    const count = records.length;
    if (count === 0) return [];
    const messages = new Array<Message>(count);
    const byTopic = new Map<string, TopicMessages>();
    for (let i = 0; i < count; i++) {
      const record = records[i]!;
      const message = toMessage(record);
      messages[i] = message;
      let group = byTopic.get(record.topic);
      if (group === undefined) {
        group = { topic: record.topic, messages: [] };
        byTopic.set(record.topic, group);
      }
      group.messages.push(message);
    }

    let metadata: RecordMetadata[];
    try {
      metadata = await this.#producer.sendBatch({
        acks: this.#acks,
        timeout: this.#timeoutMs,
        compression: this.#compression,
        topicMessages: [...byTopic.values()],
      });
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      this.#log.warn("produce failed", { topics: [...byTopic.keys()], records: count, error: errorMessage(err) });
      const failed = new Array<Delivery>(count);
      for (let i = 0; i < count; i++) failed[i] = { ok: false, topic: records[i]!.topic, error };
      return failed;
    }

    // Within one topic-partition, kafkajs writes the messages in the order of our array, so a message's offset is
    // the partition's base offset plus its position among this call's messages to that partition.
    const cursors = new Map<string, Map<number, PartitionCursor>>();
    for (const m of metadata) {
      let partitions = cursors.get(m.topicName);
      if (partitions === undefined) {
        partitions = new Map();
        cursors.set(m.topicName, partitions);
      }
      // A partition can appear twice only when its leader moved between retries and it was written twice; the
      // first answer is as valid as the second.
      if (m.baseOffset !== undefined && !partitions.has(m.partition)) {
        const asNumber = Number(m.baseOffset);
        partitions.set(m.partition, {
          base: Number.isSafeInteger(asNumber) ? asNumber : BigInt(m.baseOffset),
          next: 0,
        });
      }
    }

    const deliveries = new Array<Delivery>(count);
    for (let i = 0; i < count; i++) {
      const topic = records[i]!.topic;
      const partition = this.#partitionOf.get(messages[i]!) ?? -1;
      const cursor = cursors.get(topic)?.get(partition);
      let offset = "-1";
      if (cursor !== undefined) {
        const index = cursor.next++;
        offset = typeof cursor.base === "number" ? String(cursor.base + index) : String(cursor.base + BigInt(index));
      }
      deliveries[i] = { ok: true, topic, partition, offset };
    }
    return deliveries;
  }
}

function toBuffer(v: string | Uint8Array): Buffer | string {
  if (typeof v === "string" || Buffer.isBuffer(v)) return v;
  // kafkajs only encodes Buffers as bytes; a view over the same memory avoids copying the payload.
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

function toMessage(record: OutboundRecord): Message {
  const message: Message = {
    key: record.key === undefined || record.key === null ? null : toBuffer(record.key),
    value: record.value === null ? null : toBuffer(record.value),
  };
  if (record.headers !== undefined) message.headers = toHeaders(record.headers);
  return message;
}

function toHeaders(headers: Record<string, string | Uint8Array>): IHeaders {
  let plain = true;
  for (const name in headers) {
    const v = headers[name]!;
    if (typeof v !== "string" && !Buffer.isBuffer(v)) {
      plain = false;
      break;
    }
  }
  // Strings and Buffers are what kafkajs encodes, so the caller's object can be used as is.
  if (plain) return headers as IHeaders;
  const converted: IHeaders = {};
  for (const name in headers) converted[name] = toBuffer(headers[name]!);
  return converted;
}
