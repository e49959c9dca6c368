/**
 * The wire producer's codec pieces against published vectors and against kafkajs: CRC-32C (RFC 3720 vectors),
 * murmur2 partitioning (kafkajs' default partitioner), zig-zag varints and length-prefixed strings, bounds checks.
 * @module
 */
import assert from "node:assert/strict";
import { Partitioners } from "kafkajs";
import type { PartitionMetadata } from "kafkajs";
import { ByteReader, ByteWriter, MalformedResponseError, varintSize } from "./bytes.ts";
import { crc32c } from "./crc32c.ts";
import { partitionForKey } from "./murmur2.ts";
import { decodeMetadata, decodeProduce } from "./protocol.ts";

Deno.test("crc32c matches the RFC 3720 vectors and the usual check value", () => {
  const enc = new TextEncoder();
  assert.equal(crc32c(enc.encode("123456789")), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
  assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
  assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e);
  assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c);
  // A sub-range gives the same CRC as the same bytes on their own (lengths not a multiple of 8 included).
  const data = Uint8Array.from({ length: 100 }, (_, i) => (i * 37) & 255);
  for (const [from, to] of [[0, 100], [3, 61], [7, 8], [10, 10]] as const) {
    assert.equal(crc32c(data, from, to), crc32c(data.slice(from, to)));
  }
});

Deno.test("keyed records get kafkajs' default partition", () => {
  const choose = Partitioners.DefaultPartitioner();
  const enc = new TextEncoder();
  const keys = ["", "a", "ab", "abc", "abcd", "abcde", "user-1", "1001", "é", "日本語", "😀 emoji key"];
  for (let i = 0; i < 500; i++) keys.push(String(i * 7919), `key-${i}`);
  for (const partitions of [1, 2, 3, 5, 12, 64]) {
    const partitionMetadata = Array.from({ length: partitions }, (_, partitionId) => ({ partitionId, leader: 1 }));
    for (const key of keys) {
      const expected = choose({
        topic: "t",
        partitionMetadata: partitionMetadata as unknown as PartitionMetadata[],
        message: { key, value: null },
      });
      assert.equal(
        partitionForKey(enc.encode(key), partitions),
        expected,
        `key ${JSON.stringify(key)} of ${partitions}`,
      );
    }
  }
});

/** Reads one zig-zag varint, the independent way: bytes → unsigned value → signed. */
function readVarint(b: Uint8Array, at: number): [value: number, next: number] {
  let u = 0;
  let shift = 1;
  let i = at;
  for (;;) {
    const byte = b[i++]!;
    u += (byte & 0x7f) * shift;
    shift *= 128;
    if ((byte & 0x80) === 0) break;
  }
  return [u % 2 === 0 ? u / 2 : -(u + 1) / 2, i];
}

Deno.test("zig-zag varints and varlongs encode as Kafka expects", () => {
  const known: [number, number[]][] = [[0, [0]], [-1, [1]], [1, [2]], [63, [126]], [-64, [127]], [64, [128, 1]], [
    -65,
    [129, 1],
  ], [300, [216, 4]]];
  for (const [v, bytes] of known) {
    assert.deepEqual([...new ByteWriter(1).varint(v).bytes()], bytes, `varint ${v}`);
    assert.equal(varintSize(v), bytes.length);
  }
  for (const v of [0, 1, -1, 2 ** 31 - 1, -(2 ** 31), 2 ** 40, -(2 ** 40) - 3, Number.MAX_SAFE_INTEGER >> 1]) {
    const w = new ByteWriter(1).varlong(v);
    assert.deepEqual(readVarint(w.bytes(), 0), [v, w.pos], `varlong ${v}`);
  }
});

Deno.test("varBytes writes the exact UTF-8 length, also when the reserved prefix was too long", () => {
  const enc = new TextEncoder();
  const samples = ["", "a", "x".repeat(21), "x".repeat(22), "x".repeat(63), "x".repeat(64), "é".repeat(32)];
  samples.push("€".repeat(21), "€".repeat(22), "😀".repeat(16), "x".repeat(2731), "x".repeat(8191), "x".repeat(8192));
  samples.push("lone \ud800 surrogate");
  const w = new ByteWriter(8); // tiny on purpose: every sample grows the buffer
  for (const s of samples) w.varBytes(s);
  w.varBytes(null).varBytes(new Uint8Array([9, 8, 7]));
  const out = w.bytes();
  let at = 0;
  for (const s of samples) {
    const [n, next] = readVarint(out, at);
    assert.deepEqual(out.subarray(next, next + n), enc.encode(s), `string of ${s.length} chars`);
    at = next + n;
  }
  const [nul, afterNull] = readVarint(out, at);
  assert.equal(nul, -1);
  const [n, next] = readVarint(out, afterNull);
  assert.deepEqual([...out.subarray(next, next + n)], [9, 8, 7]);
  assert.equal(next + n, out.length, "nothing left over");
});

Deno.test("int64 writes negative and large values in two's complement", () => {
  for (const v of [0, -1, 1, 2 ** 32, -(2 ** 32) - 1, 1_732_406_400_000, Number.MIN_SAFE_INTEGER]) {
    const b = new ByteWriter(1).int64(v).bytes();
    assert.equal(new DataView(b.buffer, b.byteOffset).getBigInt64(0), BigInt(v), `int64 ${v}`);
  }
});

Deno.test("responses that end early or claim impossible counts are malformed, not trusted", () => {
  const produce = new ByteWriter().int32(1).string("t").int32(1).int32(0).int16(0).bytes(); // cut after the error
  assert.throws(() => decodeProduce(new ByteReader(produce)), MalformedResponseError);
  const hugeCount = new ByteWriter().int32(1_000_000).bytes();
  assert.throws(() => decodeMetadata(new ByteReader(hugeCount)), /cannot fit/);
  const nullTopic = new ByteWriter().int32(1).string(null).bytes();
  assert.throws(() => decodeProduce(new ByteReader(nullTopic)), MalformedResponseError);
});
