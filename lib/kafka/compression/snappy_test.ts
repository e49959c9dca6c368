/**
 * Snappy raw blocks against vectors built from the Snappy format description (format_description.txt: a varint
 * preamble, literal and copy elements), and snappy-java's xerial framing built as its SnappyOutputStream documents.
 * @module
 */
import assert from "node:assert/strict";
import { isXerialFramed, snappyCompress, snappyDecompress, SnappyError } from "./snappy.ts";

const enc = new TextEncoder();
const LIMIT = 64 << 20;

/** "hello": preamble 5, literal tag (5 - 1) << 2, the bytes. */
const HELLO_RAW = Uint8Array.of(0x05, 0x10, ...enc.encode("hello"));
/** "abcdabcdabcd": preamble 12, literal "abcd", then copy-1 of length 8 at offset 4 (tag 0b000_100_01, offset 4). */
const ABCD_RAW = Uint8Array.of(0x0c, 0x0c, ...enc.encode("abcd"), 0x11, 0x04);

/** snappy-java's stream: magic, version 1, compatible version 1, then (length i32 BE, raw block) chunks. */
function xerial(...chunks: Uint8Array[]): Uint8Array {
  const header = [0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1];
  const out: number[] = [...header];
  for (const c of chunks) {
    out.push((c.length >>> 24) & 255, (c.length >>> 16) & 255, (c.length >>> 8) & 255, c.length & 255, ...c);
  }
  return Uint8Array.from(out);
}

Deno.test("raw snappy blocks from the format description decode", () => {
  assert.deepEqual(snappyDecompress(HELLO_RAW, LIMIT), enc.encode("hello"));
  assert.deepEqual(snappyDecompress(ABCD_RAW, LIMIT), enc.encode("abcdabcdabcd"));
});

Deno.test("xerial-framed snappy (the Java client's format) decodes, over one chunk and several", () => {
  assert.ok(isXerialFramed(xerial(HELLO_RAW)));
  assert.ok(!isXerialFramed(HELLO_RAW));
  assert.deepEqual(snappyDecompress(xerial(HELLO_RAW), LIMIT), enc.encode("hello"));
  assert.deepEqual(
    snappyDecompress(xerial(ABCD_RAW, HELLO_RAW, ABCD_RAW), LIMIT),
    enc.encode("abcdabcdabcdhelloabcdabcdabcd"),
  );
  const big = enc.encode("a clickstream event, ".repeat(5000));
  assert.deepEqual(snappyDecompress(xerial(snappyCompress(big), snappyCompress(big)), LIMIT).length, big.length * 2);
});

Deno.test("snappy written here is a raw block that round-trips and shrinks repetitive data", () => {
  const data = enc.encode('{"appId":"app-1","event":"Signed Up"}'.repeat(200));
  const raw = snappyCompress(data);
  assert.ok(!isXerialFramed(raw));
  assert.ok(raw.length < data.length / 5);
  assert.deepEqual(snappyDecompress(raw, LIMIT), data);
  assert.deepEqual(snappyDecompress(snappyCompress(new Uint8Array(0)), LIMIT), new Uint8Array(0));
});

Deno.test("corrupt or oversized snappy is refused with the reason", () => {
  const refuse = (data: Uint8Array, reason: RegExp, limit = LIMIT) =>
    assert.throws(() => snappyDecompress(data, limit), (e) => e instanceof SnappyError && reason.test(e.message));
  // A copy reaching before the start of the output.
  refuse(Uint8Array.of(0x0c, 0x0c, ...enc.encode("abcd"), 0x11, 0x09), /raw block: Invalid Snappy bitstream/);
  refuse(HELLO_RAW, /too big, expect at most 3/, 3);
  const framed = xerial(HELLO_RAW, ABCD_RAW);
  refuse(framed.subarray(0, framed.length - 2), /chunk at byte 27 declares 8 bytes, 6 remain/);
  refuse(framed.subarray(0, 18), /truncated chunk length at byte 16/);
  refuse(xerial(HELLO_RAW, ABCD_RAW), /chunk at byte 27: .*too big/, 10);
});
