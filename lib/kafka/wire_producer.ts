/**
 * The product's one Kafka producer, used by every service: it speaks the wire protocol itself (Metadata v1,
 * Produce v3, magic-2 batches, optionally compressed) and encodes a whole batch into one buffer, where kafkajs
 * allocates several buffers per record and per header. One {@link Delivery} per record, never throws for a delivery
 * failure; retries with kafkajs' policy and defaults; keyed records land on the partition kafkajs and the Java client
 * pick. Plain TCP only for now (no TLS or SASL).
 * @module
 */
import { type Clock, systemClock } from "../clock.ts";
import type { Logger } from "../log.ts";
import { errorMessage } from "../log.ts";
import type { CompressionCodec } from "./compression/codec.ts";
import type { Delivery, OutboundRecord } from "./delivery.ts";
import { BrokerConnection, type BrokerSecurity } from "./wire/connection.ts";
import {
  ErrorCode,
  isRetriable,
  KafkaAuthenticationError,
  KafkaConnectionError,
  KafkaProtocolError,
} from "./wire/errors.ts";
import { partitionForKey } from "./wire/murmur2.ts";
import {
  API_VERSION,
  ApiKey,
  type BrokerAddress,
  type ClusterMetadata,
  decodeApiVersions,
  decodeMetadata,
  decodeProduce,
  encodeApiVersions,
  encodeMetadata,
  encodeProduce,
  type ProducePartition,
} from "./wire/protocol.ts";

/** Retry policy, with kafkajs' names and defaults. */
export interface WireRetryPolicy {
  /** Tries after the first (default 5). */
  retries?: number;
  /** Wait before the first retry (default 300 ms); doubles (`multiplier`) per retry up to `maxRetryTime`. */
  initialRetryTime?: number;
  maxRetryTime?: number;
  multiplier?: number;
  /** Randomisation of each wait, ± this fraction (default 0.2). */
  factor?: number;
}

/** Options of {@link WireProducer}. */
export interface WireProducerOptions {
  /** Bootstrap brokers as `host:port`. */
  brokers: string[];
  clientId: string;
  logger: Logger;
  clock?: Clock;
  /** -1 (default): all in-sync replicas; 1: the leader; 0: no acknowledgement (offsets unknown). */
  acks?: -1 | 0 | 1;
  /** How long a broker may wait for replicas before answering (default 30000 ms). */
  timeoutMs?: number;
  /** Tries after the first before records are reported failed; overrides `retry.retries`. */
  retries?: number;
  retry?: WireRetryPolicy;
  /** TCP connect timeout per broker (default 1000 ms, as kafkajs). */
  connectionTimeoutMs?: number;
  /** Time a broker may take to answer (default 30000 ms, as kafkajs). */
  requestTimeoutMs?: number;
  /**
   * Largest record batch sent for one partition (default 1000000 bytes, under the broker's default
   * `message.max.bytes`): a partition's records beyond it go out in further requests. A single record larger than
   * this is still sent alone, and the broker's MESSAGE_TOO_LARGE answer reported.
   */
  maxBatchBytes?: number;
  /** Partition leadership is looked up again after this long even without errors (default 300000 ms). */
  metadataMaxAgeMs?: number;
  /** TLS and SASL of every connection (default: plain TCP). */
  security?: BrokerSecurity;
  /** Codec of every record batch written (default none); a batch that would not shrink goes uncompressed. */
  compression?: CompressionCodec;
  /** Source of randomness for retry jitter (tests). */
  random?: () => number;
}

interface TopicState {
  errorCode: number;
  leaders: number[];
  fetchedAt: number;
}

/** Records of one send bound for one broker: topic → partition → indices into the send's records. */
type BrokerBatch = Map<string, Map<number, number[]>>;

const utf8 = new TextEncoder();

/** Settles failed records: retriable errors put them in `retry`, others report them failed in `out`. */
function failRecords(
  error: Error,
  indices: Iterable<number>,
  records: OutboundRecord[],
  out: (Delivery | undefined)[],
  retry: number[],
): Error {
  const again = isRetriable(error);
  for (const i of indices) {
    if (again) retry.push(i);
    else out[i] = { ok: false, topic: records[i]!.topic, error };
  }
  return error;
}

/**
 * Produces records with per-record delivery results over its own broker connections.
 *
 * @example
 * ```ts
 * const producer = new WireProducer({ brokers: ["127.0.0.1:9092"], clientId: "kcl-proxy", logger });
 * await producer.connect();
 * const [d] = await producer.send([{ topic: "events", key: "1", value: "{}", headers: { h: "v" } }]);
 * await producer.disconnect();
 * ```
 */
