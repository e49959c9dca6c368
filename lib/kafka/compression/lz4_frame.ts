/**
 * The LZ4 frame format (lz4 frame spec 1.6.x) that Kafka uses for lz4-compressed magic-2 record batches, around the
 * block codec of npm:lz4js. The frame layer is ours because lz4js reads frames without checking them (header
 * checksum, sizes, flags), and a consumer must refuse a bad frame with a reason instead of returning garbage.
 *
 * Frame layout (little-endian):
 * ```
 * magic u32 = 0x184D2204
 * FLG u8:  version(2 bits, 01) | block independence | block checksum | content size | content checksum | 0 | dict id
 * BD u8:   0 | block max size (3 bits: 4 = 64 KiB .. 7 = 4 MiB) | 0000
 * [content size u64]            when FLG has content size
 * [dict id u32]                 when FLG has dict id (refused here)
 * HC u8 = (xxh32(FLG..) >> 8) & 0xff
 * blocks: size u32 (high bit: stored uncompressed), data, [xxh32 u32 when block checksum]
 * end mark u32 = 0
 * [xxh32 of the content u32]    when FLG has content checksum
 * ```
 * @module
 */
// @ts-types="./_lz4js.d.ts"
import { compressBlock, compressBound, decompressBlock } from "lz4js";
// @ts-types="./_xxh32.d.ts"
import { hash as xxh32 } from "lz4js/xxh32.js";

const MAGIC = 0x184d2204;
const FLG_VERSION = 0x40;
const FLG_VERSION_MASK = 0xc0;
const FLG_BLOCK_INDEPENDENT = 0x20;
const FLG_BLOCK_CHECKSUM = 0x10;
const FLG_CONTENT_SIZE = 0x08;
const FLG_CONTENT_CHECKSUM = 0x04;
const FLG_RESERVED = 0x02;
const FLG_DICT_ID = 0x01;
const BLOCK_UNCOMPRESSED = 0x80000000;
/** Block maximum sizes by the BD byte's index. */
const BLOCK_MAX: Record<number, number> = { 4: 64 << 10, 5: 256 << 10, 6: 1 << 20, 7: 4 << 20 };
/** Blocks written here: 64 KiB, what Kafka's Java producer writes too. */
const WRITE_BLOCK_INDEX = 4;
const WRITE_BLOCK_MAX = 64 << 10;

/** Why an LZ4 frame could not be read. */
export class Lz4FrameError extends Error {
  constructor(message: string) {
    super(`lz4 frame: ${message}`);
    this.name = "Lz4FrameError";
  }
}

/** Reused between calls: the frame functions are synchronous, so one thread never shares them. */
const hashTable = new Uint32Array(1 << 16);
const blockOut = new Uint8Array(compressBound(WRITE_BLOCK_MAX));

/**
 * Compresses `data` into one LZ4 frame of independent 64 KiB blocks without checksums (the batch's CRC-32C already
 * covers the bytes), storing a block as is when compression does not shrink it.
 *
 * @example
 * ```ts
 * const frame = lz4FrameCompress(new TextEncoder().encode("aaaaaaaaaaaaaaaaaaaaaaaa"));
 * ```
 */
export function lz4FrameCompress(data: Uint8Array): Uint8Array {
  const blocks = Math.ceil(data.length / WRITE_BLOCK_MAX);
  const out = new Uint8Array(7 + blocks * (4 + WRITE_BLOCK_MAX) + 4);
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC, true);
  out[4] = FLG_VERSION | FLG_BLOCK_INDEPENDENT;
  out[5] = WRITE_BLOCK_INDEX << 4;
  out[6] = (xxh32(0, out, 4, 2) >> 8) & 0xff;
  let pos = 7;
  for (let from = 0; from < data.length; from += WRITE_BLOCK_MAX) {
    const length = Math.min(WRITE_BLOCK_MAX, data.length - from);
    // Independent blocks: no match may point into an earlier block, so each block starts with an empty table.
    hashTable.fill(0);
    const size = compressBlock(data, blockOut, from, length, hashTable);
    if (size > 0 && size < length) {
      view.setUint32(pos, size, true);
      out.set(blockOut.subarray(0, size), pos + 4);
      pos += 4 + size;
    } else {
      view.setUint32(pos, (length | BLOCK_UNCOMPRESSED) >>> 0, true);
      out.set(data.subarray(from, from + length), pos + 4);
      pos += 4 + length;
    }
  }
  view.setUint32(pos, 0, true);
  return out.subarray(0, pos + 4);
}

