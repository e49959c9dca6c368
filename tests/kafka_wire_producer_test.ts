/**
 * WireProducer against the mock cluster: what it writes is read back byte for byte by kcat (CRCs checked),
 * keyed records land where kafkajs would put them, and retriable errors, refused and silent brokers, and
 * disconnects each end in the documented delivery result.
 * @module
 */
import assert from "node:assert/strict";
import { Partitioners } from "kafkajs";
import type { PartitionMetadata } from "kafkajs";
import { type Delivery, type OutboundRecord } from "../lib/kafka/delivery.ts";
import { WireProducer, type WireProducerOptions } from "../lib/kafka/wire_producer.ts";
import { BrokerConnection } from "../lib/kafka/wire/connection.ts";
import { decodeProduce, encodeProduce } from "../lib/kafka/wire/protocol.ts";
import {
  freePort,
  KafkaApiKey,
  KafkaErrorCode,
  type KcatMessage,
  kcatRead,
  type MockKafkaCluster,
  startKafka,
  testLogger,
  uniqueTopic,
} from "../testing/harness.ts";

type Delivered = Extract<Delivery, { ok: true }>;

function delivered(deliveries: Delivery[]): Delivered[] {
  return deliveries.map((d, i) => {
    if (!d.ok) throw new Error(`record ${i} to ${d.topic} not delivered: ${d.error.message}`);
    return d;
  });
}

function producer(cluster: MockKafkaCluster, opts: Partial<WireProducerOptions> = {}): WireProducer {
  return new WireProducer({ brokers: cluster.brokers, clientId: "wire-test", logger: testLogger(), ...opts });
}

/** kafkajs' own default partitioner, as the reference for where a keyed record belongs. */
function kafkajsPartition(topic: string, key: string, partitions: number): number {
  const partitionMetadata = Array.from({ length: partitions }, (_, partitionId) => ({
    partitionId,
    leader: 1,
  })) as unknown as PartitionMetadata[];
  return Partitioners.DefaultPartitioner()({ topic, partitionMetadata, message: { key, value: null } });
}

function bytesOf(v: string | Uint8Array | null | undefined): Uint8Array | null {
  if (v === undefined || v === null) return null;
  return typeof v === "string" ? new TextEncoder().encode(v) : v;
}

function assertSameRecord(m: KcatMessage, r: OutboundRecord, what: string): void {
  assert.deepEqual(m.keyBytes, bytesOf(r.key), `key of ${what}`);
  assert.deepEqual(m.valueBytes, bytesOf(r.value), `value of ${what}`);
  const expected = Object.entries(r.headers ?? {}).map(([k, v]) => [k, bytesOf(v)]);
  assert.deepEqual(m.headerList, expected, `headers of ${what}`);
}

