/**
 * Growable big-endian byte writer and bounds-checked reader for Kafka's wire format, including the zig-zag varints
 * of record batches. Written for the produce hot path: one buffer per request, UTF-8 encoded in place.
 * @module
 */

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder();
const TWO_32 = 4294967296;

/** Bytes a zig-zag varint of `v` (a 32-bit signed integer) takes. */
export function varintSize(v: number): number {
  let zz = ((v << 1) ^ (v >> 31)) >>> 0;
  let size = 1;
  while (zz >= 0x80) {
    zz >>>= 7;
    size++;
  }
  return size;
}

/**
 * Appends Kafka primitives to one growing buffer.
 *
 * @example
 * ```ts
 * const w = new ByteWriter();
 * w.int16(0).int32(42).string("client");
 * const bytes = w.bytes();
 * ```
 */
export class ByteWriter {
  #buf: Uint8Array;
  #view: DataView;
  /** Next byte to write. */
  pos = 0;

  constructor(capacity = 1024) {
    this.#buf = new Uint8Array(capacity);
    this.#view = new DataView(this.#buf.buffer);
  }

  /** The underlying buffer (valid until the next write that grows it). */
  get buffer(): Uint8Array {
    return this.#buf;
  }

  /** Makes room for `n` more bytes. */
  ensure(n: number): void {
    const need = this.pos + n;
    if (need <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < need) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.pos));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }

  int8(v: number): this {
    this.ensure(1);
    this.#buf[this.pos++] = v & 0xff;
    return this;
  }

  int16(v: number): this {
    this.ensure(2);
    this.#view.setInt16(this.pos, v);
    this.pos += 2;
    return this;
  }

  int32(v: number): this {
    this.ensure(4);
    this.#view.setInt32(this.pos, v);
    this.pos += 4;
    return this;
  }

  uint32(v: number): this {
    this.ensure(4);
    this.#view.setUint32(this.pos, v);
    this.pos += 4;
    return this;
  }

  /** A signed 64-bit integer given as a safe JS integer (timestamps, -1 ids). */
  int64(v: number): this {
    this.ensure(8);
    const hi = Math.floor(v / TWO_32);
    this.#view.setInt32(this.pos, hi);
    this.#view.setUint32(this.pos + 4, v - hi * TWO_32);
    this.pos += 8;
    return this;
  }

  /** Writes `v` (int16) at an earlier position, e.g. flags decided only at the end. */
  int16At(at: number, v: number): void {
    this.#view.setInt16(at, v);
  }

  /** Writes `v` (int32) at an earlier position, e.g. a length known only at the end. */
  int32At(at: number, v: number): void {
    this.#view.setInt32(at, v);
  }

  uint32At(at: number, v: number): void {
    this.#view.setUint32(at, v);
  }

  /** A zig-zag varint of a 32-bit signed integer. */
  varint(v: number): this {
    this.ensure(5);
    let zz = ((v << 1) ^ (v >> 31)) >>> 0;
    const buf = this.#buf;
    while (zz >= 0x80) {
      buf[this.pos++] = (zz & 0x7f) | 0x80;
      zz >>>= 7;
    }
    buf[this.pos++] = zz;
    return this;
  }

  /** A zig-zag varlong of a safe JS integer (record timestamp deltas). */
  varlong(v: number): this {
    if (v >= -0x40000000 && v < 0x40000000) return this.varint(v);
    this.ensure(10);
    let zz = v >= 0 ? v * 2 : -v * 2 - 1;
    const buf = this.#buf;
    while (zz >= 0x80) {
      buf[this.pos++] = (zz % 0x80) | 0x80;
      zz = Math.floor(zz / 0x80);
    }
    buf[this.pos++] = zz;
    return this;
  }

  /** An int16-length string (null as -1), the request-level string type. */
  string(s: string | null): this {
    if (s === null) return this.int16(-1);
    const at = this.pos;
    this.pos += 2;
    const n = this.#utf8(s);
    this.#view.setInt16(at, n);
    return this;
  }

  /** A varint-length UTF-8 string or byte array (null as -1), the record-level type. */
  varBytes(v: string | Uint8Array | null): this {
    if (v === null) return this.varint(-1);
    if (typeof v !== "string") {
      this.varint(v.byteLength);
      this.ensure(v.byteLength);
      this.#buf.set(v, this.pos);
      this.pos += v.byteLength;
      return this;
    }
    // The UTF-8 length is at most 3 * s.length: reserve that length's prefix, encode the string straight into
    // place, and close the gap in the rare case the real length needs a shorter prefix.
    const high = varintSize(v.length * 3);
    const at = this.pos;
    this.pos += high;
    const n = this.#utf8(v);
    const size = varintSize(n);
    if (size !== high) {
      this.#buf.copyWithin(at + size, at + high, this.pos);
      this.pos -= high - size;
    }
    const end = this.pos;
    this.pos = at;
    this.varint(n);
    this.pos = end;
    return this;
  }

  /** Raw bytes. */
  raw(v: Uint8Array): this {
    this.ensure(v.byteLength);
    this.#buf.set(v, this.pos);
    this.pos += v.byteLength;
    return this;
  }

  /** The bytes written so far (a view, not a copy). */
  bytes(): Uint8Array {
    return this.#buf.subarray(0, this.pos);
  }

  /** Moves bytes [from, this.pos) by `delta` (negative: towards the start) and adjusts the position. */
  shift(from: number, delta: number): void {
    if (delta === 0) return;
    if (delta > 0) this.ensure(delta);
    this.#buf.copyWithin(from + delta, from, this.pos);
    this.pos += delta;
  }

  #utf8(s: string): number {
    const n = s.length;
    this.ensure(n * 3);
    const buf = this.#buf;
    const start = this.pos;
    // Short strings (keys, header names and values) are mostly ASCII: copying them here is several times cheaper
    // than a call into the native encoder; the first non-ASCII character hands the rest to the encoder.
    if (n <= 64) {
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[start + i] = c;
      }
      if (i === n) {
        this.pos = start + n;
        return n;
      }
      const { written } = utf8Encoder.encodeInto(s.slice(i), buf.subarray(start + i));
      this.pos = start + i + written;
      return i + written;
    }
    const { written } = utf8Encoder.encodeInto(s, buf.subarray(start));
    this.pos = start + written;
    return written;
  }
}

