/**
 * Compressed Kafka data through the router: kcat (librdkafka) writes gzip, snappy, lz4 and zstd batches to the
 * ingestion topic, the router routes every record unchanged and writes its own batches with the same codec, and kcat
 * reads them back. A batch that cannot be decoded stops the router with the reason, the metric and exit 1, and
 * nothing after it is routed.
 * @module
 */
import assert from "node:assert/strict";
import { UndecodableBatchError } from "../lib/kafka/kafkajs/consumer.ts";
import { ByteWriter } from "../lib/kafka/wire/bytes.ts";
import { BrokerConnection } from "../lib/kafka/wire/connection.ts";
import { crc32c } from "../lib/kafka/wire/crc32c.ts";
import { ApiKey, beginRequest, decodeProduce, endRequest, writeRecordBatch } from "../lib/kafka/wire/protocol.ts";
import { startRouter } from "../lib/router/service.ts";
import { metricValue, routerTestConfig } from "../testing/houston.ts";
import {
  kcatBatches,
  kcatProduce,
  kcatRead,
  type MockKafkaCluster,
  spawnMockRouter,
  startKafka,
  testLogger,
  uniqueTopic,
  withTimeout,
} from "../testing/harness.ts";

const enc = new TextEncoder();
const CODECS = ["gzip", "snappy", "lz4", "zstd"] as const;

/** Similar events, so that batches of them compress (librdkafka sends a batch that would not shrink as is). */
function events(n: number, tag: string): { key: string; value: string }[] {
  return Array.from({ length: n }, (_, i) => ({
    key: `${tag}-k${i}`,
    value: JSON.stringify({
      appId: `app-${i % 5}`,
      messageId: `${tag}-${i}`,
      event: "Product Viewed",
      properties: { sku: `SKU-${i % 17}`, note: "caf\u00e9 \u2603" },
    }),
  }));
}

for (const codec of CODECS) {
  Deno.test({
    name: `router routes ${codec}-compressed input byte for byte and writes ${codec} batches that kcat reads back`,
    // kafkajs leaves socket/timer ops behind on disconnect that Deno's sanitizers attribute to the test.
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      using kafka = startKafka();
      const ingest = uniqueTopic("ingest");
      const [seg, amp] = [uniqueTopic("seg"), uniqueTopic("amp")];
      kafka.createTopic(ingest, 3);
      kafka.createTopic(seg, 2);
      kafka.createTopic(amp, 2);
      const input = events(200, codec);
      await kcatProduce(kafka.bootstrapServers, ingest, input, { compression: codec, headers: { "x-trace": "t-1" } });
      // The input really is compressed on the topic, as librdkafka reads it back.
      const inputBatches = await kcatBatches(kafka.bootstrapServers, ingest);
      assert.equal(inputBatches.reduce((n, b) => n + b.messages, 0), 200);
      assert.ok(inputBatches.every((b) => b.codec === codec), JSON.stringify(inputBatches));

      const config = routerTestConfig({
        bootstrap: kafka.bootstrapServers,
        ingestionTopic: ingest,
        groupId: uniqueTopic("group"),
        integrations: [{ name: "Segment", topic: seg }, { name: "Amplitude", topic: amp }],
        compression: codec,
      });
      const router = await startRouter(config, { logger: testLogger() });
      try {
        for (const topic of [seg, amp]) {
          const got = await kcatRead(kafka.bootstrapServers, topic, { expected: 200, timeoutMs: 30_000 });
          const byKey = new Map(got.map((m) => [m.key, m]));
          assert.equal(byKey.size, 200);
          for (const e of input) {
            const m = byKey.get(e.key);
            assert.ok(m !== undefined, `${e.key} missing on ${topic}`);
            assert.deepEqual(m.valueBytes, enc.encode(e.value));
            assert.deepEqual(m.headerList, [["x-trace", enc.encode("t-1")]]);
          }
          const written = await kcatBatches(kafka.bootstrapServers, topic);
          assert.ok(written.length > 0 && written.every((b) => b.codec === codec), JSON.stringify(written));
        }
        assert.deepEqual(router.ready(), { consumer: true, kafka: true });
      } finally {
        await router.stop();
      }
    },
  });
}

/**
 * Writes one record batch of `count` records to `topic` partition 0 with a broken compressed section (the batch's
 * CRC-32C made to match, so only decompression can tell), or with codec id 5, which Kafka does not define.
 */
