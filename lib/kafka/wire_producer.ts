/**
 * The product's one Kafka producer, used by every service: it speaks the wire protocol itself (Produce v3, magic-2
 * batches, optionally compressed), over the connections of a {@link KafkaCluster} (TLS, SASL, metadata), and encodes
 * a whole batch into one buffer, where kafkajs allocates several buffers per record and per header. One
 * {@link Delivery} per record, never throws for a delivery failure; retries with kafkajs' policy and defaults; keyed
 * records land on the partition kafkajs and the Java client pick ({@link choosePartition}).
 * @module
 */
import { backoffDelay } from "../backoff.ts";
import { type Clock, systemClock } from "../clock.ts";
import type { Logger } from "../log.ts";
import { asError, errorMessage } from "../log.ts";
import type { CompressionCodec } from "./compression/codec.ts";
import type { Delivery, OutboundRecord } from "./delivery.ts";
import { KafkaCluster, type TopicState } from "./cluster.ts";
import { choosePartition } from "./partitioner.ts";
import type { BrokerConnection, BrokerSecurity } from "./wire/connection.ts";
import { ErrorCode, isRetriable, KafkaConnectionError, KafkaProtocolError } from "./wire/errors.ts";
import { API_VERSION, ApiKey, decodeProduce, encodeProduce, type ProducePartition } from "./wire/protocol.ts";

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

/** Records of one send bound for one broker: topic → partition → indices into the send's records. */
type BrokerBatch = Map<string, Map<number, number[]>>;

/**
 * What one produce request (or the requests to one broker) settled: deliveries of the records it decided, the
 * records to try again, and the last error seen.
 */
interface Settled {
  /** Records decided, and their deliveries at the same positions (two arrays: no pair object per record). */
  done: number[];
  deliveries: Delivery[];
  retry: number[];
  error?: Error;
}

/** Records failed by `error`: retriable errors send them round again, others report them failed. */
function failed(error: Error, indices: Iterable<number>, records: readonly OutboundRecord[]): Settled {
  const settled: Settled = { done: [], deliveries: [], retry: [], error };
  const again = isRetriable(error);
  for (const i of indices) {
    if (again) settled.retry.push(i);
    else {
      settled.done.push(i);
      settled.deliveries.push({ ok: false, topic: records[i]!.topic, error });
    }
  }
  return settled;
}

/** The APIs the producer needs, checked at connect. */
const REQUIRED_APIS = [
  { name: "Produce", key: ApiKey.Produce, version: API_VERSION.Produce },
  { name: "Metadata", key: ApiKey.Metadata, version: API_VERSION.Metadata },
] as const;

