/**
 * The product's producer (WireProducer) against the delivery contract every service relies on, on the mock cluster:
 * per-record partitions and offsets (checked with kcat), several topics in one send, broker outages and injected
 * produce errors. (These tests were written for the kafkajs-based producer the router used before; they hold for the
 * one producer that replaced it.)
 * @module
 */
import assert from "node:assert/strict";
import type { Delivery, OutboundRecord } from "../lib/kafka/delivery.ts";
import { WireProducer } from "../lib/kafka/wire_producer.ts";
import {
  KafkaApiKey,
  KafkaErrorCode,
  type KcatMessage,
  kcatRead,
  startKafka,
  testLogger,
  uniqueTopic,
  withTimeout,
} from "../testing/harness.ts";

type Delivered = Extract<Delivery, { ok: true }>;

function expectDelivered(deliveries: Delivery[]): Delivered[] {
  return deliveries.map((d, i) => {
    if (!d.ok) throw new Error(`record ${i} to ${d.topic} not delivered: ${d.error.message}`);
    return d;
  });
}

/** Asserts that kcat finds every record at the partition and offset its delivery reported, and nothing else. */
function assertMatchesKcat(records: OutboundRecord[], delivered: Delivered[], read: KcatMessage[]): void {
  const at = new Map(read.map((m) => [`${m.topic}/${m.partition}/${m.offset}`, m]));
  assert.equal(at.size, read.length);
  for (const [i, r] of records.entries()) {
    const d = delivered[i]!;
    assert.equal(d.topic, r.topic, `topic of record ${i}`);
    const m = at.get(`${d.topic}/${d.partition}/${d.offset}`);
    if (m === undefined) {
      throw new Error(`record ${i} reported at ${d.topic}/${d.partition}/${d.offset}; kcat has none`);
    }
    assert.equal(m.value, r.value, `value at ${d.topic}/${d.partition}/${d.offset}`);
    assert.equal(m.key, r.key ?? null, `key at ${d.topic}/${d.partition}/${d.offset}`);
  }
  assert.equal(read.length, records.length, "kcat read exactly the records sent");
}

Deno.test("WireProducer reports per-record delivery", async (t) => {
  using cluster = startKafka(3);
  const logger = testLogger();
  const producer = new WireProducer({ brokers: cluster.brokers, clientId: "producer-test", logger });

  await t.step("send after disconnect reports every record failed instead of throwing", async () => {
    const closed = new WireProducer({ brokers: cluster.brokers, clientId: "producer-closed", logger });
    await closed.connect();
    await closed.disconnect();
    const topic = uniqueTopic("not-connected");
    const deliveries = await closed.send([{ topic, value: "a" }, { topic, value: "b" }]);
    assert.equal(deliveries.length, 2);
    for (const d of deliveries) {
      assert.equal(d.ok, false);
      assert.equal(d.topic, topic);
    }
  });

  await producer.connect();
  try {
    assert.equal(producer.connected, true);

    await t.step("an empty send resolves with no deliveries", async () => {
      assert.deepEqual(await producer.send([]), []);
    });

    await t.step("partitions and offsets match what kcat reads, over two sends", async () => {
      const topic = uniqueTopic("offsets");
      cluster.createTopic(topic, 3);
      const first: OutboundRecord[] = Array.from({ length: 150 }, (_, i) => ({
        topic,
        // Mix keyed and keyless records: keyless ones are spread round-robin, keyed ones by hash.
        key: i % 3 === 0 ? null : `user-${i % 17}`,
        value: `first-${i}`,
      }));
      const second: OutboundRecord[] = Array.from({ length: 150 }, (_, i) => ({
        topic,
        key: i % 2 === 0 ? null : `user-${i % 11}`,
        value: `second-${i}`,
      }));
      const d1 = expectDelivered(await producer.send(first));
      const d2 = expectDelivered(await producer.send(second));
      const all = [...first, ...second];
      const delivered = [...d1, ...d2];
      assert.equal(new Set(delivered.map((d) => d.partition)).size, 3, "records spread over all 3 partitions");
      const read = await kcatRead(cluster.bootstrapServers, topic, { expected: all.length, timeoutMs: 15_000 });
      assertMatchesKcat(all, delivered, read);
      // The same key always lands on the same partition.
      const partitionOfKey = new Map<string, number>();
      for (const [i, r] of all.entries()) {
        if (typeof r.key !== "string") continue;
        const p = partitionOfKey.get(r.key) ?? delivered[i]!.partition;
        partitionOfKey.set(r.key, p);
        assert.equal(delivered[i]!.partition, p, `key ${r.key} stays on partition ${p}`);
      }
    });

    await t.step("records for several topics in one send come back in order with their own offsets", async () => {
      const orders = uniqueTopic("orders");
      const audit = uniqueTopic("audit");
      cluster.createTopic(orders, 3);
      cluster.createTopic(audit, 1);
      const records: OutboundRecord[] = Array.from({ length: 60 }, (_, i) => ({
        topic: i % 3 === 0 ? audit : orders,
        key: `k${i}`,
        value: `multi-${i}`,
        headers: { index: String(i) },
      }));
      const delivered = expectDelivered(await producer.send(records));
      const auditOffsets = delivered.filter((d) => d.topic === audit).map((d) => Number(d.offset));
      assert.deepEqual(auditOffsets, Array.from({ length: 20 }, (_, i) => i), "single partition: offsets 0..19");
      const read = [
        ...await kcatRead(cluster.bootstrapServers, orders, { expected: 40, timeoutMs: 15_000 }),
        ...await kcatRead(cluster.bootstrapServers, audit, { expected: 20, timeoutMs: 15_000 }),
      ];
      assertMatchesKcat(records, delivered, read);
      for (const m of read) assert.equal(m.value, `multi-${m.headers.index}`);
    });

    await t.step("injected NOT_LEADER_OR_FOLLOWER errors are retried and every record lands once", async () => {
      const topic = uniqueTopic("injected");
      cluster.createTopic(topic, 3);
      // A producer of its own whose counters show that the injected errors were met, not skipped.
      const retrying = new WireProducer({ brokers: cluster.brokers, clientId: "producer-injected", logger });
      await retrying.connect();
      try {
        const records = Array.from({ length: 30 }, (_, i) => ({ topic, key: `k${i}`, value: `retried-${i}` }));
        cluster.pushRequestErrors(KafkaApiKey.Produce, [
          KafkaErrorCode.NOT_LEADER_OR_FOLLOWER,
          KafkaErrorCode.NOT_LEADER_OR_FOLLOWER,
        ]);
        const delivered = expectDelivered(
          await withTimeout(retrying.send(records), 20_000, "a send that meets two injected errors"),
        );
        assert.ok(retrying.stats.retries >= 1, `the injected errors were retried: ${JSON.stringify(retrying.stats)}`);
        const read = await kcatRead(cluster.bootstrapServers, topic, { timeoutMs: 15_000 });
        assertMatchesKcat(records, delivered, read);
      } finally {
        await retrying.disconnect();
      }
    });
  } finally {
    await producer.disconnect();
  }
  assert.equal(producer.connected, false);
});