Deno.test("WireProducer writes what kcat reads back, where kafkajs would partition it", async (t) => {
  using cluster = startKafka(3);
  const p = producer(cluster);
  await p.connect();
  try {
    assert.equal(p.connected, true);
    assert.deepEqual(await p.send([]), []);

    await t.step("keys, values and headers byte for byte, at the reported partition and offset", async () => {
      const topic = uniqueTopic("wire");
      cluster.createTopic(topic, 5);
      const values: (string | Uint8Array | null)[] = [
        "plain",
        "",
        null,
        "é ü — 日本語 and an emoji 😀",
        "x".repeat(63), // varint length boundaries around 64 and 8192 bytes
        "x".repeat(64),
        "é".repeat(40),
        "y".repeat(9000),
        new Uint8Array([0, 1, 2, 255, 254]),
        JSON.stringify({ authId: 1, data: { a: [1, 2, 3] } }),
      ];
      const records: OutboundRecord[] = Array.from({ length: 200 }, (_, i) => ({
        topic,
        key: i % 4 === 0 ? null : i % 4 === 1 ? `user-${i % 23}` : i % 4 === 2 ? new Uint8Array([i & 255, 7]) : "",
        value: values[i % values.length]!,
        headers: i % 3 === 0 ? undefined : {
          "kcl-client-id": "INCROWD",
          "kcl-priority": i % 2 === 0 ? "normal" : "high",
          "bin": new Uint8Array([i & 255]),
          "unicode-é": "värde",
        },
      }));
      const first = delivered(await p.send(records.slice(0, 120)));
      const second = delivered(await p.send(records.slice(120)));
      const all = [...first, ...second];
      const read = await kcatRead(cluster.bootstrapServers, topic, { expected: records.length, timeoutMs: 15_000 });
      const at = new Map(read.map((m) => [`${m.partition}/${m.offset}`, m]));
      assert.equal(at.size, records.length, "each record at its own offset");
      for (const [i, r] of records.entries()) {
        const d = all[i]!;
        assert.equal(d.topic, topic);
        const m = at.get(`${d.partition}/${d.offset}`);
        if (m === undefined) throw new Error(`record ${i} reported at ${d.partition}/${d.offset}; kcat has none`);
        assertSameRecord(m, r, `record ${i}`);
        if (typeof r.key === "string") {
          assert.equal(d.partition, kafkajsPartition(topic, r.key, 5), `partition of key ${JSON.stringify(r.key)}`);
        }
      }
      const keyless = all.filter((_, i) => records[i]!.key === null).map((d) => d.partition);
      assert.ok(new Set(keyless).size > 1, "keyless records are spread over partitions");
    });

    await t.step("a partition's records beyond maxBatchBytes go out in further requests, in order", async () => {
      const topic = uniqueTopic("wire-split");
      cluster.createTopic(topic, 2);
      const small = producer(cluster, { maxBatchBytes: 8_000 });
      await small.connect();
      try {
        // 300 records of ~500 bytes on 2 partitions: about 10 batches per partition.
        const records: OutboundRecord[] = Array.from({ length: 300 }, (_, i) => ({
          topic,
          key: String(i % 7),
          value: `${i}:${"é".repeat(240)}`,
          headers: { n: String(i) },
        }));
        const before = small.stats.produceRequests;
        const ds = delivered(await small.send(records));
        // 300 × ~500 B = ~150 kB over 2 partitions, at most 8 kB per partition per request.
        assert.ok(small.stats.produceRequests - before >= 10, `split into ${small.stats.produceRequests - before}`);
        const read = await kcatRead(cluster.bootstrapServers, topic, { expected: 300, timeoutMs: 15_000 });
        for (const partition of [0, 1]) {
          const sent = ds.map((d, i) => ({ d, i })).filter((x) => x.d.partition === partition);
          const offsets = sent.map((x) => Number(x.d.offset));
          assert.deepEqual(offsets, offsets.map((_, k) => k), `partition ${partition}: in send order, no gaps`);
          const values = read.filter((m) => m.partition === partition).map((m) => m.value);
          assert.deepEqual(values, sent.map((x) => records[x.i]!.value));
        }
      } finally {
        await small.disconnect();
      }
    });

    await t.step("several topics and concurrent sends: offsets unique and gap-free per partition", async () => {
      const a = uniqueTopic("wire-a");
      const b = uniqueTopic("wire-b");
      cluster.createTopic(a, 2);
      cluster.createTopic(b, 3);
      const batch = (n: number) =>
        Array.from({ length: 250 }, (_, i): OutboundRecord => ({
          topic: i % 2 === 0 ? a : b,
          key: String(i % 31),
          value: `${n}-${i}`,
        }));
      const sends = await Promise.all([1, 2, 3, 4].map((n) => p.send(batch(n))));
      const seen = new Map<string, number[]>();
      for (const d of sends.flatMap(delivered)) {
        const k = `${d.topic}/${d.partition}`;
        seen.set(k, [...(seen.get(k) ?? []), Number(d.offset)]);
      }
      for (const [k, offsets] of seen) {
        offsets.sort((x, y) => x - y);
        assert.deepEqual(offsets, offsets.map((_, i) => i), `offsets of ${k}`);
      }
      const readA = await kcatRead(cluster.bootstrapServers, a, { expected: 500, timeoutMs: 15_000 });
      const readB = await kcatRead(cluster.bootstrapServers, b, { expected: 500, timeoutMs: 15_000 });
      assert.equal(readA.length + readB.length, 1000);
    });
  } finally {
    await p.disconnect();
  }
  assert.equal(p.connected, false);
});

