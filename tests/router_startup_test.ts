/**
 * The router process opens its port first: with every broker down it answers `/health` at once and `/ready` 503,
 * says on each retry that it waits for Kafka, and once the brokers are back joins its group, turns ready and routes.
 * @module
 */
import assert from "node:assert/strict";
import {
  kcatProduce,
  kcatRead,
  spawnMockRouter,
  startKafka,
  uniqueTopic,
  waitUntil,
  withTimeout,
} from "../testing/harness.ts";

Deno.test({
  name: "router started while Kafka is down: /health at once, /ready 503 and retry lines, then ready and routing",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    using kafka = startKafka(1);
    const ingest = uniqueTopic("ingest");
    const seg = uniqueTopic("seg");
    kafka.createTopic(ingest, 1);
    kafka.createTopic(seg, 1);
    kafka.setBrokerDown(-1);
    const router = spawnMockRouter(`Segment:${seg}`, {
      ER_BOOTSTRAP_SERVERS: kafka.bootstrapServers,
      ER_KAFKA_GROUP_ID: uniqueTopic("group"),
      ER_KAFKA_INGESTION_TOPIC: ingest,
    });
    const port = router.port;
    try {
      const started = Date.now();
      await waitUntil(
        () => fetch(`http://127.0.0.1:${port}/health`).then((r) => r.text().then(() => r.ok), () => false),
        10_000,
        "/health while Kafka is down",
        50,
      );
      assert.ok(Date.now() - started < 10_000);
      const ready = await fetch(`http://127.0.0.1:${port}/ready`);
      assert.equal(ready.status, 503);
      await ready.body?.cancel();
      // Long enough for a progress line (every 5 s) while the join waits.
      await new Promise((r) => setTimeout(r, 6_000));
      kafka.setBrokerUp(-1);
      await waitUntil(
        () => fetch(`http://127.0.0.1:${port}/ready`).then((r) => r.text().then(() => r.status === 200), () => false),
        60_000,
        "/ready 200 once Kafka is back",
        250,
      );
      await kcatProduce(kafka.bootstrapServers, ingest, [{ key: "k", value: '{"appId":"a","messageId":"m"}' }]);
      assert.equal((await kcatRead(kafka.bootstrapServers, seg, { expected: 1, timeoutMs: 20_000 })).length, 1);
    } finally {
      kafka.setBrokerUp(-1);
      router.kill("SIGTERM");
    }
    const { code, text: log } = await withTimeout(router.exit(), 30_000, "the router to exit");
    assert.equal(code, 0, log.slice(-2000));
    assert.match(log, /waiting for Kafka: no broker accepted us; retrying.*"brokers":\["127\.0\.0\.1:\d+"\]/);
    // Each line about the outage says what to check, naming the setting.
    for (const line of log.split("\n").filter((l) => /waiting for Kafka|cannot join the consumer group yet/.test(l))) {
      assert.match(line, /"check":"[^"]*ER_BOOTSTRAP_SERVERS/, line);
    }
    assert.match(log, /"msg":"still joining the consumer group","groupId":"[^"]+","waitedSeconds":[5-9]/);
    assert.match(log, /"msg":"router started","joinedAfterSeconds":\d+/);
  },
});
