// Types of npm:snappyjs@0.7.0 (plain JavaScript, shipped without types).

/** Raw Snappy block of `uncompressed`. */
export function compress(uncompressed: Uint8Array): Uint8Array;

/** Decodes a raw Snappy block; throws when it is invalid or declares more than `maxLength` bytes. */
export function uncompress(compressed: Uint8Array, maxLength?: number): Uint8Array;