Deno.test("WireProducer retries retriable errors and reports the rest", async (t) => {
  using cluster = startKafka(3);
  const topic = uniqueTopic("wire-errors");
  cluster.createTopic(topic, 1);
  const records = (tag: string): OutboundRecord[] =>
    Array.from({ length: 20 }, (_, i) => ({ topic, key: String(i), value: `${tag}-${i}` }));

  await t.step("two NOT_LEADER answers, then success: each record on Kafka once", async () => {
    const p = producer(cluster, { retry: { initialRetryTime: 20 } });
    await p.connect();
    try {
      cluster.pushRequestErrors(KafkaApiKey.Produce, [
        KafkaErrorCode.NOT_LEADER_OR_FOLLOWER,
        KafkaErrorCode.NOT_LEADER_OR_FOLLOWER,
      ]);
      const before = p.stats.retries;
      delivered(await p.send(records("retried")));
      assert.equal(p.stats.retries - before, 2, "one retry round per injected error");
      const read = await kcatRead(cluster.bootstrapServers, topic, { timeoutMs: 15_000 });
      assert.deepEqual(read.map((m) => m.value), records("retried").map((r) => r.value));
    } finally {
      cluster.clearRequestErrors(KafkaApiKey.Produce);
      await p.disconnect();
    }
  });

  await t.step("retries exhausted: every record failed with the broker's error, none written", async () => {
    const p = producer(cluster, { retries: 1, retry: { initialRetryTime: 20 } });
    await p.connect();
    try {
      cluster.pushRequestErrors(KafkaApiKey.Produce, Array(5).fill(KafkaErrorCode.NOT_ENOUGH_REPLICAS));
      const deliveries = await p.send(records("exhausted"));
      for (const d of deliveries) {
        assert.equal(d.ok, false);
        if (!d.ok) assert.match(d.error.message, /NOT_ENOUGH_REPLICAS \(19\)/);
      }
    } finally {
      cluster.clearRequestErrors(KafkaApiKey.Produce);
      await p.disconnect();
    }
    const read = await kcatRead(cluster.bootstrapServers, topic, { timeoutMs: 15_000 });
    assert.equal(read.filter((m) => m.value?.startsWith("exhausted")).length, 0);
  });

  await t.step("a non-retriable error fails at once, without waiting for a retry", async () => {
    const p = producer(cluster, { retries: 5, retry: { initialRetryTime: 20_000 } });
    await p.connect();
    try {
      cluster.pushRequestErrors(KafkaApiKey.Produce, [KafkaErrorCode.TOPIC_AUTHORIZATION_FAILED]);
      const started = performance.now();
      const deliveries = await p.send(records("denied"));
      assert.ok(performance.now() - started < 10_000, "answered before the first retry would have run");
      for (const d of deliveries) {
        assert.equal(d.ok, false);
        if (!d.ok) assert.match(d.error.message, /TOPIC_AUTHORIZATION_FAILED \(29\)/);
      }
    } finally {
      cluster.clearRequestErrors(KafkaApiKey.Produce);
      await p.disconnect();
    }
  });
});

