/**
 * The retry lane end to end (`--retry`): failed produces go through the retry topic, are re-produced after their
 * delay, and after ER_MAX_RETRIES land in S3 (retried until S3 accepts them) and nowhere else.
 * @module
 */
import assert from "node:assert/strict";
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { startRouter } from "../lib/router/service.ts";
import { FakeHouston, metricValue, routerTestConfig } from "../testing/houston.ts";
import {
  committedTotal,
  KafkaApiKey,
  KafkaErrorCode,
  kcatProduce,
  kcatRead,
  startKafka,
  startS3,
  testLogger,
  uniqueTopic,
  waitUntil,
} from "../testing/harness.ts";

// kafkajs leaves socket/timer ops behind on disconnect that Deno's sanitizers attribute to the test.
const KAFKA_TEST = { sanitizeOps: false, sanitizeResources: false };

Deno.test({
  name:
    "a produce that keeps failing goes through the retry topic to S3 (retried until S3 works) and is never produced",
  ...KAFKA_TEST,
  async fn() {
    const kafka = startKafka();
    // No bucket yet: the first uploads fail and must be retried.
    const s3 = await startS3();
    try {
      const ingest = uniqueTopic("ingest");
      const seg = uniqueTopic("seg");
      const retry = uniqueTopic("retry");
      kafka.createTopic(ingest, 1);
      kafka.createTopic(seg, 1);
      kafka.createTopic(retry, 1);
      const event = '{"appId":"app-1", "messageId":"msg-42","properties":{"price":1.50}}';
      await kcatProduce(kafka.bootstrapServers, ingest, [{ key: "user-7", value: event }]);
      // The first produce is refused (a non-retriable error, so kafkajs gives up at once).
      kafka.pushRequestErrors(KafkaApiKey.Produce, [KafkaErrorCode.MESSAGE_TOO_LARGE]);
      const groupId = uniqueTopic("g");
      const router = await startRouter(
        routerTestConfig({
          bootstrap: kafka.bootstrapServers,
          ingestionTopic: ingest,
          groupId,
          integrations: [{ name: "Segment", topic: seg }],
          retry: { topic: retry, bucket: "dead", prefix: "clickstream/retries", endpoint: s3.endpoint },
          maxRetries: 2,
        }),
        { logger: testLogger(), producerRetries: 0 },
      );
      try {
        // Each refusal is queued right after the previous hand-over was acknowledged, well inside the 1 s / 2 s
        // retry delays, so it hits the retry lane's produce and not the hand-over's.
        const retried = (n: number) =>
          waitUntil(
            async () => (await metricValue(router.registry, "event_router_messages_retried")) === n,
            20_000,
            `hand-over ${n}`,
            5,
          );
        await retried(1);
        kafka.pushRequestErrors(KafkaApiKey.Produce, [KafkaErrorCode.MESSAGE_TOO_LARGE]);
        await retried(2);
        kafka.pushRequestErrors(KafkaApiKey.Produce, [KafkaErrorCode.MESSAGE_TOO_LARGE]);
        const envelopes = await kcatRead(kafka.bootstrapServers, retry, { expected: 2, timeoutMs: 20_000 });
        assert.equal(envelopes[0]!.value, `{"retryCount":0,"integration":"${seg}","message":${event}}`);
        assert.equal(envelopes[0]!.key, "user-7");
        assert.equal(envelopes[1]!.value, `{"retryCount":1,"integration":"${seg}","message":${event}}`);
        await waitUntil(
          async () => (await metricValue(router.registry, "event_router_s3_upload_failures")) >= 2,
          20_000,
          "S3 uploads to fail while the bucket is missing",
        );
        // Not dead-lettered yet, so the second envelope stays uncommitted.
        assert.equal(await committedTotal(kafka.bootstrapServers, `${groupId}-retry`, retry), 1);
        await s3.createBucket("dead");
        await waitUntil(
          async () => (await metricValue(router.registry, "event_router_messages_uploaded_to_s3")) === 1,
          40_000,
          "the dead letter to be uploaded",
        );
        const key = `clickstream/retries/${seg}/msg-42`;
        assert.deepEqual(await s3.listKeys("dead"), [key]);
        assert.equal(await s3.getText("dead", key), event);
        const head = await s3.client.send(new HeadObjectCommand({ Bucket: "dead", Key: key }));
        assert.equal(head.ContentType, "application/json");
        assert.equal(head.Metadata?.["integration"], seg);
        assert.equal(head.Metadata?.["retry-count"], "2");
        assert.match(head.Metadata?.["error"] ?? "", /larger|size|large/i);
        assert.equal(await metricValue(router.registry, "event_router_messages_retried"), 2);
        // Never also produced, and nothing more was handed over.
        assert.deepEqual(await kcatRead(kafka.bootstrapServers, seg, { timeoutMs: 10_000 }), []);
        assert.equal((await kcatRead(kafka.bootstrapServers, retry, { timeoutMs: 10_000 })).length, 2);
        const { pending } = await router.stop();
        assert.deepEqual(pending, []);
        assert.equal(await committedTotal(kafka.bootstrapServers, `${groupId}-retry`, retry), 2);
        assert.equal(await committedTotal(kafka.bootstrapServers, groupId, ingest), 1);
      } finally {
        await router.stop();
      }
    } finally {
      await s3.stop();
      kafka.close();
    }
  },
});

