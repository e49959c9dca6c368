/**
 * Checks the non-Kafka pieces of the test harness: redis-server lifecycle (kill and restart on the same port),
 * s3rver with its client helpers, and kcat round trips.
 * @module
 */
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { freePort, kcatProduce, kcatRead, startKafka, startRedis, startS3, uniqueTopic } from "./harness.ts";

Deno.test("startRedis runs a real redis-server that can be killed and restarted on the same port", async () => {
  const redis = await startRedis();
  const client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => 50 });
  // Connection errors while the server is down are expected here; without a listener ioredis prints each one.
  client.on("error", () => {});
  try {
    assert.match(redis.url, /^redis:\/\/127\.0\.0\.1:\d+$/);
    await client.connect();
    await client.set("k", "v");
    assert.equal(await client.get("k"), "v");

    await redis.kill();
    assert.equal(redis.running, false);
    await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port: redis.port }), Deno.errors.ConnectionRefused);

    await redis.restart();
    assert.equal(redis.running, true);
    // Persistence is off, so the restarted server is empty; the client reconnects to the same port by itself.
    assert.equal(await client.get("k"), null);
  } finally {
    client.disconnect();
    await redis.stop();
  }
  await redis.stop();
});

Deno.test("startS3 serves buckets through the S3 API", async () => {
  const s3 = await startS3({ buckets: ["configured-bucket"] });
  try {
    assert.match(s3.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
    await s3.createBucket("created-bucket");
    await s3.putObject("configured-bucket", "a/1.json", '{"n":1}');
    await s3.putObject("configured-bucket", "a/2.bin", new Uint8Array([0, 255]));
    await s3.putObject("created-bucket", "b.txt", "b");
    assert.deepEqual(await s3.listKeys("configured-bucket"), ["a/1.json", "a/2.bin"]);
    assert.deepEqual(await s3.listKeys("configured-bucket", "a/1"), ["a/1.json"]);
    assert.equal(await s3.getText("configured-bucket", "a/1.json"), '{"n":1}');
    assert.deepEqual(await s3.getObject("configured-bucket", "a/2.bin"), new Uint8Array([0, 255]));
    assert.deepEqual(await s3.listKeys("created-bucket"), ["b.txt"]);
  } finally {
    await s3.stop();
  }
});

Deno.test("kcat round trip: keys, null keys, empty values, shared headers, a fixed partition", async () => {
  using cluster = startKafka(1);
  const topic = uniqueTopic("kcat");
  cluster.createTopic(topic, 2);
  await kcatProduce(cluster.bootstrapServers, topic, [
    { key: "a", value: "multi\nline ✓" },
    { value: "no key" },
    { key: "empty", value: "" },
  ], { headers: { h: "1" }, partition: 1 });
  const read = await kcatRead(cluster.bootstrapServers, topic, { timeoutMs: 10_000 });
  assert.deepEqual(
    read.map((m) => [m.partition, m.offset, m.key, m.value, m.headers]),
    [
      [1, 0, "a", "multi\nline ✓", { h: "1" }],
      [1, 1, null, "no key", { h: "1" }],
      [1, 2, "empty", "", { h: "1" }],
    ],
  );
  await assert.rejects(
    // Long enough for kcat to start and read the three on a loaded machine (1 s was not, once).
    kcatRead(cluster.bootstrapServers, topic, { expected: 4, timeoutMs: 5_000 }),
    /kcat read 3 of 4 messages/,
  );
  await assert.rejects(kcatProduce(cluster.bootstrapServers, topic, [{ value: "bad\x1e" }]), /must not contain/);
});

Deno.test("freePort returns a port that can be bound", () => {
  const port = freePort();
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  listener.close();
});