export class WireProducer {
  readonly #opts: WireProducerOptions;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #acks: -1 | 0 | 1;
  readonly #timeoutMs: number;
  readonly #retries: number;
  readonly #bootstrap: BrokerAddress[];
  readonly #brokers = new Map<number, BrokerAddress>();
  readonly #topics = new Map<string, TopicState>();
  /** Every topic this producer has sent to: one metadata request keeps all of them fresh. */
  readonly #wanted = new Set<string>();
  readonly #connections = new Map<string, Promise<BrokerConnection>>();
  /** Authentication failures already logged, by broker and cause: each is logged once until it changes or heals. */
  readonly #authFailures = new Map<string, string>();
  readonly #roundRobin = new Map<string, number>();
  readonly #stop = new AbortController();
  #refreshing: Promise<void> | undefined;
  #stale = false;
  #stats = { produceRequests: 0, metadataRequests: 0, retries: 0 };
  #connected = false;
  #closed = false;

  constructor(opts: WireProducerOptions) {
    this.#opts = opts;
    this.#log = opts.logger.child({ component: "kafka-producer" });
    this.#clock = opts.clock ?? systemClock;
    this.#acks = opts.acks ?? -1;
    this.#timeoutMs = opts.timeoutMs ?? 30_000;
    this.#retries = opts.retries ?? opts.retry?.retries ?? 5;
    this.#bootstrap = opts.brokers.map((b, i) => {
      const colon = b.lastIndexOf(":");
      const host = b.slice(0, colon).replace(/^\[(.*)\]$/, "$1");
      return { nodeId: -1 - i, host, port: Number(b.slice(colon + 1)) };
    });
  }

  /** Whether {@link connect} succeeded and {@link disconnect} has not been called since. */
  get connected(): boolean {
    return this.#connected;
  }

  /** Requests sent and retry rounds run so far (for logs and tests). */
  get stats(): Readonly<{ produceRequests: number; metadataRequests: number; retries: number }> {
    return { ...this.#stats };
  }

  /**
   * Reaches a bootstrap broker, checks it speaks the request versions used here, and learns the cluster's brokers;
   * rejects when no broker can be reached.
   */
  async connect(): Promise<void> {
    let lastError: unknown;
    for (const b of this.#bootstrap) {
      try {
        const conn = await this.#connectionTo(b);
        const id = conn.nextCorrelationId();
        const { errorCode, versions } = await conn.request(
          id,
          encodeApiVersions(id, this.#opts.clientId),
          decodeApiVersions,
        );
        if (errorCode !== 0) throw new KafkaProtocolError(errorCode, `answering ApiVersions from ${conn.address}`);
        for (const [name, key] of [["Produce", ApiKey.Produce], ["Metadata", ApiKey.Metadata]] as const) {
          const range = versions.get(key);
          const need = API_VERSION[name];
          if (range === undefined || need < range[0] || need > range[1]) {
            throw new Error(
              `broker ${conn.address} does not support ${name} v${need} (supports ${range ? range.join("-") : "none"})`,
            );
          }
        }
        await this.#refreshMetadata();
        this.#connected = true;
        return;
      } catch (err) {
        lastError = err;
      }
    }
    this.#closeConnections();
    throw lastError instanceof Error ? lastError : new Error(String(lastError));
  }

  /** Closes every connection; sends in progress end with failed deliveries. */
  disconnect(): Promise<void> {
    this.#connected = false;
    this.#closed = true;
    this.#stop.abort();
    this.#closeConnections();
    return Promise.resolve();
  }

  /**
   * Produces `records` (one request per leader broker) and resolves with one {@link Delivery} per record, in the
   * same order. Never rejects. Each record keeps its partition across retries; failed partitions are retried with
   * backoff, and what still fails after the last retry is reported with the broker's error.
   */
  async send(records: OutboundRecord[]): Promise<Delivery[]> {
    const count = records.length;
    const out = new Array<Delivery | undefined>(count);
    if (count === 0) return [];
    const partitionOf = new Int32Array(count).fill(-1);
    let pending: number[] = new Array<number>(count);
    for (let i = 0; i < count; i++) {
      pending[i] = i;
      this.#wanted.add(records[i]!.topic);
    }
    let lastError: Error = new Error("not sent");
    for (let attempt = 0;; attempt++) {
      if (this.#closed) {
        lastError = new KafkaConnectionError("the producer was disconnected");
        break;
      }
      const retry: number[] = [];
      try {
        await this.#ensureMetadata();
        const batches = new Map<number, BrokerBatch>();
        for (const i of pending) {
          const problem = this.#route(records[i]!, i, partitionOf, batches);
          if (problem === undefined) continue;
          lastError = problem;
          if (isRetriable(problem)) retry.push(i);
          else out[i] = { ok: false, topic: records[i]!.topic, error: problem };
        }
        const failures = await Promise.all(
          [...batches].map(([nodeId, batch]) => this.#produce(nodeId, batch, records, out, retry)),
        );
        for (const f of failures) if (f !== undefined) lastError = f;
      } catch (err) {
        // No metadata: every pending record tries again.
        lastError = err instanceof Error ? err : new Error(String(err));
        retry.push(...pending);
        this.#stale = true;
      }
      pending = retry;
      if (pending.length === 0 || attempt >= this.#retries || this.#closed) break;
      this.#stats.retries++;
      this.#log.debug("retrying produce", { records: pending.length, attempt: attempt + 1, error: lastError.message });
      try {
        await this.#clock.sleep(this.#backoff(attempt), this.#stop.signal);
      } catch {
        // disconnected while waiting
      }
    }
    if (pending.length > 0) {
      const topics = new Set<string>();
      for (const i of pending) {
        topics.add(records[i]!.topic);
        out[i] = { ok: false, topic: records[i]!.topic, error: lastError };
      }
      this.#log.warn("produce failed", {
        topics: [...topics],
        records: pending.length,
        error: errorMessage(lastError),
      });
    }
    return out as Delivery[];
  }

  /** Puts record `i` into its leader's batch, or returns why it cannot be sent now. */
  #route(record: OutboundRecord, i: number, partitionOf: Int32Array, batches: Map<number, BrokerBatch>) {
    const topic = record.topic;
    const state = this.#topics.get(topic);
    if (state === undefined) return new KafkaProtocolError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `for topic ${topic}`);
    if (state.errorCode !== 0 || state.leaders.length === 0) {
      if (state.errorCode !== 0) this.#stale = true;
      return new KafkaProtocolError(
        state.errorCode === 0 ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : state.errorCode,
        `for topic ${topic}`,
      );
    }
    let partition = partitionOf[i]!;
    if (partition < 0 || partition >= state.leaders.length) {
      partition = this.#choosePartition(record, state);
      partitionOf[i] = partition;
    }
    const leader = state.leaders[partition]!;
    if (leader < 0 || !this.#brokers.has(leader)) {
      this.#stale = true;
      return new KafkaProtocolError(ErrorCode.LEADER_NOT_AVAILABLE, `for ${topic}-${partition}`);
    }
    let batch = batches.get(leader);
    if (batch === undefined) batches.set(leader, batch = new Map());
    let partitions = batch.get(topic);
    if (partitions === undefined) batch.set(topic, partitions = new Map());
    const indices = partitions.get(partition);
    if (indices === undefined) partitions.set(partition, [i]);
    else indices.push(i);
    return undefined;
  }

  /** kafkajs' default partitioner: murmur2 of the key, or round robin over partitions that have a leader. */
  #choosePartition(record: OutboundRecord, state: TopicState): number {
    const key = record.key;
    const n = state.leaders.length;
    if (key !== undefined && key !== null) {
      return partitionForKey(typeof key === "string" ? utf8.encode(key) : key, n);
    }
    const next = this.#roundRobin.get(record.topic) ?? 0;
    this.#roundRobin.set(record.topic, (next + 1) & 0x7fffffff);
    const available: number[] = [];
    for (let p = 0; p < n; p++) if (state.leaders[p]! >= 0) available.push(p);
    return available.length > 0 ? available[next % available.length]! : next % n;
  }

  /**
   * Sends one broker its batch and fills `out`; retriable failures go to `retry`. Returns the last error seen, if
   * any. A partition whose records exceed `maxBatchBytes` continues in further requests on the same connection,
   * which the broker handles in order.
   */
  async #produce(
    nodeId: number,
    batch: BrokerBatch,
    records: OutboundRecord[],
    out: (Delivery | undefined)[],
    retry: number[],
  ): Promise<Error | undefined> {
    const parts: ProducePartition[][] = [];
    const topics = new Map<string, ProducePartition[]>();
    let sizeHint = 256;
    for (const [topic, partitions] of batch) {
      const list: ProducePartition[] = [];
      for (const [partition, indices] of partitions) {
        list.push({ partition, indices, from: 0 });
        sizeHint += 80 + topic.length;
        // A guess (UTF-16 length, not UTF-8): the writer grows its buffer when it is short.
        for (const i of indices) {
          const v = records[i]!.value;
          sizeHint += 64 + (v === null ? 0 : typeof v === "string" ? v.length : v.byteLength);
        }
      }
      topics.set(topic, list);
      parts.push(list);
    }
    const unsent = function* (): Generator<number> {
      for (const list of parts) {
        for (const p of list) for (let k = p.from; k < p.indices.length; k++) yield p.indices[k]!;
      }
    };

    let conn: BrokerConnection;
    try {
      conn = await this.#connectionTo(this.#brokers.get(nodeId)!);
    } catch (err) {
      this.#stale = true;
      return failRecords(err instanceof Error ? err : new Error(String(err)), unsent(), records, out, retry);
    }
    const maxBatchBytes = this.#opts.maxBatchBytes ?? 1_000_000;
    const answers: Promise<Error | undefined>[] = [];
    while (topics.size > 0) {
      const id = conn.nextCorrelationId();
      this.#stats.produceRequests++;
      const { frame, counts } = encodeProduce(
        id,
        this.#opts.clientId,
        this.#acks,
        this.#timeoutMs,
        topics,
        records,
        this.#clock.now(),
        sizeHint,
        maxBatchBytes,
        this.#opts.compression,
      );
      // What this request carries, per topic and partition; the rest stays in `topics` for the next one.
      const sent: BrokerBatch = new Map();
      for (const [topic, list] of topics) {
        const sentPartitions = new Map<number, number[]>();
        sent.set(topic, sentPartitions);
        const left: ProducePartition[] = [];
        for (const p of list) {
          const n = counts.get(topic)!.get(p.partition)!;
          const end = p.from + n;
          sentPartitions.set(
            p.partition,
            p.from === 0 && end === p.indices.length ? p.indices : p.indices.slice(p.from, end),
          );
          p.from = end;
          if (end < p.indices.length) left.push(p);
        }
        if (left.length > 0) topics.set(topic, left);
        else topics.delete(topic);
      }
      answers.push(this.#answer(nodeId, conn, id, frame, sent, records, out, retry));
    }
    const errors = await Promise.all(answers);
    return errors.findLast((e) => e !== undefined);
  }

  /** Sends one encoded produce request and fills `out` from the broker's answer. */
  async #answer(
    nodeId: number,
    conn: BrokerConnection,
    id: number,
    frame: Uint8Array,
    sent: BrokerBatch,
    records: OutboundRecord[],
    out: (Delivery | undefined)[],
    retry: number[],
  ): Promise<Error | undefined> {
    const all = function* (): Generator<number> {
      for (const partitions of sent.values()) for (const indices of partitions.values()) yield* indices;
    };
    let responses;
    try {
      if (this.#acks === 0) {
        await conn.request(id, frame);
        for (const [topic, partitions] of sent) {
          for (const [partition, indices] of partitions) {
            for (const i of indices) out[i] = { ok: true, topic, partition, offset: "-1" };
          }
        }
        return undefined;
      }
      responses = await conn.request(id, frame, decodeProduce);
    } catch (err) {
      if (err instanceof KafkaConnectionError) this.#stale = true;
      return failRecords(err instanceof Error ? err : new Error(String(err)), all(), records, out, retry);
    }

    let lastError: Error | undefined;
    for (const r of responses) {
      const indices = sent.get(r.topic)?.get(r.partition);
      if (indices === undefined) continue; // not ours: ignore rather than guess
      sent.get(r.topic)!.delete(r.partition);
      if (r.errorCode !== 0) {
        const error = new KafkaProtocolError(r.errorCode, `from broker ${nodeId} for ${r.topic}-${r.partition}`);
        if (error.staleMetadata) this.#stale = true;
        lastError = failRecords(error, indices, records, out, retry);
        continue;
      }
      const base = Number(r.baseOffset);
      const exact = Number.isSafeInteger(base + indices.length);
      for (let k = 0; k < indices.length; k++) {
        out[indices[k]!] = {
          ok: true,
          topic: r.topic,
          partition: r.partition,
          offset: exact ? String(base + k) : String(r.baseOffset + BigInt(k)),
        };
      }
    }
    // A partition the broker did not answer for was not written as far as we know: try it again.
    for (const [topic, partitions] of sent) {
      for (const [partition, indices] of partitions) {
        lastError = new KafkaConnectionError(`broker ${nodeId} did not answer for ${topic}-${partition}`);
        retry.push(...indices);
      }
    }
    return lastError;
  }

  #backoff(attempt: number): number {
    const p = this.#opts.retry ?? {};
    const initial = p.initialRetryTime ?? 300;
    const max = p.maxRetryTime ?? 30_000;
    const factor = p.factor ?? 0.2;
    const base = Math.min(initial * (p.multiplier ?? 2) ** attempt, max);
    const random = this.#opts.random ?? Math.random;
    return Math.round(base * (1 - factor + 2 * factor * random()));
  }

  /** Looks partition leaders up again when they may have moved, are unknown, or are older than the max age. */
  async #ensureMetadata(): Promise<void> {
    const maxAge = this.#opts.metadataMaxAgeMs ?? 300_000;
    for (let round = 0; round < 2; round++) {
      const now = this.#clock.now();
      let needed = this.#stale;
      if (!needed) {
        for (const topic of this.#wanted) {
          const state = this.#topics.get(topic);
          if (state === undefined || now - state.fetchedAt > maxAge) {
            needed = true;
            break;
          }
        }
      }
      if (!needed) return;
      await this.#refreshMetadata();
    }
  }

  /** One metadata request at a time; callers arriving meanwhile share its outcome. */
  #refreshMetadata(): Promise<void> {
    this.#refreshing ??= this.#fetchMetadata().finally(() => this.#refreshing = undefined);
    return this.#refreshing;
  }

  async #fetchMetadata(): Promise<void> {
    const topics = [...this.#wanted];
    // Known brokers first (starting at a random one), then the bootstrap list.
    const known = [...this.#brokers.values()];
    const start = known.length > 0 ? Math.floor(Math.random() * known.length) : 0;
    const candidates = [...known.slice(start), ...known.slice(0, start), ...this.#bootstrap];
    let lastError: unknown;
    for (const broker of candidates) {
      if (this.#closed) throw new KafkaConnectionError("the producer was disconnected");
      let metadata: ClusterMetadata;
      try {
        const conn = await this.#connectionTo(broker);
        const id = conn.nextCorrelationId();
        this.#stats.metadataRequests++;
        metadata = await conn.request(id, encodeMetadata(id, this.#opts.clientId, topics), decodeMetadata);
      } catch (err) {
        lastError = err;
        continue;
      }
      this.#apply(metadata);
      return;
    }
    throw new KafkaConnectionError(
      `no broker answered a metadata request (${candidates.length} tried): ${errorMessage(lastError)}`,
    );
  }

  #apply(metadata: ClusterMetadata): void {
    if (metadata.brokers.length > 0) {
      this.#brokers.clear();
      for (const b of metadata.brokers) this.#brokers.set(b.nodeId, b);
    }
    const now = this.#clock.now();
    for (const t of metadata.topics) {
      this.#topics.set(t.name, { errorCode: t.errorCode, leaders: t.leaders, fetchedAt: now });
    }
    this.#stale = false;
  }

  /** The open connection to `broker`, opening one when there is none, it broke, or its SASL session is expiring. */
  async #connectionTo(broker: BrokerAddress): Promise<BrokerConnection> {
    const key = `${broker.host}:${broker.port}`;
    for (;;) {
      if (this.#closed) throw new KafkaConnectionError("the producer was disconnected");
      const existing = this.#connections.get(key);
      if (existing === undefined) break;
      const conn = await existing.catch(() => undefined);
      if (conn !== undefined && !conn.closed && !conn.expiring) return conn;
      // Re-authentication (KIP-368) by replacement: requests in flight on the old connection still get answers.
      if (conn !== undefined && conn.expiring) conn.closeWhenIdle();
      // Broken or failed to open: forget it unless someone already replaced it, then look again.
      if (this.#connections.get(key) === existing) this.#connections.delete(key);
    }
    const opening = BrokerConnection.open({
      host: broker.host,
      port: broker.port,
      connectTimeoutMs: this.#opts.connectionTimeoutMs ?? 1000,
      requestTimeoutMs: this.#opts.requestTimeoutMs ?? 30_000,
      clock: this.#clock,
      security: this.#opts.security,
      clientId: this.#opts.clientId,
    });
    this.#connections.set(key, opening);
    try {
      const conn = await opening;
      if (this.#closed) conn.close();
      if (this.#authFailures.delete(key)) this.#log.info("broker accepts us again", { broker: key });
      return conn;
    } catch (err) {
      if (this.#connections.get(key) === opening) this.#connections.delete(key);
      if (err instanceof KafkaAuthenticationError && this.#authFailures.get(key) !== err.message) {
        // Once per broker and cause: a service retrying every few seconds must not flood the log.
        this.#authFailures.set(key, err.message);
        this.#log.error("cannot authenticate with a Kafka broker; retrying with backoff", {
          broker: key,
          error: err.message,
        });
      }
      throw err;
    }
  }

  #closeConnections(): void {
    for (const opening of this.#connections.values()) opening.then((c) => c.close(), () => {});
    this.#connections.clear();
  }
}
