/**
 * Which partition a record goes to, as kafkajs' default partitioner (and the Java client, for keyed records) decides:
 * murmur2 of the key modulo the partition count; keyless records round robin over the partitions that have a leader.
 * Pure: the round-robin position is the caller's.
 * @module
 */
import { partitionForKey } from "./wire/murmur2.ts";

const utf8 = new TextEncoder();

/**
 * The partition of a record with `key` in a topic whose partition leaders are `leaders` (-1: no leader now).
 * `turn` is the caller's round-robin counter for the topic (used for keyless records only).
 *
 * @example
 * ```ts
 * choosePartition("user-1", [1, 2, 3], 0); // the same partition for "user-1" every time
 * choosePartition(null, [1, -1, 3], 1);    // 2: the second partition that has a leader
 * ```
 */
export function choosePartition(
  key: string | Uint8Array | null | undefined,
  leaders: readonly number[],
  turn: number,
): number {
  const n = leaders.length;
  if (key !== undefined && key !== null) return partitionForKey(typeof key === "string" ? utf8.encode(key) : key, n);
  let available = 0;
  for (let p = 0; p < n; p++) if (leaders[p]! >= 0) available++;
  if (available === 0) return turn % n;
  let pick = turn % available;
  for (let p = 0; p < n; p++) {
    if (leaders[p]! < 0) continue;
    if (pick-- === 0) return p;
  }
  return turn % n; // not reached
}