Deno.test("WireProducer reports every record failed, in bounded time, when all brokers are down", async () => {
  using cluster = startKafka(3);
  const logger = testLogger();
  const topicA = uniqueTopic("down-a");
  const topicB = uniqueTopic("down-b");
  cluster.createTopic(topicA, 3);
  cluster.createTopic(topicB, 1);
  const producer = new WireProducer({
    brokers: cluster.brokers,
    clientId: "producer-down-test",
    logger,
    connectionTimeoutMs: 300,
    requestTimeoutMs: 1_000,
    retry: { retries: 1, initialRetryTime: 50, maxRetryTime: 200 },
    timeoutMs: 1_000,
  });
  await producer.connect();
  try {
    // Connected and with metadata for both topics, so the failure below comes from the outage alone.
    expectDelivered(await producer.send([{ topic: topicA, value: "before" }, { topic: topicB, value: "before" }]));

    cluster.setBrokerDown(-1);
    const records: OutboundRecord[] = Array.from({ length: 10 }, (_, i) => ({
      topic: i % 2 === 0 ? topicA : topicB,
      key: `k${i}`,
      value: `during-${i}`,
    }));
    const started = performance.now();
    const deliveries = await withTimeout(producer.send(records), 20_000, "send to a cluster whose brokers are down");
    const elapsed = performance.now() - started;
    assert.equal(deliveries.length, records.length);
    for (const [i, d] of deliveries.entries()) {
      assert.equal(d.ok, false, `record ${i} reported failed`);
      assert.equal(d.topic, records[i]!.topic);
      if (!d.ok) assert.ok(d.error instanceof Error && d.error.message.length > 0);
    }
    assert.ok(elapsed < 15_000, `failures reported after ${Math.round(elapsed)} ms`);

    cluster.setBrokerUp(-1);
    const after = await withTimeout(producer.send(records), 20_000, "send after the brokers came back");
    expectDelivered(after);
    const read = await kcatRead(cluster.bootstrapServers, topicA, { timeoutMs: 15_000 });
    assert.deepEqual(read.map((m) => m.value).filter((v) => v?.startsWith("during")).sort(), [
      "during-0",
      "during-2",
      "during-4",
      "during-6",
      "during-8",
    ]);
  } finally {
    cluster.setBrokerUp(-1);
    await producer.disconnect();
  }
});

Deno.test("WireProducer with acks 0 reports partitions and offset -1", async () => {
  using cluster = startKafka(1);
  const logger = testLogger();
  const topic = uniqueTopic("acks0");
  cluster.createTopic(topic, 2);
  const producer = new WireProducer({ brokers: cluster.brokers, clientId: "producer-acks0-test", logger, acks: 0 });
  await producer.connect();
  try {
    const records = Array.from({ length: 10 }, (_, i) => ({ topic, key: `k${i}`, value: `v${i}` }));
    const delivered = expectDelivered(await producer.send(records));
    for (const d of delivered) {
      assert.equal(d.offset, "-1");
      assert.ok(d.partition === 0 || d.partition === 1);
    }
    const read = await kcatRead(cluster.bootstrapServers, topic, { expected: 10, timeoutMs: 15_000 });
    for (const [i, d] of delivered.entries()) {
      assert.ok(
        read.some((m) => m.partition === d.partition && m.value === `v${i}`),
        `v${i} on partition ${d.partition}`,
      );
    }
  } finally {
    await producer.disconnect();
  }
});
