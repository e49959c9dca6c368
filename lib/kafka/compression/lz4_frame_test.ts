/**
 * The LZ4 frame reader and writer against frames written by the reference `lz4` command-line tool (lz4 1.9.4:
 * content checksum, block checksums, content size, dependent and independent blocks), and its refusals.
 * @module
 */
import assert from "node:assert/strict";
import { lz4FrameCompress, lz4FrameDecompress, Lz4FrameError } from "./lz4_frame.ts";

const enc = new TextEncoder();
const hex = (s: string) => Uint8Array.from(s.match(/../g)!, (b) => parseInt(b, 16));
const LIMIT = 64 << 20;

const HELLO = enc.encode("hello hello hello hello hello hello hello!");
/** `lz4 -B4`: 64 KiB blocks, independent, content checksum. */
const HELLO_DEFAULT = hex("04224d186440a7100000006f68656c6c6f2006000c50656c6c6f2100000000de75ad50");
/** `lz4 -B4 -BX --content-size --no-frame-crc`: block checksum and content size, no content checksum. */
const HELLO_BLOCK_CHECKSUM = hex(
  "04224d1878402a000000000000006b100000006f68656c6c6f2006000c50656c6c6f21a98a5a3d00000000",
);
/** 105 000 bytes: two blocks. */
const LONG = enc.encode("Kafka batch lz4 frame vector; ".repeat(3500));
/** `lz4 -B4 -BD`: the second block refers back into the first. */
const LONG_DEPENDENT = hex(
  "04224d1844405e29010000ff0f4b61666b61206261746368206c7a34206672616d6520766563746f723b201e00ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffca50206c7a3420a40000000ff0ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffaa50746f723b2000000000b520543f",
);
/** `lz4 -B4`: independent blocks. */
const LONG_INDEPENDENT = hex(
  "04224d186440a729010000ff0f4b61666b61206261746368206c7a34206672616d6520766563746f723b201e00ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffca50206c7a3420c3000000ff0f6672616d6520766563746f723b204b61666b61206261746368206c7a34201e00ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff8c50746f723b2000000000b520543f",
);

/** Deterministic incompressible bytes (xorshift32). */
function noise(n: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = 2463534242;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

Deno.test("lz4 frames written by the reference tool decode to their content", () => {
  assert.deepEqual(lz4FrameDecompress(HELLO_DEFAULT, LIMIT), HELLO);
  assert.deepEqual(lz4FrameDecompress(HELLO_BLOCK_CHECKSUM, LIMIT), HELLO);
  assert.deepEqual(lz4FrameDecompress(LONG_DEPENDENT, LIMIT), LONG);
  assert.deepEqual(lz4FrameDecompress(LONG_INDEPENDENT, LIMIT), LONG);
});

Deno.test("lz4 frames written here round-trip, shrink repetitive data and store incompressible blocks as is", () => {
  const random = noise(70_000);
  for (const data of [new Uint8Array(0), HELLO, LONG, random, enc.encode("x")]) {
    const frame = lz4FrameCompress(data);
    assert.deepEqual(lz4FrameDecompress(frame, LIMIT), data);
  }
  assert.ok(lz4FrameCompress(LONG).length < LONG.length / 20);
  // Header: the magic, FLG = version 01 + independent blocks (the reference tool's default without its content
  // checksum, 0x64), BD = 64 KiB blocks.
  assert.deepEqual(lz4FrameCompress(HELLO).subarray(0, 6), HELLO_DEFAULT.subarray(0, 6).with(4, 0x60));
  // Incompressible data: stored blocks (high bit of the size word).
  const stored = lz4FrameCompress(random);
  assert.equal(stored[10]! & 0x80, 0x80);
});

Deno.test("lz4 frames written here decode with the reference lz4 tool", async () => {
  for (const data of [HELLO, LONG, noise(70_000)]) {
    const child = new Deno.Command("lz4", { args: ["-d", "-c"], stdin: "piped", stdout: "piped", stderr: "piped" })
      .spawn();
    const writer = child.stdin.getWriter();
    await writer.write(lz4FrameCompress(data));
    await writer.close();
    const out = await child.output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.deepEqual(out.stdout, data);
  }
});

Deno.test("lz4 frames with a bad header, checksum, size or trailing bytes are refused with the reason", () => {
  const refuse = (frame: Uint8Array, reason: RegExp, limit = LIMIT) =>
    assert.throws(() => lz4FrameDecompress(frame, limit), (e) => e instanceof Lz4FrameError && reason.test(e.message));
  refuse(HELLO_DEFAULT.with(0, 0x05), /bad magic number/);
  refuse(HELLO_DEFAULT.with(4, 0x84), /unsupported version/);
  refuse(HELLO_DEFAULT.with(6, HELLO_DEFAULT[6]! ^ 1), /header checksum mismatch/);
  refuse(HELLO_DEFAULT.with(20, HELLO_DEFAULT[20]! ^ 0x20), /content checksum mismatch/);
  refuse(HELLO_BLOCK_CHECKSUM.with(30, HELLO_BLOCK_CHECKSUM[30]! ^ 0x20), /block checksum mismatch/);
  refuse(HELLO_DEFAULT.subarray(0, 12), /truncated block/);
  refuse(HELLO_DEFAULT.subarray(0, 5), /truncated header/);
  refuse(Uint8Array.from([...HELLO_DEFAULT, 0]), /1 bytes after the end of the frame/);
  refuse(HELLO_BLOCK_CHECKSUM, /content size 42 exceeds the limit of 10 bytes/, 10);
  refuse(LONG_INDEPENDENT, /exceeds the limit of 1000 bytes/, 1000);
  // A block size word beyond the frame's declared maximum.
  refuse(HELLO_DEFAULT.with(10, 0x01).with(9, 0x02), /exceeds the frame's maximum/);
});
