// Types of npm:lz4js@0.2.0/xxh32.js (plain JavaScript, shipped without types).

/** xxHash32 of `src[sIndex, sIndex + sLength)` with `seed`, as a signed 32-bit integer. */
export function hash(seed: number, src: Uint8Array, sIndex: number, sLength: number): number;
