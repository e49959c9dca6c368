/**
 * AckConsumer against the mock cluster: offsets are committed only after the handler finished, survive a consumer
 * restart without loss or skips, and a failing message is retried in place.
 * @module
 */
import assert from "node:assert/strict";
import type { Admin, Kafka } from "kafkajs";
import { createKafka } from "../lib/kafka/kafkajs/client.ts";
import { AckConsumer, type MessagePosition } from "../lib/kafka/kafkajs/consumer.ts";
import { WireProducer } from "../lib/kafka/wire_producer.ts";
import {
  type Deferred,
  deferred,
  KafkaApiKey,
  KafkaErrorCode,
  type MockKafkaCluster,
  startKafka,
  testLogger,
  uniqueTopic,
  waitUntil,
  withTimeout,
} from "../testing/harness.ts";

const decoder = new TextDecoder();
const positionKey = (p: { partition: number; offset: string }) => `${p.partition}/${p.offset}`;

/** Produces `count` keyless messages `m-<i>` and returns, per partition, how many it received. */
async function produce(brokers: string[], topic: string, count: number): Promise<Map<number, number>> {
  const producer = new WireProducer({ brokers, clientId: "consumer-test-input", logger: testLogger() });
  await producer.connect();
  try {
    const records = Array.from({ length: count }, (_, i) => ({ topic, value: `m-${i}` }));
    const sizes = new Map<number, number>();
    for (const d of await producer.send(records)) {
      if (!d.ok) throw new Error(`produce to ${topic} failed: ${d.error.message}`);
      sizes.set(d.partition, (sizes.get(d.partition) ?? 0) + 1);
    }
    return sizes;
  } finally {
    await producer.disconnect();
  }
}