/**
 * Produces records with per-record delivery results.
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
  readonly #cluster: KafkaCluster;
  readonly #acks: -1 | 0 | 1;
  readonly #timeoutMs: number;
  readonly #retries: number;
  readonly #roundRobin = new Map<string, number>();
  readonly #stop = new AbortController();
  #stats = { produceRequests: 0, retries: 0 };
  #connected = false;

  constructor(opts: WireProducerOptions) {
    this.#opts = opts;
    this.#log = opts.logger.child({ component: "kafka-producer" });
    this.#clock = opts.clock ?? systemClock;
    this.#acks = opts.acks ?? -1;
    this.#timeoutMs = opts.timeoutMs ?? 30_000;
    this.#retries = opts.retries ?? opts.retry?.retries ?? 5;
    this.#cluster = new KafkaCluster({
      brokers: opts.brokers,
      clientId: opts.clientId,
      logger: opts.logger,
      clock: this.#clock,
      security: opts.security,
      connectionTimeoutMs: opts.connectionTimeoutMs,
      requestTimeoutMs: opts.requestTimeoutMs,
      metadataMaxAgeMs: opts.metadataMaxAgeMs,
    });
  }

  /** Whether {@link connect} succeeded and {@link disconnect} has not been called since. */
  get connected(): boolean {
    return this.#connected;
  }

  /** Requests sent and retry rounds run so far (for logs and tests). */
  get stats(): Readonly<{ produceRequests: number; metadataRequests: number; retries: number }> {
    return { ...this.#stats, metadataRequests: this.#cluster.metadataRequests };
  }

  /**
   * Reaches a bootstrap broker, checks it speaks the request versions used here, and learns the cluster's brokers;
   * rejects when no broker can be reached. Optional: a send connects by itself.
   */
  async connect(): Promise<void> {
    await this.#cluster.connect(REQUIRED_APIS);
    this.#connected = true;
  }

  /** Closes every connection; sends in progress end with failed deliveries. */
  disconnect(): Promise<void> {
    this.#connected = false;
    this.#stop.abort();
    this.#cluster.close();
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
      this.#cluster.want(records[i]!.topic);
    }
    let lastError: Error = new Error("not sent");
    for (let attempt = 0;; attempt++) {
      if (this.#cluster.closed) {
        lastError = new KafkaConnectionError("the producer was disconnected");
        break;
      }
      const rounds = await this.#round(records, pending, partitionOf);
      for (const settled of rounds) {
        for (let k = 0; k < settled.done.length; k++) out[settled.done[k]!] = settled.deliveries[k];
        if (settled.error !== undefined) lastError = settled.error;
      }
      pending = rounds.flatMap((r) => r.retry);
      if (pending.length === 0 || attempt >= this.#retries || this.#cluster.closed) break;
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

  /** One try of the `pending` records: route each to its leader, one request per broker. */
  async #round(records: OutboundRecord[], pending: number[], partitionOf: Int32Array): Promise<Settled[]> {
    try {
      await this.#cluster.ensureMetadata();
      const unroutable: Settled = { done: [], deliveries: [], retry: [] };
      const batches = new Map<number, BrokerBatch>();
      for (const i of pending) {
        const problem = this.#route(records[i]!, i, partitionOf, batches);
        if (problem === undefined) continue;
        unroutable.error = problem;
        if (isRetriable(problem)) unroutable.retry.push(i);
        else {
          unroutable.done.push(i);
          unroutable.deliveries.push({ ok: false, topic: records[i]!.topic, error: problem });
        }
      }
      const sent = await Promise.all([...batches].map(([nodeId, batch]) => this.#produce(nodeId, batch, records)));
      return [unroutable, ...sent.flat()];
    } catch (err) {
      // No metadata (or an unexpected failure): every pending record tries again.
      this.#cluster.markStale();
      return [{ done: [], deliveries: [], retry: pending, error: asError(err) }];
    }
  }

  /** Puts record `i` into its leader's batch, or returns why it cannot be sent now. */
  #route(record: OutboundRecord, i: number, partitionOf: Int32Array, batches: Map<number, BrokerBatch>) {
    const topic = record.topic;
    const state = this.#cluster.topic(topic);
    if (state === undefined) return new KafkaProtocolError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `for topic ${topic}`);
    if (state.errorCode !== 0 || state.leaders.length === 0) {
      if (state.errorCode !== 0) this.#cluster.markStale();
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
    if (leader < 0 || this.#cluster.broker(leader) === undefined) {
      this.#cluster.markStale();
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

  #choosePartition(record: OutboundRecord, state: TopicState): number {
    const key = record.key;
    if (key !== undefined && key !== null) return choosePartition(key, state.leaders, 0);
    const turn = this.#roundRobin.get(record.topic) ?? 0;
    this.#roundRobin.set(record.topic, (turn + 1) & 0x7fffffff);
    return choosePartition(null, state.leaders, turn);
  }

  /**
   * Sends one broker its batch. A partition whose records exceed `maxBatchBytes` continues in further requests on
   * the same connection, which the broker handles in order.
   */
  async #produce(nodeId: number, batch: BrokerBatch, records: OutboundRecord[]): Promise<Settled[]> {
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
      conn = await this.#cluster.connectionTo(this.#cluster.broker(nodeId)!);
    } catch (err) {
      this.#cluster.markStale();
      return [failed(asError(err), unsent(), records)];
    }
    const maxBatchBytes = this.#opts.maxBatchBytes ?? 1_000_000;
    const answers: Promise<Settled>[] = [];
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
      answers.push(this.#answer(nodeId, conn, id, frame, sent, records));
    }
    return await Promise.all(answers);
  }

  /** Sends one encoded produce request and settles its records from the broker's answer. */
  async #answer(
    nodeId: number,
    conn: BrokerConnection,
    id: number,
    frame: Uint8Array,
    sent: BrokerBatch,
    records: OutboundRecord[],
  ): Promise<Settled> {
    const all = function* (): Generator<number> {
      for (const partitions of sent.values()) for (const indices of partitions.values()) yield* indices;
    };
    const settled: Settled = { done: [], deliveries: [], retry: [] };
    let responses;
    try {
      if (this.#acks === 0) {
        await conn.request(id, frame);
        for (const [topic, partitions] of sent) {
          for (const [partition, indices] of partitions) {
            for (const i of indices) {
              settled.done.push(i);
              settled.deliveries.push({ ok: true, topic, partition, offset: "-1" });
            }
          }
        }
        return settled;
      }
      responses = await conn.request(id, frame, decodeProduce);
    } catch (err) {
      if (err instanceof KafkaConnectionError) this.#cluster.markStale();
      return failed(asError(err), all(), records);
    }

    for (const r of responses) {
      const indices = sent.get(r.topic)?.get(r.partition);
      if (indices === undefined) continue; // not ours: ignore rather than guess
      sent.get(r.topic)!.delete(r.partition);
      if (r.errorCode !== 0) {
        const error = new KafkaProtocolError(r.errorCode, `from broker ${nodeId} for ${r.topic}-${r.partition}`);
        if (error.staleMetadata) this.#cluster.markStale();
        const f = failed(error, indices, records);
        for (let k = 0; k < f.done.length; k++) {
          settled.done.push(f.done[k]!);
          settled.deliveries.push(f.deliveries[k]!);
        }
        for (const i of f.retry) settled.retry.push(i);
        settled.error = error;
        continue;
      }
      const base = Number(r.baseOffset);
      const exact = Number.isSafeInteger(base + indices.length);
      for (let k = 0; k < indices.length; k++) {
        settled.done.push(indices[k]!);
        settled.deliveries.push({
          ok: true,
          topic: r.topic,
          partition: r.partition,
          offset: exact ? String(base + k) : String(r.baseOffset + BigInt(k)),
        });
      }
    }
    // A partition the broker did not answer for was not written as far as we know: try it again.
    for (const [topic, partitions] of sent) {
      for (const [partition, indices] of partitions) {
        settled.error = new KafkaConnectionError(`broker ${nodeId} did not answer for ${topic}-${partition}`);
        settled.retry.push(...indices);
      }
    }
    return settled;
  }

  #backoff(attempt: number): number {
    const p = this.#opts.retry ?? {};
    const initial = p.initialRetryTime ?? 300;
    const max = p.maxRetryTime ?? 30_000;
    // kafkajs's retry settings and jitter (`factor`), so options written for kafkajs mean the same here.
    return backoffDelay(attempt + 1, {
      initialMs: initial,
      maxMs: max,
      multiplier: p.multiplier ?? 2,
      jitter: p.factor ?? 0.2,
      random: this.#opts.random,
    });
  }
}
