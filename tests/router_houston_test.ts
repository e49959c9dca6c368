/**
 * The router against a fake Houston over HTTP: single-flight lookups for a burst of new apps, messages waiting
 * while Houston is down, and username/password login reused across lookups.
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
  testLogger,
  uniqueTopic,
  waitUntil,
} from "../testing/harness.ts";

// kafkajs leaves socket/timer ops behind on disconnect that Deno's sanitizers attribute to the test.
const KAFKA_TEST = { sanitizeOps: false, sanitizeResources: false };

Deno.test({
  name: "500 messages for 50 new app ids arriving together make exactly 50 Houston lookups",
  ...KAFKA_TEST,
  async fn() {
    const kafka = startKafka();
    const houston = await FakeHouston.start({ username: "admin", password: "pw" });
    try {
      const ingest = uniqueTopic("ingest");
      const seg = uniqueTopic("seg");
      kafka.createTopic(ingest, 3);
      kafka.createTopic(seg, 3);
      houston.setDefault([{ name: "Segment", topic: seg, enabled: true }]);
      // Slow answers make every message of an app arrive while its lookup is still running.
      houston.lookupDelayMs = 300;
      const messages = Array.from({ length: 500 }, (_, i) => ({
        key: `k${i}`,
        value: JSON.stringify({ appId: `app-${i % 50}`, messageId: `m${i}` }),
      }));
      await kcatProduce(kafka.bootstrapServers, ingest, messages);
      const router = await startRouter(
        routerTestConfig({
          bootstrap: kafka.bootstrapServers,
          ingestionTopic: ingest,
          groupId: uniqueTopic("g"),
          houston,
          login: { username: "admin", password: "pw" },
        }),
        { logger: testLogger() },
      );
      try {
        const got = await kcatRead(kafka.bootstrapServers, seg, { expected: 500, timeoutMs: 30_000 });
        assert.equal(new Set(got.map((m) => m.key)).size, 500);
        assert.equal(houston.lookups, 50);
        assert.equal(houston.lookupsByApp.size, 50);
        assert.ok([...houston.lookupsByApp.values()].every((n) => n === 1));
        assert.equal(houston.logins, 1, "one login for all lookups");
        // Every message found no entry; only one lookup per app was made for them.
        assert.equal(await metricValue(router.registry, "event_router_integration_cache_miss"), 500);
        assert.equal(await metricValue(router.registry, "event_router_integration_cache_update"), 50);
      } finally {
        await router.stop();
      }
    } finally {
      await houston.close();
      kafka.close();
    }
  },
});

Deno.test({
  name: "messages wait while Houston is down or failing and are routed once it is back",
  ...KAFKA_TEST,
  async fn() {
    const kafka = startKafka();
    const houston = await FakeHouston.start({ apiKey: "k" });
    try {
      const ingest = uniqueTopic("ingest");
      const seg = uniqueTopic("seg");
      kafka.createTopic(ingest, 3);
      kafka.createTopic(seg, 1);
      houston.setDefault([{ name: "Segment", topic: seg, enabled: true }]);
      await houston.down();
      const router = await startRouter(
        routerTestConfig({
          bootstrap: kafka.bootstrapServers,
          ingestionTopic: ingest,
          groupId: uniqueTopic("g"),
          houston,
        }),
        { logger: testLogger() },
      );
      try {
        const ids = Array.from({ length: 30 }, (_, i) => `m${i}`);
        await kcatProduce(
          kafka.bootstrapServers,
          ingest,
          ids.map((id, i) => ({ key: id, value: JSON.stringify({ appId: `app-${i % 3}`, messageId: id }) })),
        );
        await waitUntil(
          async () => (await metricValue(router.registry, "event_router_houston_lookup_failures")) >= 6,
          20_000,
          "lookups to fail while Houston is down",
        );
        await houston.up();
        houston.mode = "error500";
        const before = houston.lookups;
        await waitUntil(() => houston.lookups > before + 2, 20_000, "lookups answered with 500");
        houston.mode = "graphqlError";
        const before2 = houston.lookups;
        await waitUntil(() => houston.lookups > before2 + 2, 20_000, "lookups answered with GraphQL errors");
        assert.deepEqual(await kcatRead(kafka.bootstrapServers, seg, { timeoutMs: 10_000 }), []);
        houston.mode = "ok";
        const got = await kcatRead(kafka.bootstrapServers, seg, { expected: 30, timeoutMs: 40_000 });
        assert.deepEqual([...new Set(got.map((m) => m.key))].sort(), [...ids].sort());
        // Waiting messages are not re-consumed, so nothing is duplicated.
        assert.equal(got.length, 30);
        const { pending } = await router.stop();
        assert.deepEqual(pending, []);
      } finally {
        await router.stop();
      }
    } finally {
      await houston.close();
      kafka.close();
    }
  },
});

Deno.test({
  name: "shutdown within the flush timeout reports the messages still waiting, with offsets, and does not commit them",
  ...KAFKA_TEST,
  async fn() {
    const kafka = startKafka();
    const houston = await FakeHouston.start({ apiKey: "k" });
    try {
      const ingest = uniqueTopic("ingest");
      kafka.createTopic(ingest, 1);
      houston.mode = "error500";
      const groupId = uniqueTopic("g");
      const router = await startRouter(
        routerTestConfig({
          bootstrap: kafka.bootstrapServers,
          ingestionTopic: ingest,
          groupId,
          houston,
          flushTimeoutMs: 300,
        }),
        { logger: testLogger() },
      );
      let stopped = false;
      try {
        await kcatProduce(
          kafka.bootstrapServers,
          ingest,
          [0, 1, 2].map((i) => ({ value: JSON.stringify({ appId: "a", messageId: `m${i}` }) })),
        );
        await waitUntil(() => houston.lookups >= 2, 20_000, "lookups to fail");
        const t0 = Date.now();
        const { pending } = await router.stop();
        stopped = true;
        assert.ok(Date.now() - t0 < 10_000);
        assert.deepEqual(pending, [0, 1, 2].map((o) => ({ topic: ingest, partition: 0, offset: String(o) })));
        assert.equal(await committedTotal(kafka.bootstrapServers, groupId, ingest), 0);
      } finally {
        if (!stopped) await router.stop();
      }
    } finally {
      await houston.close();
      kafka.close();
    }
  },
});