/** The group's committed offset per partition (-1 when none). */
async function committed(admin: Admin, groupId: string, topic: string): Promise<Map<number, number>> {
  const [res] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return new Map((res?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
}

function setup(brokers = 3): { cluster: MockKafkaCluster; kafka: Kafka } {
  const cluster = startKafka(brokers);
  const kafka = createKafka({ brokers: cluster.brokers, clientId: "consumer-test", logger: testLogger() });
  return { cluster, kafka };
}

Deno.test("AckConsumer commits only finished messages, and a restarted consumer loses and skips nothing", async () => {
  const { cluster, kafka } = setup();
  using _cluster = cluster;
  const topic = uniqueTopic("ack");
  const groupId = uniqueTopic("ack-group");
  cluster.createTopic(topic, 3);
  const sizes = await produce(cluster.brokers, topic, 300);
  assert.equal(sizes.size, 3, "messages on all 3 partitions");
  const admin = kafka.admin();
  await admin.connect();
  try {
    // First consumer: handles the partitions one after another (kafkajs' default). It finishes every message of the
    // first two partitions it gets; in the third it holds the messages at offsets 7, 17, 27, ... unfinished until
    // after it was stopped. (A held message holds up its whole batch, so these come last on purpose: kafkajs would
    // not hand a batch of another partition to a free worker while one is held up.)
    const order: number[] = [];
    const started = new Set<string>();
    const ackedByFirst = new Set<string>();
    const held: Deferred<void>[] = [];
    const allStarted = deferred();
    const first = new AckConsumer(kafka, {
      groupId,
      topics: [topic],
      fromBeginning: true,
      logger: testLogger(),
      // librdkafka 2.0.2's mock coordinator holds the next JoinGroup until a departed member's session expires,
      // even after a clean LeaveGroup; a short session keeps the restart below quick.
      sessionTimeoutMs: 3_000,
      heartbeatIntervalMs: 100,
      handle: (m) => {
        if (!order.includes(m.partition)) order.push(m.partition);
        started.add(positionKey(m));
        if (started.size === 300) allStarted.resolve();
        if (m.partition === order[2] && Number(m.offset) % 10 === 7) {
          const d = deferred();
          held.push(d);
          return d.promise;
        }
        ackedByFirst.add(positionKey(m));
        return Promise.resolve();
      },
    });
    assert.equal(first.ready, false);
    await first.start();
    await withTimeout(allStarted.promise, 20_000, "the first consumer to receive all 300 messages");
    assert.equal(first.ready, true, "joined its group");
    const heldPartition = order[2]!;
    const expectedCommit = new Map([...sizes].map(([p, size]) => [p, p === heldPartition ? 7 : size]));

    // While the held messages are unfinished, the periodic commit reaches the first held offset and no further.
    await waitUntil(
      async () => (await committed(admin, groupId, topic)).get(heldPartition) === 7,
      10_000,
      `committed offset 7 on partition ${heldPartition}`,
    );

    const stopStarted = performance.now();
    const { pending } = await withTimeout(first.stop({ deadlineMs: 300 }), 15_000, "the first consumer to stop");
    const stopTook = performance.now() - stopStarted;
    assert.ok(stopTook >= 250, `stop waited for the deadline (${Math.round(stopTook)} ms)`);
    assert.equal(first.ready, false);
    const heldPositions: MessagePosition[] = [];
    for (let o = 7; o < sizes.get(heldPartition)!; o += 10) {
      heldPositions.push({ topic, partition: heldPartition, offset: String(o) });
    }
    assert.deepEqual(pending, heldPositions, "stop reports exactly the unfinished messages");
    assert.deepEqual(await committed(admin, groupId, topic), expectedCommit, "committed: 7 where held, else all");
    // Finishing them now is too late to count; it must not disturb anything.
    for (const d of held) d.resolve();

    // Second consumer in the same group: starts at the committed offsets.
    const seenBySecond: string[] = [];
    const expectedSecond = sizes.get(heldPartition)! - 7;
    const secondDone = deferred();
    const second = new AckConsumer(kafka, {
      groupId,
      topics: [topic],
      fromBeginning: true,
      logger: testLogger(),
      handle: (m) => {
        seenBySecond.push(positionKey(m));
        assert.equal(decoder.decode(m.value ?? new Uint8Array()).startsWith("m-"), true);
        if (seenBySecond.length === expectedSecond) secondDone.resolve();
        return Promise.resolve();
      },
    });
    await second.start();
    try {
      await withTimeout(secondDone.promise, 20_000, `the second consumer to receive ${expectedSecond} messages`);
    } finally {
      assert.deepEqual((await second.stop({ deadlineMs: 2_000 })).pending, []);
    }

    assert.equal(new Set(seenBySecond).size, seenBySecond.length, "the second consumer saw each message once");
    for (const key of seenBySecond) {
      const [partition, offset] = key.split("/").map(Number);
      assert.ok(offset! >= expectedCommit.get(partition!)!, `nothing below the committed offset came again (${key})`);
    }
    for (const p of heldPositions) assert.ok(seenBySecond.includes(positionKey(p)), `unfinished ${positionKey(p)}`);
    const union = new Set([...ackedByFirst, ...seenBySecond]);
    for (const [partition, size] of sizes) {
      for (let o = 0; o < size; o++) assert.ok(union.has(`${partition}/${o}`), `offset ${partition}/${o} handled`);
    }
    assert.equal(union.size, 300);
    assert.deepEqual(await committed(admin, groupId, topic), sizes, "every partition committed to its end");
  } finally {
    await admin.disconnect();
  }
});

Deno.test("AckConsumer retries a rejected message in place and never commits past it", async () => {
  const { cluster, kafka } = setup(1);
  using _cluster = cluster;
  const topic = uniqueTopic("retry");
  const groupId = uniqueTopic("retry-group");
  cluster.createTopic(topic, 1);
  await produce(cluster.brokers, topic, 20);
  const admin = kafka.admin();
  await admin.connect();
  try {
    const attempts = new Map<string, number>();
    let committedWhenRetrySucceeded = -2;
    const allDone = deferred();
    const finished = new Set<string>();
    const consumer = new AckConsumer(kafka, {
      groupId,
      topics: [topic],
      fromBeginning: true,
      logger: testLogger(),
      heartbeatIntervalMs: 100,
      retryInitialMs: 150,
      handle: async (m) => {
        const n = (attempts.get(m.offset) ?? 0) + 1;
        attempts.set(m.offset, n);
        if (m.offset === "5") {
          if (n <= 3) throw new Error(`handler failure ${n} of offset 5`);
          // By now the periodic commits ran several times while offset 5 was failing.
          committedWhenRetrySucceeded = (await committed(admin, groupId, topic)).get(0) ?? -1;
        }
        finished.add(m.offset);
        if (finished.size === 20) allDone.resolve();
      },
    });
    await consumer.start();
    try {
      await withTimeout(allDone.promise, 20_000, "all 20 messages to be handled");
    } finally {
      assert.deepEqual((await consumer.stop({ deadlineMs: 2_000 })).pending, []);
    }
    assert.equal(attempts.get("5"), 4, "offset 5 handled again after each of its 3 failures");
    for (let o = 0; o < 20; o++) {
      if (o !== 5) assert.equal(attempts.get(String(o)), 1, `offset ${o} handled once`);
    }
    assert.equal(committedWhenRetrySucceeded, 5, "while offset 5 failed, the commit stopped right before it");
    assert.equal((await committed(admin, groupId, topic)).get(0), 20, "everything committed at the end");
  } finally {
    await admin.disconnect();
  }
});

Deno.test("AckConsumer start and stop", async (t) => {
  const { cluster, kafka } = setup(1);
  using _cluster = cluster;
  const topic = uniqueTopic("lifecycle");
  cluster.createTopic(topic, 1);

  await t.step("stop before start resolves with nothing pending", async () => {
    const consumer = new AckConsumer(kafka, {
      groupId: uniqueTopic("never-started"),
      topics: [topic],
      logger: testLogger(),
      handle: () => Promise.resolve(),
    });
    assert.deepEqual(await consumer.stop(), { pending: [] });
    await assert.rejects(consumer.start(), /was stopped/);
  });

  await t.step("ready while a member of the group; stop is idempotent", async () => {
    const consumer = new AckConsumer(kafka, {
      groupId: uniqueTopic("lifecycle-group"),
      topics: [topic],
      logger: testLogger(),
      handle: () => Promise.resolve(),
    });
    await consumer.start();
    await waitUntil(() => consumer.ready, 10_000, "the consumer to join its group");
    const [a, b] = await Promise.all([consumer.stop(), consumer.stop()]);
    assert.deepEqual(a, { pending: [] });
    assert.equal(a, b);
    assert.equal(consumer.ready, false);
  });

  await t.step("an empty topic list is refused", () => {
    assert.throws(
      () => new AckConsumer(kafka, { groupId: "g", topics: [], logger: testLogger(), handle: () => Promise.resolve() }),
      /topics must not be empty/,
    );
  });
});

Deno.test("AckConsumer retries an offset commit that failed with a retriable error", async () => {
  const { cluster, kafka } = setup(1);
  using _cluster = cluster;
  const topic = uniqueTopic("commit-retry");
  const groupId = uniqueTopic("commit-retry-group");
  cluster.createTopic(topic, 1);
  await produce(cluster.brokers, topic, 10);
  const admin = kafka.admin();
  await admin.connect();
  try {
    let handled = 0;
    const allDone = deferred();
    const consumer = new AckConsumer(kafka, {
      groupId,
      topics: [topic],
      fromBeginning: true,
      logger: testLogger(),
      handle: () => {
        if (++handled === 10) allDone.resolve();
        return Promise.resolve();
      },
    });
    // The batch's commit meets these first; the partition then stays idle, so only a retry can commit it.
    cluster.pushRequestErrors(KafkaApiKey.OffsetCommit, [
      KafkaErrorCode.REQUEST_TIMED_OUT,
      KafkaErrorCode.REQUEST_TIMED_OUT,
    ]);
    await consumer.start();
    try {
      await withTimeout(allDone.promise, 20_000, "all 10 messages to be handled");
      await waitUntil(
        async () => (await committed(admin, groupId, topic)).get(0) === 10,
        10_000,
        "the commit of offset 10 despite two failed attempts",
      );
    } finally {
      await consumer.stop({ deadlineMs: 2_000 });
    }
    assert.equal(handled, 10);
  } finally {
    await admin.disconnect();
  }
});