Deno.test("WireProducer survives brokers going down, brokers that stop answering, and disconnects", async (t) => {
  using cluster = startKafka(3);
  const topic = uniqueTopic("wire-faults");
  cluster.createTopic(topic, 3);
  const records = (tag: string): OutboundRecord[] =>
    Array.from({ length: 30 }, (_, i) => ({ topic, key: String(i), value: `${tag}-${i}` }));

  await t.step("all brokers down: every record failed with a connection error; back up: sends work again", async () => {
    const p = producer(cluster, { retries: 1, retry: { initialRetryTime: 50 } });
    await p.connect();
    try {
      cluster.setBrokerDown(-1);
      const down = await p.send(records("down"));
      for (const d of down) {
        assert.equal(d.ok, false);
        if (!d.ok) assert.match(d.error.message, /connect|connection|metadata/i);
      }
      cluster.setBrokerUp(-1);
      delivered(await p.send(records("up")));
      const read = await kcatRead(cluster.bootstrapServers, topic, { expected: 30, timeoutMs: 15_000 });
      assert.ok(read.every((m) => m.value?.startsWith("up-")));
    } finally {
      cluster.setBrokerUp(-1);
      await p.disconnect();
    }
  });

  await t.step("a broker that does not answer in time: failed after the request timeout, then recovers", async () => {
    const p = producer(cluster, { retries: 0, requestTimeoutMs: 400 });
    await p.connect();
    try {
      cluster.setRtt(-1, 3_000);
      const slow = await p.send(records("slow"));
      for (const d of slow) {
        assert.equal(d.ok, false);
        if (!d.ok) assert.match(d.error.message, /no response within 400 ms/);
      }
      cluster.setRtt(-1, 0);
      delivered(await p.send(records("fast")));
    } finally {
      cluster.setRtt(-1, 0);
      await p.disconnect();
    }
  });

  await t.step("disconnect during a retry wait ends the send at once with failed deliveries", async () => {
    const p = producer(cluster, { retries: 5, retry: { initialRetryTime: 30_000 } });
    await p.connect();
    try {
      cluster.pushRequestErrors(KafkaApiKey.Produce, Array(3).fill(KafkaErrorCode.NOT_ENOUGH_REPLICAS));
      const sending = p.send(records("cut"));
      await new Promise((r) => setTimeout(r, 200));
      const started = performance.now();
      await p.disconnect();
      const deliveries = await sending;
      assert.ok(performance.now() - started < 5_000);
      assert.ok(deliveries.every((d) => !d.ok));
      const after = await p.send(records("after"));
      assert.ok(after.every((d) => !d.ok && /disconnected/.test(d.error.message)));
    } finally {
      cluster.clearRequestErrors(KafkaApiKey.Produce);
      await p.disconnect();
    }
  });

  await t.step("connect rejects, naming the broker, when nothing listens", async () => {
    const port = await freePort();
    const p = new WireProducer({ brokers: [`127.0.0.1:${port}`], clientId: "wire-test", logger: testLogger() });
    await assert.rejects(p.connect(), new RegExp(`127\\.0\\.0\\.1:${port}`));
    assert.equal(p.connected, false);
  });
});

Deno.test("kcat's CRC check rejects a corrupted batch, so the read-back tests above do check our CRCs", async () => {
  using cluster = startKafka(1);
  const topic = uniqueTopic("wire-crc");
  cluster.createTopic(topic, 1);
  const [host, port] = cluster.brokers[0]!.split(":");
  const conn = await BrokerConnection.open({
    host: host!,
    port: Number(port),
    connectTimeoutMs: 2000,
    requestTimeoutMs: 10_000,
  });
  try {
    const records = [{ key: "k", value: "an honest value" }];
    const send = async (corrupt: boolean) => {
      const id = conn.nextCorrelationId();
      const { frame } = encodeProduce(
        id,
        "crc-test",
        -1,
        5000,
        new Map([[topic, [{ partition: 0, indices: [0], from: 0 }]]]),
        records,
        Date.now(),
        256,
      );
      // The value's last byte, after the CRC was computed over it.
      if (corrupt) frame[frame.length - 2] = frame[frame.length - 2]! ^ 0x01;
      const [r] = await conn.request(id, frame, decodeProduce);
      return r!;
    };
    const good = await send(false);
    assert.equal(good.errorCode, 0);
    const bad = await send(true);
    if (bad.errorCode !== 0) {
      // The broker itself refused the batch (CORRUPT_MESSAGE): the CRC is checked on the way in.
      assert.equal(bad.errorCode, KafkaErrorCode.CORRUPT_MESSAGE);
      return;
    }
    await assert.rejects(
      kcatRead(cluster.bootstrapServers, topic, { timeoutMs: 5_000 }),
      /crc|CRC|corrupt/i,
      "kcat must refuse the corrupted batch",
    );
  } finally {
    conn.close();
  }
});
