/**
 * Snappy as Kafka clients write it: raw Snappy blocks (librdkafka, and what this project writes) or snappy-java's
 * "xerial" framing (the Java client). The block codec is npm:snappyjs; the framing is read here.
 *
 * xerial framing (big-endian), as snappy-java's SnappyOutputStream writes it:
 * ```
 * magic 8 bytes = 0x82 'S' 'N' 'A' 'P' 'P' 'Y' 0x00
 * version i32, compatible version i32   (both 1)
 * chunks: length i32, raw Snappy block of that length   (repeated to the end)
 * ```
 * @module
 */
// @ts-types="./_snappyjs.d.ts"
import { compress, uncompress } from "snappyjs";
import { concatBytes } from "../../bytes.ts";

const XERIAL_MAGIC = [0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00] as const;
const XERIAL_HEADER_BYTES = 16;

/** Why a Snappy payload could not be read. */
export class SnappyError extends Error {
  constructor(message: string) {
    super(`snappy: ${message}`);
    this.name = "SnappyError";
  }
}

/** Compresses `data` as one raw Snappy block, as librdkafka does (Java consumers read it too). */
export function snappyCompress(data: Uint8Array): Uint8Array {
  return compress(data);
}

/** Whether `data` starts with snappy-java's stream header. */
export function isXerialFramed(data: Uint8Array): boolean {
  if (data.length < XERIAL_HEADER_BYTES) return false;
  for (let i = 0; i < XERIAL_MAGIC.length; i++) if (data[i] !== XERIAL_MAGIC[i]) return false;
  return true;
}

/**
 * Decompresses a raw Snappy block or an xerial-framed stream; throws {@link SnappyError} naming the problem, or
 * when the content would exceed `maxBytes`.
 *
 * @example
 * ```ts
 * const data = snappyDecompress(payload, 64 << 20);
 * ```
 */
export function snappyDecompress(data: Uint8Array, maxBytes: number): Uint8Array {
  if (!isXerialFramed(data)) return block(data, maxBytes, "raw block");
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (let pos = XERIAL_HEADER_BYTES; pos < data.length;) {
    if (pos + 4 > data.length) throw new SnappyError(`truncated chunk length at byte ${pos}`);
    const length = view.getInt32(pos);
    if (length < 0 || pos + 4 + length > data.length) {
      throw new SnappyError(`chunk at byte ${pos} declares ${length} bytes, ${data.length - pos - 4} remain`);
    }
    const chunk = block(data.subarray(pos + 4, pos + 4 + length), maxBytes - total, `chunk at byte ${pos}`);
    chunks.push(chunk);
    total += chunk.length;
    pos += 4 + length;
  }
  return concatBytes(chunks, total);
}

function block(data: Uint8Array, maxBytes: number, what: string): Uint8Array {
  try {
    return uncompress(data, maxBytes);
  } catch (err) {
    throw new SnappyError(`${what}: ${err instanceof Error ? err.message : String(err)}`);
  }
}
