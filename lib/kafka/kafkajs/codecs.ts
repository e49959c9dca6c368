/**
 * Teaches kafkajs' consumer to read every codec of magic-2 record batches (it ships gzip only), and turns a batch
 * that cannot be read into a marked stand-in record the consumer recognises, so the failure is reported with its
 * topic, partition and offset instead of crashing the fetch without them.
 *
 * kafkajs hands a codec only the compressed records section. That section is a view into the fetch response, so
 * the batch header sits right before it (`RecordBatchDecoder` reads it in this order):
 * ```
 * @0  baseOffset i64          @21 attributes i16       @43 producerId i64
 * @8  batchLength i32         @23 lastOffsetDelta i32  @51 producerEpoch i16
 * @12 partitionLeaderEpoch    @27 baseTimestamp i64    @53 baseSequence i32
 * @16 magic i8                @35 maxTimestamp i64     @57 recordCount i32
 * @17 crc u32 (CRC-32C of @21 to the end)              @61 records
 * ```
 * @module
 */
import { Buffer } from "node:buffer";
import { CompressionCodecs } from "kafkajs";
import type { IHeaders } from "kafkajs";
import { CODEC_MASK, codecOfId, compress, decompress } from "../compression/codec.ts";
import { ByteWriter } from "../wire/bytes.ts";
import { crc32c } from "../wire/crc32c.ts";

const HEADER_BYTES = 61;
/** `batchLength` counts from the partition leader epoch (@12) to the end. */
const LENGTH_FROM = 12;
const CRC_FROM = 21;
/** Above this many records a stand-in batch is not built (the count itself is then likely corrupt). */
const MAX_STAND_IN_RECORDS = 1_000_000;

/**
 * The header name of stand-in records. Random per process, so no producer can forge one and stop the consumer.
 */
const MARKER = `x-event-router-undecodable-${crypto.randomUUID()}`;

/** A record batch the consumer could not read, as told by its stand-in records. */
export interface UndecodableBatch {
  /** Offset of the batch's first record, as a decimal string. */
  firstOffset: string;
  /** Offset of its last record. */
  lastOffset: string;
  reason: string;
}

/**
 * The batch a consumed message stands in for, when kafkajs delivered a stand-in for an unreadable batch; otherwise
 * undefined. Cheap enough for every message: one property lookup.
 */
export function undecodableBatchOf(headers: IHeaders | undefined): UndecodableBatch | undefined {
  const marked = headers?.[MARKER];
  if (marked === undefined) return undefined;
  const text = Array.isArray(marked) ? marked[0] : marked;
  try {
    return JSON.parse(String(text)) as UndecodableBatch;
  } catch {
    return { firstOffset: "?", lastOffset: "?", reason: "unreadable batch" };
  }
}

/** Where a compressed section's batch header is, read from the bytes before it; undefined when it is not there. */
interface BatchHeader {
  firstOffset: bigint;
  lastOffsetDelta: number;
  attributes: number;
  recordCount: number;
  crcMatches: boolean;
}

function headerBefore(section: Uint8Array): BatchHeader | undefined {
  if (section.byteOffset < HEADER_BYTES) return undefined;
  const start = section.byteOffset - HEADER_BYTES;
  const view = new DataView(section.buffer, start, HEADER_BYTES);
  const whole = new Uint8Array(section.buffer, start, HEADER_BYTES + section.byteLength);
  // Only a real header has magic 2 and a length that ends exactly where this section ends.
  if (view.getInt8(16) !== 2 || view.getInt32(8) !== HEADER_BYTES - LENGTH_FROM + section.byteLength) return undefined;
  return {
    firstOffset: view.getBigInt64(0),
    lastOffsetDelta: view.getInt32(23),
    attributes: view.getInt16(21),
    recordCount: view.getInt32(57),
    crcMatches: crc32c(whole, CRC_FROM) === view.getUint32(17),
  };
}

/** Whether `data` holds exactly `count` length-prefixed records, as kafkajs will read them. */
function holdsRecords(data: Uint8Array, count: number): boolean {
  let pos = 0;
  for (let i = 0; i < count; i++) {
    let length = 0;
    let shift = 0;
    let byte: number;
    do {
      if (pos >= data.length || shift > 28) return false;
      byte = data[pos++]!;
      length |= (byte & 0x7f) << shift;
      shift += 7;
    } while (byte & 0x80);
    length = (length >>> 1) ^ -(length & 1); // zig-zag
    if (length < 0 || pos + length > data.length) return false;
    pos += length;
  }
  return pos === data.length;
}

/** `count` records (offset deltas 0..count-1) each carrying the marker header with `batch` as its value. */
function standIns(count: number, batch: UndecodableBatch): Buffer {
  const value = JSON.stringify(batch);
  const w = new ByteWriter(64 + count * (value.length + MARKER.length + 16));
  const body = new ByteWriter(value.length + MARKER.length + 32);
  for (let i = 0; i < count; i++) {
    body.pos = 0;
    body.int8(0).varint(0).varint(i); // attributes, timestamp delta, offset delta
    body.varBytes(null).varBytes(null); // key, value
    body.varint(1).varBytes(MARKER).varBytes(value);
    w.varint(body.pos).raw(body.bytes());
  }
  const out = w.bytes();
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}

/** kafkajs' codec interface: its encoder for producing, a Buffer for consuming. */
interface KafkajsCodec {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(section: Buffer): Promise<Buffer>;
}

function codecFor(id: number): KafkajsCodec {
  const name = codecOfId(id);
  return {
    compress(encoder) {
      if (name === undefined) throw new Error(`cannot compress with unknown codec id ${id}`);
      const out = compress(name, encoder.buffer);
      return Promise.resolve(Buffer.from(out.buffer, out.byteOffset, out.byteLength));
    },
    decompress(section) {
      const header = headerBefore(section);
      let reason: string;
      if (header !== undefined && !header.crcMatches) {
        reason = "CRC-32C mismatch: the batch was corrupted";
      } else {
        try {
          const data = decompress(id, section);
          if (header === undefined || holdsRecords(data, header.recordCount)) {
            return Promise.resolve(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
          }
          reason = `${name} content does not hold the batch's ${header.recordCount} records`;
        } catch (err) {
          reason = err instanceof Error ? err.message : String(err);
        }
      }
      if (header === undefined || header.recordCount < 1 || header.recordCount > MAX_STAND_IN_RECORDS) {
        // Without a header there is nothing to stand in for; the fetch fails with the reason instead.
        return Promise.reject(new Error(`undecodable record batch: ${reason}`));
      }
      const batch: UndecodableBatch = {
        firstOffset: String(header.firstOffset),
        lastOffset: String(header.firstOffset + BigInt(header.lastOffsetDelta)),
        reason,
      };
      return Promise.resolve(standIns(header.recordCount, batch));
    },
  };
}

let registered = false;

/**
 * Registers the codecs with kafkajs. kafkajs keeps them in a module-level table, so this is process-wide; calling it
 * again does nothing. Ids 5-7 (undefined by Kafka) are registered too, so such a batch is reported rather than
 * read as if it were uncompressed.
 */
export function registerKafkajsCodecs(): void {
  if (registered) return;
  registered = true;
  const table = CompressionCodecs as unknown as Record<number, () => KafkajsCodec>;
  for (let id = 1; id <= CODEC_MASK; id++) {
    const codec = codecFor(id);
    table[id] = () => codec;
  }
}
