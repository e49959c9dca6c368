// Types of the parts of npm:lz4js@0.2.0 (plain JavaScript, shipped without types) that lz4_frame.ts uses.

/** Compresses `src[sIndex, sIndex + sLength)` as one LZ4 block into `dst`; returns its size, 0 when not worth it. */
export function compressBlock(
  src: Uint8Array,
  dst: Uint8Array,
  sIndex: number,
  sLength: number,
  hashTable: Uint32Array,
): number;

/** Decompresses the LZ4 block `src[sIndex, sIndex + sLength)` into `dst` from `dIndex`; returns the new end. */
export function decompressBlock(
  src: Uint8Array,
  dst: Uint8Array,
  sIndex: number,
  sLength: number,
  dIndex: number,
): number;

/** An upper bound of the compressed size of `n` bytes. */
export function compressBound(n: number): number;