/** A response that ends early or holds an impossible length: the connection's framing can no longer be trusted. */
export class MalformedResponseError extends Error {
  override name = "MalformedResponseError";
}

/**
 * Reads Kafka primitives from one response frame; every read is bounds-checked and throws
 * {@link MalformedResponseError} past the end.
 */
export class ByteReader {
  readonly #buf: Uint8Array;
  readonly #view: DataView;
  pos = 0;

  constructor(buf: Uint8Array) {
    this.#buf = buf;
    this.#view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  get remaining(): number {
    return this.#buf.byteLength - this.pos;
  }

  #need(n: number): void {
    if (this.pos + n > this.#buf.byteLength) {
      throw new MalformedResponseError(
        `response ends early: need ${n} bytes at ${this.pos} of ${this.#buf.byteLength}`,
      );
    }
  }

  int8(): number {
    this.#need(1);
    return this.#view.getInt8(this.pos++);
  }

  int16(): number {
    this.#need(2);
    const v = this.#view.getInt16(this.pos);
    this.pos += 2;
    return v;
  }

  int32(): number {
    this.#need(4);
    const v = this.#view.getInt32(this.pos);
    this.pos += 4;
    return v;
  }

  int64(): bigint {
    this.#need(8);
    const v = this.#view.getBigInt64(this.pos);
    this.pos += 8;
    return v;
  }

  /** An int16-length string; null for -1. */
  nullableString(): string | null {
    const n = this.int16();
    if (n < 0) return null;
    this.#need(n);
    const s = utf8Decoder.decode(this.#buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return s;
  }

  string(): string {
    const s = this.nullableString();
    if (s === null) throw new MalformedResponseError(`null string at ${this.pos - 2}`);
    return s;
  }

  /** An int32-length byte array (a view into the frame, valid while it is); null for -1. */
  nullableBytes(): Uint8Array | null {
    const n = this.int32();
    if (n < 0) return null;
    this.#need(n);
    const v = this.#buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  /** An int32 element count, checked against the bytes left (each element takes at least `minSize` bytes). */
  count(minSize = 1): number {
    const n = this.int32();
    if (n < 0) return 0;
    if (n * minSize > this.remaining) {
      throw new MalformedResponseError(`array of ${n} elements cannot fit in ${this.remaining} bytes`);
    }
    return n;
  }
}
