/**
 * The compression codecs of Kafka record batches, by name (configuration) and by attribute id (the low three bits of
 * a magic-2 batch's attributes): gzip and zstd from `node:zlib`, snappy and lz4 from pure-JavaScript packages.
 * @module
 */
import { gunzipSync, gzipSync, zstdCompressSync, zstdDecompressSync } from "node:zlib";
import { lz4FrameCompress, lz4FrameDecompress } from "./lz4_frame.ts";
import { snappyCompress, snappyDecompress } from "./snappy.ts";

/** A codec name as configured (`*_KAFKA_COMPRESSION`). */
export type CompressionCodec = "none" | "gzip" | "snappy" | "lz4" | "zstd";

/** Every codec name, in attribute-id order. */
export const COMPRESSION_CODECS: readonly CompressionCodec[] = ["none", "gzip", "snappy", "lz4", "zstd"];

/** The attribute id of each codec (KIP-98 record batch attributes, bits 0-2). */
export const CODEC_ID: Readonly<Record<CompressionCodec, number>> = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 };

/** Mask of the codec bits in a record batch's attributes. */
export const CODEC_MASK = 0x07;

/**
 * Largest decompressed batch accepted. A fetch returns at most a few MiB per partition, and a batch that expands
 * beyond this is far more likely a decompression bomb than data.
 */
export const MAX_DECOMPRESSED_BYTES = 256 << 20;

/** Why a compressed batch could not be decompressed. */
export class DecompressionError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "DecompressionError";
  }
}

/**
 * Parses a codec name as given in configuration; throws an Error listing the valid ones.
 *
 * @example
 * ```ts
 * parseCompressionCodec("zstd"); // "zstd"
 * ```
 */
export function parseCompressionCodec(s: string): CompressionCodec {
  const name = s.trim().toLowerCase();
  for (const c of COMPRESSION_CODECS) if (c === name) return c;
  throw new Error(`unknown compression codec ${JSON.stringify(s)} (expected one of ${COMPRESSION_CODECS.join(", ")})`);
}

/** The codec name of an attribute id, or undefined for ids Kafka does not define (5-7). */
export function codecOfId(id: number): CompressionCodec | undefined {
  return COMPRESSION_CODECS[id];
}

/**
 * Compresses the records section of a batch with `codec` (`none` returns `data` itself).
 *
 * @example
 * ```ts
 * const bytes = compress("lz4", records);
 * ```
 */
export function compress(codec: CompressionCodec, data: Uint8Array): Uint8Array {
  switch (codec) {
    case "none":
      return data;
    case "gzip":
      return gzipSync(data);
    case "snappy":
      return snappyCompress(data);
    case "lz4":
      return lz4FrameCompress(data);
    case "zstd":
      return zstdCompressSync(data);
  }
}

/**
 * Decompresses the records section of a batch whose attributes carry codec id `id`. Throws
 * {@link DecompressionError} naming the codec and the problem; `maxBytes` bounds the output.
 *
 * @example
 * ```ts
 * const records = decompress(attributes & CODEC_MASK, payload);
 * ```
 */
export function decompress(id: number, data: Uint8Array, maxBytes = MAX_DECOMPRESSED_BYTES): Uint8Array {
  const codec = codecOfId(id);
  if (codec === undefined) throw new DecompressionError(`unknown compression codec id ${id}`);
  try {
    switch (codec) {
      case "none":
        return data;
      case "gzip":
        return gunzipSync(data, { maxOutputLength: maxBytes });
      case "snappy":
        return snappyDecompress(data, maxBytes);
      case "lz4":
        return lz4FrameDecompress(data, maxBytes);
      case "zstd":
        return zstdDecompressSync(data, { maxOutputLength: maxBytes });
    }
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new DecompressionError(`${codec} decompression failed: ${reason}`, { cause: err });
  }
}