/**
 * Decompresses one LZ4 frame, checking its header, checksums and sizes; throws {@link Lz4FrameError} naming the
 * problem, or when the content would exceed `maxBytes`.
 *
 * @example
 * ```ts
 * const data = lz4FrameDecompress(frame, 64 << 20);
 * ```
 */
export function lz4FrameDecompress(frame: Uint8Array, maxBytes: number): Uint8Array {
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const need = (at: number, n: number, what: string) => {
    if (at + n > frame.length) throw new Lz4FrameError(`truncated ${what} at byte ${at} of ${frame.length}`);
  };
  need(0, 7, "header");
  if (view.getUint32(0, true) !== MAGIC) {
    throw new Lz4FrameError(`bad magic number 0x${view.getUint32(0, true).toString(16)}`);
  }
  const flg = frame[4]!;
  const bd = frame[5]!;
  if ((flg & FLG_VERSION_MASK) !== FLG_VERSION) throw new Lz4FrameError(`unsupported version ${flg >> 6}`);
  if ((flg & FLG_RESERVED) !== 0 || (bd & 0x8f) !== 0) throw new Lz4FrameError("reserved descriptor bits are set");
  if ((flg & FLG_DICT_ID) !== 0) throw new Lz4FrameError("frames with a dictionary id are not supported");
  const blockMax = BLOCK_MAX[(bd >> 4) & 7];
  if (blockMax === undefined) throw new Lz4FrameError(`invalid block maximum size index ${(bd >> 4) & 7}`);
  let pos = 6;
  let declared: number | undefined;
  if ((flg & FLG_CONTENT_SIZE) !== 0) {
    need(pos, 8, "content size");
    const size = view.getBigUint64(pos, true);
    if (size > BigInt(maxBytes)) throw new Lz4FrameError(`content size ${size} exceeds the limit of ${maxBytes} bytes`);
    declared = Number(size);
    pos += 8;
  }
  need(pos, 1, "header checksum");
  const hc = (xxh32(0, frame, 4, pos - 4) >> 8) & 0xff;
  if (frame[pos] !== hc) throw new Lz4FrameError(`header checksum mismatch (0x${frame[pos]!.toString(16)})`);
  pos++;

  const blockChecksum = (flg & FLG_BLOCK_CHECKSUM) !== 0;
  let out = new Uint8Array(Math.min(declared ?? blockMax, maxBytes));
  let length = 0;
  for (;;) {
    need(pos, 4, "block size");
    const word = view.getUint32(pos, true);
    pos += 4;
    if (word === 0) break;
    const stored = (word & BLOCK_UNCOMPRESSED) !== 0;
    const size = word & ~BLOCK_UNCOMPRESSED;
    if (size > blockMax) throw new Lz4FrameError(`block of ${size} bytes exceeds the frame's maximum ${blockMax}`);
    need(pos, size + (blockChecksum ? 4 : 0), "block");
    if (blockChecksum && (xxh32(0, frame, pos, size) >>> 0) !== view.getUint32(pos + size, true)) {
      throw new Lz4FrameError(`block checksum mismatch at byte ${pos}`);
    }
    const room = Math.min(length + blockMax, maxBytes);
    if (out.length < room) {
      const bigger = new Uint8Array(Math.min(Math.max(out.length * 2, room), maxBytes));
      bigger.set(out.subarray(0, length));
      out = bigger;
    }
    if (stored) {
      if (length + size > maxBytes) throw new Lz4FrameError(`content exceeds the limit of ${maxBytes} bytes`);
      out.set(frame.subarray(pos, pos + size), length);
      length += size;
    } else {
      // lz4js does not bounds-check: writes past `out` are dropped and its end index still advances, which is
      // how an overlong block shows.
      const end = decompressBlock(frame, out, pos, size, length);
      if (!(end >= length) || end - length > blockMax || end > out.length) {
        throw new Lz4FrameError(
          end > out.length && out.length >= maxBytes
            ? `content exceeds the limit of ${maxBytes} bytes`
            : `corrupt block at byte ${pos}`,
        );
      }
      length = end;
    }
    pos += size + (blockChecksum ? 4 : 0);
  }
  if ((flg & FLG_CONTENT_CHECKSUM) !== 0) {
    need(pos, 4, "content checksum");
    if ((xxh32(0, out, 0, length) >>> 0) !== view.getUint32(pos, true)) {
      throw new Lz4FrameError("content checksum mismatch");
    }
    pos += 4;
  }
  if (declared !== undefined && declared !== length) {
    throw new Lz4FrameError(`content is ${length} bytes, the header declared ${declared}`);
  }
  if (pos !== frame.length) throw new Lz4FrameError(`${frame.length - pos} bytes after the end of the frame`);
  return out.subarray(0, length);
}
