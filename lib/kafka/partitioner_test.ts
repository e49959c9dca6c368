/**
 * The partitioner: keyed records by murmur2 like kafkajs' default partitioner, keyless ones round robin over the
 * partitions that have a leader.
 * @module
 */
import assert from "node:assert/strict";
import { Partitioners } from "kafkajs";
import type { PartitionMetadata } from "kafkajs";
import { choosePartition } from "./partitioner.ts";

Deno.test("keyed records land where kafkajs' default partitioner puts them, leaders or not", () => {
  const kafkajs = Partitioners.DefaultPartitioner();
  for (const n of [1, 3, 7, 12]) {
    const partitionMetadata = Array.from(
      { length: n },
      (_, i) => ({ partitionId: i, leader: i }),
    ) as PartitionMetadata[];
    for (const key of ["a", "user-1", "caf\u00e9", "1001", ""]) {
      const expected = kafkajs({ topic: "t", partitionMetadata, message: { key, value: null } });
      assert.equal(choosePartition(key, partitionMetadata.map((p) => p.leader), 0), expected, `${key} of ${n}`);
      assert.equal(choosePartition(new TextEncoder().encode(key), Array(n).fill(-1), 5), expected);
    }
  }
});

Deno.test("keyless records go round robin over the partitions that have a leader", () => {
  assert.deepEqual([0, 1, 2, 3].map((turn) => choosePartition(null, [4, 5, 6], turn)), [0, 1, 2, 0]);
  assert.deepEqual([0, 1, 2, 3].map((turn) => choosePartition(undefined, [4, -1, 6], turn)), [0, 2, 0, 2]);
  // No leader anywhere: spread anyway; the send fails and retries after a metadata refresh.
  assert.deepEqual([0, 1, 2].map((turn) => choosePartition(null, [-1, -1], turn)), [0, 1, 0]);
});