async function produceBrokenBatch(bootstrap: string, topic: string, how: "corrupt-gzip" | "unknown-codec") {
  const records = events(5, "broken").map((e) => ({ key: e.key, value: e.value }));
  const bw = new ByteWriter(4096);
  writeRecordBatch(bw, records, [0, 1, 2, 3, 4], Date.now(), 0, Infinity, "gzip");
  const batch = bw.bytes().slice();
  const view = new DataView(batch.buffer);
  assert.equal(view.getInt16(21) & 7, 1, "the fixture batch is gzip-compressed");
  if (how === "corrupt-gzip") {
    for (let i = 61 + 12; i < batch.length - 12; i += 3) batch[i] = batch[i]! ^ 0x5a; // deflate data, not its header
  } else {
    view.setInt16(21, 5);
  }
  view.setUint32(17, crc32c(batch, 21));

  const [host, port] = bootstrap.split(",")[0]!.split(":") as [string, string];
  const conn = await BrokerConnection.open({
    host,
    port: Number(port),
    connectTimeoutMs: 2000,
    requestTimeoutMs: 5000,
  });
  try {
    const id = conn.nextCorrelationId();
    const w = beginRequest(ApiKey.Produce, 3, id, "test-broken-batch");
    w.string(null).int16(1).int32(5000).int32(1).string(topic).int32(1).int32(0).int32(batch.length).raw(batch);
    const [answer] = await conn.request(id, endRequest(w), decodeProduce);
    assert.equal(answer?.errorCode, 0, "the broker took the broken batch");
  } finally {
    conn.close();
  }
}

/** A one-partition ingestion topic holding `before` good events, then a broken batch; and an output topic. */
async function topicsWithBrokenBatch(kafka: MockKafkaCluster, before: number, how: "corrupt-gzip" | "unknown-codec") {
  const ingest = uniqueTopic("ingest");
  const seg = uniqueTopic("seg");
  kafka.createTopic(ingest, 1);
  kafka.createTopic(seg, 1);
  await kcatProduce(kafka.bootstrapServers, ingest, events(before, "before"), { compression: "snappy" });
  await produceBrokenBatch(kafka.bootstrapServers, ingest, how);
  return { ingest, seg };
}

Deno.test({
  name: "an undecodable batch stops the consumer with topic, partition, offset and reason; nothing after it is routed",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    using kafka = startKafka(1);
    const { ingest, seg } = await topicsWithBrokenBatch(kafka, 10, "corrupt-gzip");
    await kcatProduce(kafka.bootstrapServers, ingest, events(10, "after"), { compression: "snappy" });

    const groupId = uniqueTopic("group");
    const config = routerTestConfig({
      bootstrap: kafka.bootstrapServers,
      ingestionTopic: ingest,
      groupId,
      integrations: [{ name: "Segment", topic: seg }],
    });
    const router = await startRouter(config, { logger: testLogger() });
    try {
      const error = await withTimeout(router.fatal.catch((e) => e), 30_000, "the router to fail");
      assert.ok(error instanceof UndecodableBatchError, String(error));
      assert.equal(error.topic, ingest);
      assert.equal(error.partition, 0);
      assert.equal(error.batch.firstOffset, "10");
      assert.equal(error.batch.lastOffset, "14");
      assert.match(error.message, new RegExp(`${ingest} partition 0 at offset 10 .*gzip decompression failed`));
      assert.match(error.message, new RegExp(`reset group ${groupId} on ${ingest}:0 to offset 15`));
      assert.equal(await metricValue(router.registry, "event_router_undecodable_batches", { topic: ingest }), 1);
      assert.equal(router.ready().consumer, false);
      // Exactly the ten records before the batch were routed, and nothing after it.
      await new Promise((r) => setTimeout(r, 1500));
      const got = await kcatRead(kafka.bootstrapServers, seg, { timeoutMs: 15_000 });
      assert.deepEqual(got.map((m) => m.key).sort(), events(10, "before").map((e) => e.key).sort());
    } finally {
      await router.stop();
    }
  },
});

Deno.test({
  name: "the router process exits 1 on a batch with an unknown codec, with one error line naming where and why",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    using kafka = startKafka(1);
    const { ingest, seg } = await topicsWithBrokenBatch(kafka, 3, "unknown-codec");
    const router = spawnMockRouter(`Segment:${seg}`, {
      ER_BOOTSTRAP_SERVERS: kafka.bootstrapServers,
      ER_KAFKA_GROUP_ID: uniqueTopic("group"),
      ER_KAFKA_INGESTION_TOPIC: ingest,
    });
    const { code, text } = await withTimeout(router.exit(), 60_000, "the router to exit");
    const lines = text.split("\n");
    const errors = lines.filter((l) => l.includes('"level":"error"'));
    assert.equal(code, 1, lines.slice(-20).join("\n"));
    assert.equal(errors.length, 1, errors.join("\n"));
    assert.match(errors[0]!, new RegExp(`${ingest} partition 0 at offset 3 .*unknown compression codec id 5`));
  },
});
