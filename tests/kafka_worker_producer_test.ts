/**
 * ProducerWorker against the mock cluster: per-record partitions and offsets of two producers (checked with kcat,
 * headers included), every record failed when the brokers are down and delivered again after, worker logs reaching
 * the caller's logger, and sends after close failing instead of hanging.
 * @module
 */
import assert from "node:assert/strict";
import { createLogger } from "../lib/log.ts";
import type { Delivery, OutboundRecord } from "../lib/kafka/delivery.ts";
import { ProducerWorker, ProducerWorkerUnavailableError } from "../lib/kafka/worker_producer.ts";
import { kcatRead, startKafka, uniqueTopic, withTimeout } from "../testing/harness.ts";

type Delivered = Extract<Delivery, { ok: true }>;

function expectDelivered(deliveries: Delivery[]): Delivered[] {
  return deliveries.map((d, i) => {
    if (!d.ok) throw new Error(`record ${i} not delivered: ${d.error.message}`);
    return d;
  });
}

function capturingLogger() {
  const lines: string[] = [];
  return { lines, logger: createLogger({ write: (l) => lines.push(l) }) };
}

Deno.test("ProducerWorker reports per-record partition and offset for each of its producers", async () => {
  using cluster = startKafka(3);
  const topic = uniqueTopic("worker");
  cluster.createTopic(topic, 3);
  const { logger } = capturingLogger();
  const worker = await ProducerWorker.start({
    brokers: cluster.brokers,
    clientId: "worker-test",
    logger,
    producers: [{ acks: -1 }, { acks: -1 }],
  });
  try {
    assert.equal(worker.connected, true);
    assert.equal(worker.producer(0).connected, true);
    const records: OutboundRecord[] = Array.from({ length: 40 }, (_, i) => ({
      topic,
      key: `user-${i}`,
      value: JSON.stringify({ i }),
      headers: { "kcl-priority": i % 2 === 0 ? "normal" : "immediate", "kcl-request-id": `r${i}` },
    }));
    // Both producers at once, as the proxy's batched and immediate classes do.
    const [a, b] = await Promise.all([
      worker.producer(0).send(records.slice(0, 25)),
      worker.producer(1).send(records.slice(25)),
    ]);
    const delivered = expectDelivered([...a, ...b]);
    assert.equal(delivered.length, records.length);
    const read = await kcatRead(cluster.bootstrapServers, topic, { expected: records.length, timeoutMs: 15_000 });
    const at = new Map(read.map((m) => [`${m.partition}/${m.offset}`, m]));
    for (const [i, r] of records.entries()) {
      const d = delivered[i]!;
      assert.equal(d.topic, topic);
      const m = at.get(`${d.partition}/${d.offset}`);
      assert.ok(m !== undefined, `record ${i} reported at ${d.partition}/${d.offset}; kcat has none`);
      assert.equal(m.value, r.value);
      assert.equal(m.key, r.key);
      assert.deepEqual(m.headers, r.headers);
    }
    assert.equal(new Set(delivered.map((d) => d.partition)).size, 3, "keys spread over the 3 partitions");
    assert.deepEqual(await worker.producer(1).send([]), []);
  } finally {
    await worker.close();
  }
  assert.equal(worker.connected, false);
});

Deno.test("ProducerWorker fails every record while the brokers are down, logs why, and recovers", async () => {
  using cluster = startKafka(3);
  const topic = uniqueTopic("worker-down");
  cluster.createTopic(topic, 2);
  const { lines, logger } = capturingLogger();
  const worker = await ProducerWorker.start({
    brokers: cluster.brokers,
    clientId: "worker-down-test",
    logger,
    client: { connectionTimeoutMs: 300, requestTimeoutMs: 1_000, retry: { retries: 1, initialRetryTime: 50 } },
    producers: [{ retries: 1, timeoutMs: 1_000 }],
  });
  const producer = worker.producer(0);
  try {
    expectDelivered(await producer.send([{ topic, key: "k", value: "before" }]));
    cluster.setBrokerDown(-1);
    const records = Array.from({ length: 6 }, (_, i) => ({ topic, key: `k${i}`, value: `during-${i}` }));
    const failed = await withTimeout(producer.send(records), 20_000, "send while every broker is down");
    assert.equal(failed.length, records.length);
    for (const [i, d] of failed.entries()) {
      assert.equal(d.ok, false, `record ${i} reported failed`);
      assert.equal(d.topic, topic);
      if (!d.ok) assert.ok(d.error.message.length > 0);
    }
    assert.ok(
      lines.some((l) => l.includes('"produce failed"') && l.includes('"component":"kafka-producer"')),
      `the worker's producer warning reached the caller's logger: ${lines.join("\n")}`,
    );

    cluster.setBrokerUp(-1);
    expectDelivered(await withTimeout(producer.send(records), 20_000, "send after the brokers came back"));
    const read = await kcatRead(cluster.bootstrapServers, topic, { timeoutMs: 15_000 });
    assert.deepEqual(
      read.map((m) => m.value).filter((v) => v?.startsWith("during")).sort(),
      records.map((r) => r.value),
    );
  } finally {
    cluster.setBrokerUp(-1);
    await worker.close();
  }
  const after = await producer.send([{ topic, value: "late" }]);
  assert.equal(after.length, 1);
  assert.equal(after[0]!.ok, false, "a send after close is reported failed, not left pending");
});

Deno.test("ProducerWorker.start rejects when no broker can be reached", async () => {
  using cluster = startKafka(1);
  const brokers = cluster.brokers;
  cluster.setBrokerDown(-1);
  const { logger } = capturingLogger();
  await assert.rejects(
    withTimeout(
      ProducerWorker.start({
        brokers,
        clientId: "worker-unreachable-test",
        logger,
        client: { connectionTimeoutMs: 200, requestTimeoutMs: 500, retry: { retries: 0 } },
        producers: [{}],
      }),
      20_000,
      "start against a cluster that is down",
    ),
    (err: Error) => err.name !== "ProducerWorkerUnavailableError" && err.message.length > 0,
  );
});

Deno.test("ProducerWorker.start reports a worker entry that cannot load as ProducerWorkerUnavailableError", async () => {
  // What a single-file `deno bundle` output meets: the entry module is not next to the bundle.
  const { logger } = capturingLogger();
  const missing = new URL("./no_such_producer_worker.ts", import.meta.url).href;
  await assert.rejects(
    withTimeout(
      ProducerWorker.start({
        brokers: ["127.0.0.1:1"],
        clientId: "worker-missing-test",
        logger,
        entry: missing,
        producers: [{}],
      }),
      20_000,
      "start with a missing worker entry",
    ),
    (err: Error) => err instanceof ProducerWorkerUnavailableError && err.message.startsWith("producer worker crashed"),
  );
});
