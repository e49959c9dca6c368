/**
 * The Kafka requests the wire producer speaks — ApiVersions v0, Metadata v1, Produce v3 with magic-2 record
 * batches — encoded straight into one buffer per request, and their responses decoded with bounds checks.
 * @module
 */
import { CODEC_ID, compress, type CompressionCodec } from "../compression/codec.ts";
import { ByteReader, ByteWriter, varintSize } from "./bytes.ts";
import { crc32c } from "./crc32c.ts";

/** Request kinds (api keys) used here. */
export const ApiKey = { Produce: 0, Metadata: 3, SaslHandshake: 17, ApiVersions: 18, SaslAuthenticate: 36 } as const;

/** The versions this module encodes; brokers must support them (checked with ApiVersions at connect). */
export const API_VERSION = {
  Produce: 3,
  Metadata: 1,
  ApiVersions: 0,
  SaslHandshake: 1,
  SaslAuthenticate: 1,
} as const;

/** A record as the wire producer writes it: value and header values as strings or bytes. */
export interface WireRecord {
  key?: string | Uint8Array | null;
  value: string | Uint8Array | null;
  headers?: Record<string, string | Uint8Array>;
}

/** Starts a request frame: size placeholder, then the v1 request header. Returns the writer. */
export function beginRequest(
  apiKey: number,
  apiVersion: number,
  correlationId: number,
  clientId: string,
  capacity = 256,
): ByteWriter {
  const w = new ByteWriter(capacity);
  w.int32(0).int16(apiKey).int16(apiVersion).int32(correlationId).string(clientId);
  return w;
}

/** Fills in the frame size of a request begun with {@link beginRequest} and returns its bytes. */
export function endRequest(w: ByteWriter): Uint8Array {
  w.int32At(0, w.pos - 4);
  return w.bytes();
}

/**
 * Appends one record batch (magic 2, no producer id) holding `records[indices[from]]`, `records[indices[from + 1]]`,
 * … in order, all with `timestamp` as their create time. Stops before the record that would take the batch past
 * `maxBytes` uncompressed (a first record is always written, however large) and returns how many records it holds.
 * With a `compression` codec the records section is compressed, unless that does not make it smaller (as librdkafka
 * does).
 *
 * Layout (KIP-98):
 * ```
 * baseOffset i64, batchLength i32, partitionLeaderEpoch i32, magic i8 = 2,
 * crc u32 (CRC-32C of everything after it), attributes i16 (bits 0-2: codec), lastOffsetDelta i32,
 * baseTimestamp i64, maxTimestamp i64, producerId i64, producerEpoch i16, baseSequence i32,
 * recordCount i32, records (compressed as one block when the codec is not none)
 * ```
 */
export function writeRecordBatch(
  w: ByteWriter,
  records: readonly WireRecord[],
  indices: readonly number[],
  timestamp: number,
  from = 0,
  maxBytes = Infinity,
  compression: CompressionCodec = "none",
): number {
  const start = w.pos;
  w.int64(0); // base offset: assigned by the broker
  const lengthAt = w.pos;
  w.int32(0);
  w.int32(-1); // partition leader epoch: unknown to producers
  w.int8(2); // magic
  const crcAt = w.pos;
  w.uint32(0);
  const crcFrom = w.pos;
  const attributesAt = w.pos;
  w.int16(0); // attributes: no compression (yet), create time, not transactional, not control
  const lastDeltaAt = w.pos;
  w.int32(0);
  w.int64(timestamp).int64(timestamp);
  w.int64(-1).int16(-1).int32(-1); // producer id, epoch, base sequence: not idempotent
  const countAt = w.pos;
  w.int32(0);
  const recordsAt = w.pos;
  let n = 0;
  for (let k = from; k < indices.length; k++, n++) {
    const recordAt = w.pos;
    writeRecord(w, records[indices[k]!]!, n);
    if (n > 0 && w.pos - start > maxBytes) {
      w.pos = recordAt; // this record goes into the next batch
      break;
    }
  }
  if (compression !== "none") {
    const packed = compress(compression, w.buffer.subarray(recordsAt, w.pos));
    if (packed.length < w.pos - recordsAt) {
      w.pos = recordsAt;
      w.raw(packed);
      w.int16At(attributesAt, CODEC_ID[compression]);
    }
  }
  w.int32At(lastDeltaAt, n - 1);
  w.int32At(countAt, n);
  w.int32At(lengthAt, w.pos - lengthAt - 4);
  w.uint32At(crcAt, crc32c(w.buffer, crcFrom, w.pos));
  return n;
}

