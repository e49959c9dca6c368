/**
 * Checks the Kafka test harness itself: the mock cluster serves kafkajs, and kcat and kafkajs read each other's
 * messages byte for byte.
 * @module
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import type { IHeaders, KafkaMessage } from "kafkajs";
import { createKafka } from "../lib/kafka/kafkajs/client.ts";
import type { OutboundRecord } from "../lib/kafka/delivery.ts";
import { WireProducer } from "../lib/kafka/wire_producer.ts";
import {
  deferred,
  type KcatMessage,
  kcatProduce,
  kcatRead,
  startKafka,
  testLogger,
  uniqueTopic,
  withTimeout,
} from "../testing/harness.ts";

const encoder = new TextEncoder();

function bytesOf(v: Buffer | string | null | undefined): Uint8Array | null {
  if (v === null || v === undefined) return null;
  return typeof v === "string" ? encoder.encode(v) : new Uint8Array(v);
}

function headerBytes(headers: IHeaders | undefined, name: string): Uint8Array | null {
  const v = headers?.[name];
  if (Array.isArray(v)) return bytesOf(v[v.length - 1]);
  return bytesOf(v);
}

Deno.test("mock Kafka cluster serves kafkajs and kcat", async (t) => {
  using cluster = startKafka(3);
  const kafka = createKafka({ brokers: cluster.brokers, clientId: "harness-test", logger: testLogger() });

  await t.step("starts 3 brokers with ids 1..3 on 127.0.0.1", async () => {
    assert.equal(cluster.brokers.length, 3);
    assert.equal(cluster.bootstrapServers, cluster.brokers.join(","));
    for (const b of cluster.brokers) assert.match(b, /^127\.0\.0\.1:\d+$/);
    const admin = kafka.admin();
    await admin.connect();
    try {
      const described = await admin.describeCluster();
      assert.deepEqual(described.brokers.map((b) => b.nodeId).sort(), [1, 2, 3]);
    } finally {
      await admin.disconnect();
    }
  });

  await t.step("createTopic reports librdkafka's error for a duplicate topic", () => {
    const topic = uniqueTopic("dup");
    cluster.createTopic(topic, 2);
    assert.throws(() => cluster.createTopic(topic, 2), /TOPIC_ALREADY_EXISTS/);
  });

  await t.step("a kafkajs consumer group reads what kcat wrote, with keys and headers", async () => {
    const topic = uniqueTopic("from-kcat");
    cluster.createTopic(topic, 3);
    const written = Array.from({ length: 30 }, (_, i) => ({ key: `key-${i}`, value: `value ${i} ünïcödé ✓\nline 2` }));
    written.push({ key: undefined as unknown as string, value: "no key" });
    const headers = { source: "kcat", "x-trace": "abc=123" };
    await kcatProduce(cluster.bootstrapServers, topic, written, { headers });

    const consumer = kafka.consumer({ groupId: uniqueTopic("harness-group"), maxWaitTimeInMs: 100 });
    const received: KafkaMessage[] = [];
    const all = deferred();
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        eachMessage: ({ message }) => {
          received.push(message);
          if (received.length === written.length) all.resolve();
          return Promise.resolve();
        },
      });
      await withTimeout(all.promise, 20_000, `${written.length} messages from ${topic}`);
    } finally {
      await consumer.disconnect();
    }

    const byValue = new Map(received.map((m) => [m.value?.toString("utf8"), m]));
    assert.equal(byValue.size, written.length, "every message exactly once");
    for (const w of written) {
      const m = byValue.get(w.value);
      assert.ok(m, `message ${JSON.stringify(w.value)} read by kafkajs`);
      assert.deepEqual(bytesOf(m.key), w.key === undefined ? null : encoder.encode(w.key));
      assert.deepEqual(bytesOf(m.value), encoder.encode(w.value));
      assert.deepEqual(headerBytes(m.headers, "source"), encoder.encode("kcat"));
      assert.deepEqual(headerBytes(m.headers, "x-trace"), encoder.encode("abc=123"));
    }
  });

  await t.step("kcat reads what the project's producer wrote, byte for byte", async () => {
    const topic = uniqueTopic("to-kcat");
    cluster.createTopic(topic, 3);
    const producer = new WireProducer({ brokers: cluster.brokers, clientId: "harness-test", logger: testLogger() });
    await producer.connect();
    const binary = new Uint8Array([0x00, 0xff, 0x1e, 0x0a, 0x22, 0x5c, 0x80, 0x7f]);
    const records: OutboundRecord[] = [
      { topic, key: "text-key", value: "plain text ✓", headers: { "content-type": "text/plain" } },
      { topic, key: binary, value: binary, headers: { bin: binary, text: "h ünï" } },
      { topic, key: null, value: '{"json":"with \\"quotes\\" and \\\\ backslash"}' },
      { topic, key: "empty-value", value: "" },
      { topic, key: "null-value", value: null },
      ...Array.from({ length: 20 }, (_, i) => ({ topic, key: `k${i}`, value: `v${i}` })),
    ];
    // disconnect whether or not send settles normally; send itself never rejects.
    const deliveries = await producer.send(records).finally(() => producer.disconnect());
    const delivered = deliveries.map((d, i) => {
      if (!d.ok) throw new Error(`record ${i} not delivered: ${d.error.message}`);
      return d;
    });

    const read = await kcatRead(cluster.bootstrapServers, topic, { expected: records.length, timeoutMs: 15_000 });
    assert.equal(read.length, records.length);
    for (const [i, r] of records.entries()) {
      const d = delivered[i]!;
      const m: KcatMessage | undefined = read.find((x) => x.partition === d.partition && String(x.offset) === d.offset);
      if (m === undefined) throw new Error(`record ${i} not found by kcat at ${d.partition}/${d.offset}`);
      const asBytes = (v: string | Uint8Array | null | undefined) =>
        v === null || v === undefined ? null : typeof v === "string" ? encoder.encode(v) : v;
      assert.deepEqual(m.keyBytes, asBytes(r.key), `key of record ${i}`);
      assert.deepEqual(m.valueBytes, asBytes(r.value), `value of record ${i}`);
      const expectedHeaders = Object.entries(r.headers ?? {}).map(([k, v]) => [k, asBytes(v)]);
      assert.deepEqual(m.headerList, expectedHeaders, `headers of record ${i}`);
    }
  });
});