Deno.test({
  name: "dropped connections and brokers going down mid-stream: every message still reaches every integration",
  ...KAFKA_TEST,
  async fn() {
    const kafka = startKafka();
    const s3 = await startS3({ buckets: ["dead"] });
    try {
      const ingest = uniqueTopic("ingest");
      const [seg, amp, retry] = [uniqueTopic("seg"), uniqueTopic("amp"), uniqueTopic("retry")];
      kafka.createTopic(ingest, 3);
      for (const t of [seg, amp, retry]) kafka.createTopic(t, 2);
      const count = 1000;
      const ids = Array.from({ length: count }, (_, i) => `m${i}`);
      await kcatProduce(
        kafka.bootstrapServers,
        ingest,
        ids.map((id) => ({ key: id, value: JSON.stringify({ appId: "a", messageId: id }) })),
      );
      // The brokers drop the router's first produce connections: those produces fail and take the retry lane.
      kafka.pushRequestErrors(KafkaApiKey.Produce, Array(20).fill(KafkaErrorCode.TRANSPORT));
      const router = await startRouter(
        routerTestConfig({
          bootstrap: kafka.bootstrapServers,
          ingestionTopic: ingest,
          groupId: uniqueTopic("g"),
          integrations: [{ name: "Segment", topic: seg }, { name: "Amplitude", topic: amp }],
          retry: { topic: retry, bucket: "dead", endpoint: s3.endpoint },
          maxRetries: 5,
          messageTimeoutMs: 2000,
        }),
        { logger: testLogger(), producerRetries: 1 },
      );
      try {
        // Then every broker goes down for a while in the middle of the stream.
        await waitUntil(
          async () => (await metricValue(router.registry, "event_router_messages_produced")) >= 100,
          20_000,
          "routing to start",
          2,
        );
        kafka.setBrokerDown(-1);
        await new Promise((r) => setTimeout(r, 2500));
        kafka.setBrokerUp(-1);
        for (const topic of [seg, amp]) {
          await waitUntil(
            async () => {
              const got = await kcatRead(kafka.bootstrapServers, topic, { timeoutMs: 10_000 });
              return new Set(got.map((m) => m.key)).size === count;
            },
            90_000,
            `all ${count} messages on ${topic}`,
            500,
          );
        }
        assert.ok(await metricValue(router.registry, "event_router_messages_produced_failed") > 0);
        assert.ok(await metricValue(router.registry, "event_router_messages_retried") > 0);
        assert.deepEqual(await s3.listKeys("dead"), []);
        // Re-produced messages are labelled with the integration's name, like first-time ones, never with its topic.
        const produced = (integration: string) =>
          metricValue(router.registry, "event_router_messages_produced", { integration });
        assert.equal(await produced(seg), 0);
        assert.equal(await produced(amp), 0);
        assert.ok(await produced("Segment") >= count);
      } finally {
        await router.stop();
      }
    } finally {
      await s3.stop();
      kafka.close();
    }
  },
});

Deno.test({
  name: "with --retry a message whose lookups keep failing goes to the retry topic with integration null, then routes",
  ...KAFKA_TEST,
  async fn() {
    const kafka = startKafka();
    const s3 = await startS3({ buckets: ["dead"] });
    const houston = await FakeHouston.start({ apiKey: "k" });
    try {
      const ingest = uniqueTopic("ingest");
      const seg = uniqueTopic("seg");
      const retry = uniqueTopic("retry");
      for (const t of [ingest, seg, retry]) kafka.createTopic(t, 1);
      houston.setDefault([{ name: "Segment", topic: seg, enabled: true }]);
      houston.mode = "error500";
      const event = '{"appId":"app-1","messageId":"m-1"}';
      await kcatProduce(kafka.bootstrapServers, ingest, [{ key: "k", value: event }]);
      const router = await startRouter(
        routerTestConfig({
          bootstrap: kafka.bootstrapServers,
          ingestionTopic: ingest,
          groupId: uniqueTopic("g"),
          houston,
          retry: { topic: retry, bucket: "dead", endpoint: s3.endpoint },
          maxRetries: 3,
        }),
        { logger: testLogger() },
      );
      try {
        const [envelope] = await kcatRead(kafka.bootstrapServers, retry, { expected: 1, timeoutMs: 20_000 });
        assert.equal(envelope!.value, `{"retryCount":0,"integration":null,"message":${event}}`);
        houston.mode = "ok";
        const [routed] = await kcatRead(kafka.bootstrapServers, seg, { expected: 1, timeoutMs: 20_000 });
        assert.equal(routed!.value, event);
        assert.equal(routed!.key, "k");
        assert.deepEqual(await s3.listKeys("dead"), []);
      } finally {
        await router.stop();
      }
    } finally {
      await houston.close();
      await s3.stop();
      kafka.close();
    }
  },
});