/** Length-prefixed record; the prefix size is guessed from the body and corrected when the guess was wrong. */
function writeRecord(w: ByteWriter, r: WireRecord, offsetDelta: number): void {
  const guess = 2; // bodies of 64..8191 bytes: the common JSON event
  const lengthAt = w.pos;
  w.ensure(guess);
  w.pos += guess;
  const bodyAt = w.pos;
  w.int8(0); // attributes
  w.varint(0); // timestamp delta: the whole batch shares one timestamp
  w.varint(offsetDelta);
  w.varBytes(r.key ?? null);
  w.varBytes(r.value);
  const headers = r.headers;
  if (headers === undefined) w.varint(0);
  else {
    let n = 0;
    for (const _ in headers) n++;
    w.varint(n);
    for (const name in headers) w.varBytes(name).varBytes(headers[name]!);
  }
  const bodyLength = w.pos - bodyAt;
  const size = varintSize(bodyLength);
  if (size !== guess) w.shift(bodyAt, size - guess);
  const end = w.pos;
  w.pos = lengthAt;
  w.varint(bodyLength);
  w.pos = end;
}

/** One partition's records of a produce request: `indices` from position `from` on, as many as fit. */
export interface ProducePartition {
  partition: number;
  indices: number[];
  from: number;
}

/** What {@link encodeProduce} wrote: the frame and, per topic and partition, how many records it holds. */
export interface EncodedProduce {
  frame: Uint8Array;
  counts: Map<string, Map<number, number>>;
}

/**
 * Encodes a Produce v3 request for `topics` (topic → partitions) of `records`. `timeoutMs` is how long the broker
 * may wait for in-sync replicas; each partition's batch is kept within `maxBatchBytes` and compressed with
 * `compression` (see {@link writeRecordBatch}), and `counts` says how many of its records it took.
 *
 * Layout:
 * ```
 * request header v1: size i32, apiKey i16 = 0, apiVersion i16 = 3, correlationId i32, clientId string
 * transactionalId nullable string, acks i16, timeoutMs i32,
 * [topic string, [partition i32, recordSet (size i32, one record batch)]]
 * ```
 */
export function encodeProduce(
  correlationId: number,
  clientId: string,
  acks: number,
  timeoutMs: number,
  topics: ReadonlyMap<string, ProducePartition[]>,
  records: readonly WireRecord[],
  timestamp: number,
  sizeHint: number,
  maxBatchBytes = Infinity,
  compression: CompressionCodec = "none",
): EncodedProduce {
  const w = beginRequest(ApiKey.Produce, API_VERSION.Produce, correlationId, clientId, sizeHint);
  const counts = new Map<string, Map<number, number>>();
  w.string(null); // transactional id
  w.int16(acks).int32(timeoutMs);
  w.int32(topics.size);
  for (const [topic, partitions] of topics) {
    const topicCounts = new Map<number, number>();
    counts.set(topic, topicCounts);
    w.string(topic);
    w.int32(partitions.length);
    for (const p of partitions) {
      w.int32(p.partition);
      const sizeAt = w.pos;
      w.int32(0);
      topicCounts.set(
        p.partition,
        writeRecordBatch(w, records, p.indices, timestamp, p.from, maxBatchBytes, compression),
      );
      w.int32At(sizeAt, w.pos - sizeAt - 4);
    }
  }
  return { frame: endRequest(w), counts };
}

/** A partition's answer to a produce request. */
export interface ProducePartitionResponse {
  topic: string;
  partition: number;
  errorCode: number;
  baseOffset: bigint;
}

/**
 * Decodes a Produce v3 response body (after the correlation id).
 *
 * ```
 * [topic string, [partition i32, errorCode i16, baseOffset i64, logAppendTime i64]], throttleTimeMs i32
 * ```
 */
export function decodeProduce(r: ByteReader): ProducePartitionResponse[] {
  const out: ProducePartitionResponse[] = [];
  const topics = r.count(6);
  for (let t = 0; t < topics; t++) {
    const topic = r.string();
    const partitions = r.count(22);
    for (let p = 0; p < partitions; p++) {
      const partition = r.int32();
      const errorCode = r.int16();
      const baseOffset = r.int64();
      r.int64(); // log append time
      out.push({ topic, partition, errorCode, baseOffset });
    }
  }
  r.int32(); // throttle time
  return out;
}

/**
 * Encodes a Metadata v1 request for `topics` (an empty list asks for brokers only).
 *
 * ```
 * request header v1, [topic string]
 * ```
 */
export function encodeMetadata(correlationId: number, clientId: string, topics: readonly string[]): Uint8Array {
  const w = beginRequest(ApiKey.Metadata, API_VERSION.Metadata, correlationId, clientId);
  w.int32(topics.length);
  for (const t of topics) w.string(t);
  return endRequest(w);
}

/** A broker of the cluster. */
export interface BrokerAddress {
  nodeId: number;
  host: string;
  port: number;
}

/** A topic as Metadata describes it: `leaders[p]` is partition p's leader (-1: none right now). */
export interface TopicMetadata {
  name: string;
  errorCode: number;
  leaders: number[];
  /** Per-partition error codes (0 for none), same indexing as `leaders`. */
  partitionErrors: number[];
}

/** A decoded Metadata v1 response. */
export interface ClusterMetadata {
  brokers: BrokerAddress[];
  topics: TopicMetadata[];
}

