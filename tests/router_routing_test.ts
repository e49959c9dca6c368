/**
 * End-to-end routing through real servers: harness Kafka cluster, fake Houston over HTTP, s3rver, kcat reading
 * the integration topics independently.
 * @module
 */
import assert from "node:assert/strict";
import { startRouter } from "../lib/router/service.ts";
import { FakeHouston, metricValue, routerTestConfig } from "../testing/houston.ts";
import {
  committedTotal,
  kcatProduce,
  kcatRead,
  startKafka,
  startS3,
  testLogger,
  uniqueTopic,
  waitUntil,
} from "../testing/harness.ts";

const enc = new TextEncoder();

Deno.test({
  name: "router sends each event unchanged to each enabled integration, honouring opt-outs, and commits",
  // kafkajs leaves socket/timer ops behind on disconnect that Deno's sanitizers attribute to the test.
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const kafka = startKafka();
    const s3 = await startS3({ buckets: ["dead"] });
    const houston = await FakeHouston.start({ apiKey: "secret-key" });
    try {
      const ingest = uniqueTopic("ingest");
      const [seg, amp, logs, retry] = [uniqueTopic("seg"), uniqueTopic("amp"), uniqueTopic("logs"), uniqueTopic("r")];
      kafka.createTopic(ingest, 3);
      for (const t of [seg, amp, logs, retry]) kafka.createTopic(t, 2);
      houston.setIntegrations("app-1", [
        { name: "Segment", topic: seg, enabled: true },
        { name: "Amplitude", topic: amp, enabled: true },
        { name: "S3 Event Logs", topic: logs, enabled: true },
        { name: "Disabled", topic: "never", enabled: false },
      ]);
      const groupId = uniqueTopic("group");
      const config = routerTestConfig({
        bootstrap: kafka.bootstrapServers,
        ingestionTopic: ingest,
        groupId,
        houston,
        retry: { topic: retry, bucket: "dead", prefix: "dl", endpoint: s3.endpoint },
      });
      const router = await startRouter(config, { logger: testLogger() });
      let stopped = false;
      try {
        const plain = '{"appId":"app-1","messageId":"m1","n":1.50,"text":"caf\u00e9 \\u00e9","nested":{"a":[1,2]}}';
        const noSegment = '{"appId":"app-1","messageId":"m2","integrations":{"Segment":false}}';
        const onlyAmp = '{"appId":"app-1","messageId":"m3","integrations":{"All":false,"Amplitude":true}}';
        const unknown = '{"appId":"no-such-app","messageId":"m4"}';
        const notJson = "this is not json";
        const noAppId = '{"messageId":"m6"}';
        await kcatProduce(kafka.bootstrapServers, ingest, [
          { key: "k1", value: plain },
          { key: "k2", value: noSegment },
          { key: "k3", value: onlyAmp },
          { key: "k4", value: unknown },
          { key: "k5", value: notJson },
          { key: "k6", value: noAppId },
        ], { headers: { "x-trace": "t-1" } });

        const segGot = await kcatRead(kafka.bootstrapServers, seg, { expected: 1, timeoutMs: 20_000 });
        const ampGot = await kcatRead(kafka.bootstrapServers, amp, { expected: 3, timeoutMs: 20_000 });
        const logsGot = await kcatRead(kafka.bootstrapServers, logs, { expected: 2, timeoutMs: 20_000 });

        // Byte-identical values, keys kept, headers kept.
        assert.deepEqual(segGot.map((m) => m.valueBytes), [enc.encode(plain)]);
        assert.equal(segGot[0]!.key, "k1");
        assert.equal(segGot[0]!.headers["x-trace"], "t-1");
        const byKey = (ms: typeof ampGot) => Object.fromEntries(ms.map((m) => [m.key, m.value]));
        assert.deepEqual(byKey(ampGot), { k1: plain, k2: noSegment, k3: onlyAmp });
        assert.deepEqual(byKey(logsGot), { k1: plain, k2: noSegment });

        const registry = router.registry;
        await waitUntil(
          async () => (await metricValue(registry, "event_router_messages_uploaded_to_s3")) === 3,
          20_000,
          "3 dead letters",
        );
        // kcat may read a record before the router has handled the broker's acknowledgement of it.
        await waitUntil(
          async () => (await metricValue(registry, "event_router_messages_produced")) === 6,
          20_000,
          "6 acknowledged produces",
        );
        assert.equal(await metricValue(registry, "event_router_messages_consumed"), 6);
        assert.equal(await metricValue(registry, "event_router_messages_invalid", { reason: "not_json" }), 1);
        assert.equal(await metricValue(registry, "event_router_messages_invalid", { reason: "missing_app_id" }), 1);
        assert.equal(await metricValue(registry, "event_router_messages_no_integrations"), 1);
        assert.equal(
          await metricValue(registry, "event_router_messages_produced", { appId: "app-1", integration: "Amplitude" }),
          3,
        );
        assert.equal(await metricValue(registry, "event_router_messages_produced"), 6);
        assert.equal(await metricValue(registry, "event_router_route_seconds_count"), 3);

        // Dead letters: the two unparseable messages under invalid/<topic>-<partition>-<offset>, the unknown app's.
        const keys = await s3.listKeys("dead");
        assert.equal(keys.length, 3, keys.join(","));
        assert.ok(keys.includes("dl/unrouted/m4"), keys.join(","));
        const invalidKeys = keys.filter((k) => k.startsWith(`dl/invalid/${ingest}-`));
        assert.equal(invalidKeys.length, 2);
        const bodies = await Promise.all(invalidKeys.map((k) => s3.getText("dead", k)));
        assert.deepEqual(bodies.sort(), [noAppId, notJson].sort());

        // HTTP surface.
        const integrations = await (await router.handler(new Request("http://x/integrations"))).json();
        assert.deepEqual(integrations, {
          integrations: {
            "app-1": { Segment: seg, Amplitude: amp, "S3 Event Logs": logs },
            "no-such-app": {},
          },
        });
        assert.equal((await router.handler(new Request("http://x/health"))).status, 200);
        const ready = await router.handler(new Request("http://x/ready"));
        assert.equal(ready.status, 200, JSON.stringify(await ready.clone().json()));
        await ready.body?.cancel();
        const metrics = await (await router.handler(new Request("http://x/metrics"))).text();
        assert.match(metrics, /event_router_messages_consumed 6/);
        assert.equal(houston.lookups, 2);

        const { pending } = await router.stop();
        stopped = true;
        assert.deepEqual(pending, []);
        assert.equal(await committedTotal(kafka.bootstrapServers, groupId, ingest), 6);
        const notReady = await router.handler(new Request("http://x/ready"));
        assert.equal(notReady.status, 503);
        await notReady.body?.cancel();
      } finally {
        if (!stopped) await router.stop();
      }
    } finally {
      await houston.close();
      await s3.stop();
      kafka.close();
    }
  },
});
