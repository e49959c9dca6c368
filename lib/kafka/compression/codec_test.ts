/**
 * The codec table: names and attribute ids as Kafka defines them, vectors written by the reference gzip and zstd
 * tools, round trips of every codec, and errors that name the codec.
 * @module
 */
import assert from "node:assert/strict";
import {
  CODEC_ID,
  codecOfId,
  compress,
  COMPRESSION_CODECS,
  decompress,
  DecompressionError,
  parseCompressionCodec,
} from "./codec.ts";

const enc = new TextEncoder();
/** A plain Uint8Array copy: node:zlib answers with Buffers, which deepEqual tells apart. */
const bytes = (b: Uint8Array) => new Uint8Array(b);
const hex = (s: string) => Uint8Array.from(s.match(/../g)!, (b) => parseInt(b, 16));

Deno.test("codec names map to Kafka's attribute ids and parse case-insensitively", () => {
  assert.deepEqual(CODEC_ID, { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 });
  for (const c of COMPRESSION_CODECS) assert.equal(codecOfId(CODEC_ID[c]), c);
  assert.equal(codecOfId(5), undefined);
  assert.equal(parseCompressionCodec(" ZSTD "), "zstd");
  assert.throws(
    () => parseCompressionCodec("brotli"),
    /unknown compression codec "brotli" \(expected one of none, gzip/,
  );
});

Deno.test("gzip and zstd vectors from the reference tools decode", () => {
  // printf 'abcdabcdabcd' | gzip -n
  assert.deepEqual(
    bytes(decompress(1, hex("1f8b08000000000000034b4c4a4e49846200b7e5b9d50c000000"))),
    enc.encode("abcdabcdabcd"),
  );
  // printf 'zstd vector zstd vector zstd vector' | zstd
  assert.deepEqual(
    bytes(decompress(4, hex("28b52ffd0458950000607a73746420766563746f72200100af4b1275ec1f7b"))),
    enc.encode("zstd vector zstd vector zstd vector"),
  );
});

Deno.test("every codec round-trips records and shrinks repetitive ones", () => {
  const data = enc.encode('{"appId":"app-1","messageId":"m-1","event":"Signed Up"}'.repeat(100));
  for (const c of COMPRESSION_CODECS) {
    const packed = compress(c, data);
    if (c === "none") assert.equal(packed, data);
    else assert.ok(packed.length < data.length / 4, `${c}: ${packed.length} of ${data.length}`);
    assert.deepEqual(bytes(decompress(CODEC_ID[c], packed)), data);
  }
});

Deno.test("undecodable payloads and unknown codec ids raise DecompressionError naming the codec", () => {
  const garbage = enc.encode("definitely not compressed");
  for (const c of ["gzip", "snappy", "lz4", "zstd"] as const) {
    assert.throws(
      () => decompress(CODEC_ID[c], garbage),
      (e) =>
        e instanceof DecompressionError && e.message.startsWith(`${c} decompression failed: `) && e.cause !== undefined,
    );
  }
  assert.throws(
    () => decompress(6, garbage),
    (e) => e instanceof DecompressionError && /unknown compression codec id 6/.test(e.message),
  );
  // The output bound holds for the zlib codecs too (a decompression bomb is refused).
  const bomb = compress("zstd", new Uint8Array(1 << 20));
  assert.throws(() => decompress(4, bomb, 1000), /zstd decompression failed/);
  assert.throws(() => decompress(1, compress("gzip", new Uint8Array(1 << 20)), 1000), /gzip decompression failed/);
});