/**
 * Decodes a Metadata v1 response body.
 *
 * ```
 * [nodeId i32, host string, port i32, rack nullable string], controllerId i32,
 * [errorCode i16, topic string, isInternal bool,
 *  [errorCode i16, partition i32, leader i32, [replica i32], [isr i32]]]
 * ```
 */
export function decodeMetadata(r: ByteReader): ClusterMetadata {
  const brokers: BrokerAddress[] = [];
  const nBrokers = r.count(12);
  for (let i = 0; i < nBrokers; i++) {
    const nodeId = r.int32();
    const host = r.string();
    const port = r.int32();
    r.nullableString(); // rack
    brokers.push({ nodeId, host, port });
  }
  r.int32(); // controller id
  const topics: TopicMetadata[] = [];
  const nTopics = r.count(9);
  for (let t = 0; t < nTopics; t++) {
    const errorCode = r.int16();
    const name = r.string();
    r.int8(); // is internal
    const nPartitions = r.count(18);
    const leaders: number[] = [];
    const partitionErrors: number[] = [];
    for (let p = 0; p < nPartitions; p++) {
      const partitionError = r.int16();
      const id = r.int32();
      const leader = r.int32();
      const replicas = r.count(4);
      for (let i = 0; i < replicas; i++) r.int32();
      const isr = r.count(4);
      for (let i = 0; i < isr; i++) r.int32();
      if (id < 0 || id >= nPartitions) continue; // ids are 0..n-1 in every real cluster; ignore anything else
      leaders[id] = leader;
      partitionErrors[id] = partitionError;
    }
    // A hole (an id missing from the answer) means no usable leader for that partition.
    for (let p = 0; p < nPartitions; p++) {
      leaders[p] ??= -1;
      partitionErrors[p] ??= 0;
    }
    topics.push({ name, errorCode, leaders, partitionErrors });
  }
  return { brokers, topics };
}

/** Encodes an ApiVersions v0 request: the request header v1 and no body. */
export function encodeApiVersions(correlationId: number, clientId: string): Uint8Array {
  return endRequest(beginRequest(ApiKey.ApiVersions, API_VERSION.ApiVersions, correlationId, clientId));
}

/** Decodes an ApiVersions v0 response: `errorCode i16, [apiKey i16, minVersion i16, maxVersion i16]`. */
export function decodeApiVersions(r: ByteReader): { errorCode: number; versions: Map<number, [number, number]> } {
  const errorCode = r.int16();
  const versions = new Map<number, [number, number]>();
  const n = r.count(6);
  for (let i = 0; i < n; i++) {
    const key = r.int16();
    const min = r.int16();
    const max = r.int16();
    versions.set(key, [min, max]);
  }
  return { errorCode, versions };
}

/**
 * Encodes a SaslHandshake v1 request (the SASL exchange then runs in SaslAuthenticate requests).
 *
 * ```
 * mechanism string
 * ```
 */
export function encodeSaslHandshake(correlationId: number, clientId: string, mechanism: string): Uint8Array {
  const w = beginRequest(ApiKey.SaslHandshake, API_VERSION.SaslHandshake, correlationId, clientId);
  w.string(mechanism);
  return endRequest(w);
}

/** Decodes a SaslHandshake v1 response: `error_code i16, [mechanisms string]`. */
export function decodeSaslHandshake(r: ByteReader): { errorCode: number; mechanisms: string[] } {
  const errorCode = r.int16();
  const mechanisms: string[] = [];
  const n = r.count(2);
  for (let i = 0; i < n; i++) mechanisms.push(r.string());
  return { errorCode, mechanisms };
}

/**
 * Encodes a SaslAuthenticate v1 request carrying one message of the mechanism.
 *
 * ```
 * auth_bytes bytes (int32 length)
 * ```
 */
export function encodeSaslAuthenticate(correlationId: number, clientId: string, message: Uint8Array): Uint8Array {
  const w = beginRequest(ApiKey.SaslAuthenticate, API_VERSION.SaslAuthenticate, correlationId, clientId);
  w.int32(message.byteLength).raw(message);
  return endRequest(w);
}

/** A decoded SaslAuthenticate v1 response. */
export interface SaslAuthenticateResponse {
  errorCode: number;
  errorMessage: string | null;
  /** The server's message (copied out of the frame). */
  message: Uint8Array;
  /** KIP-368: how long the session may live before the client re-authenticates; 0 for no limit. */
  sessionLifetimeMs: number;
}

/** Decodes a SaslAuthenticate v1 response: `error_code i16, error_message string?, auth_bytes, session_lifetime_ms i64`. */
export function decodeSaslAuthenticate(r: ByteReader): SaslAuthenticateResponse {
  const errorCode = r.int16();
  const errorMessage = r.nullableString();
  const message = (r.nullableBytes() ?? new Uint8Array()).slice();
  const sessionLifetimeMs = Number(r.int64());
  return { errorCode, errorMessage, message, sessionLifetimeMs };
}
