/**
 * SSE invalidation end to end: a `clickstream` broadcast changes routing, a cut stream reconnects with
 * `Last-Event-ID`, and entries cached before the gap are refreshed.
 * @module
 */
import assert from "node:assert/strict";
import { startRouter } from "../lib/router/service.ts";
import { FakeHouston, metricValue, routerTestConfig } from "../testing/houston.ts";
import { kcatProduce, kcatRead, startKafka, testLogger, uniqueTopic, waitUntil } from "../testing/harness.ts";

Deno.test({
  name: "SSE clickstream events re-route an app; a cut stream resumes with Last-Event-ID and refreshes older entries",
  // kafkajs leaves socket/timer ops behind on disconnect that Deno's sanitizers attribute to the test.
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const kafka = startKafka();
    const houston = await FakeHouston.start({ apiKey: "k" });
    try {
      const ingest = uniqueTopic("ingest");
      const [a, b, c] = [uniqueTopic("a"), uniqueTopic("b"), uniqueTopic("c")];
      kafka.createTopic(ingest, 1);
      for (const t of [a, b, c]) kafka.createTopic(t, 1);
      houston.setIntegrations("app-1", [{ name: "A", topic: a, enabled: true }]);
      houston.setIntegrations("app-2", [{ name: "A", topic: a, enabled: true }]);
      // TTL off: only SSE (and reconnects) may change what the cache holds.
      const router = await startRouter(
        routerTestConfig({
          bootstrap: kafka.bootstrapServers,
          ingestionTopic: ingest,
          groupId: uniqueTopic("g"),
          houston,
          sse: true,
          cacheTtlMs: undefined,
        }),
        { logger: testLogger() },
      );
      const send = (appId: string, id: string) =>
        kcatProduce(kafka.bootstrapServers, ingest, [{ key: id, value: JSON.stringify({ appId, messageId: id }) }]);
      try {
        await waitUntil(() => houston.openStreams === 1, 10_000, "the router to subscribe to /broadcast");
        assert.equal(houston.sseRequests[0]!.authorization, "k");
        assert.equal(houston.sseRequests[0]!.lastEventId, null);
        await send("app-1", "m1");
        await send("app-2", "m2");
        await kcatRead(kafka.bootstrapServers, a, { expected: 2, timeoutMs: 20_000 });

        // A broadcast changes app-1's routing within a second.
        houston.setIntegrations("app-1", [{ name: "B", topic: b, enabled: true }]);
        houston.push({ event: "heartbeat", data: "{}" });
        const pushedAt = Date.now();
        assert.equal(houston.pushClickstream("app-1", "ev-1"), 1);
        await waitUntil(() => router.cache.snapshot()["app-1"]?.["B"] === b, 1000, "app-1 to be re-routed to B");
        assert.ok(Date.now() - pushedAt < 1000);
        assert.equal(await metricValue(router.registry, "event_router_sse_clickstream_messages_received"), 1);
        assert.equal(await metricValue(router.registry, "event_router_sse_ignored_messages", { type: "heartbeat" }), 1);
        await send("app-1", "m3");
        const gotB = await kcatRead(kafka.bootstrapServers, b, { expected: 1, timeoutMs: 20_000 });
        assert.equal(gotB[0]!.key, "m3");

        // A change whose broadcast is missed while the stream is cut...
        houston.cutStreams();
        houston.setIntegrations("app-2", [{ name: "C", topic: c, enabled: true }]);
        await waitUntil(() => houston.openStreams === 1, 15_000, "the router to reconnect");
        assert.equal(houston.sseRequests.length, 2);
        assert.equal(houston.sseRequests[1]!.lastEventId, "ev-1");
        // ...is picked up because entries older than the gap are treated as expired.
        await send("app-2", "m4");
        const gotC = await kcatRead(kafka.bootstrapServers, c, { expected: 1, timeoutMs: 20_000 });
        assert.equal(gotC[0]!.key, "m4");
        assert.equal(houston.lookupsByApp.get("app-2"), 2);
        // app-1's only message after the reconnect has not come yet: nothing else went to A.
        assert.equal((await kcatRead(kafka.bootstrapServers, a, { timeoutMs: 10_000 })).length, 2);
        // /ready shows the last Houston lookup and the SSE stream (shown, not gating readiness).
        const ready = await (await router.handler(new Request("http://router/ready"))).json();
        assert.equal(ready.details.houston.lastLookup, "ok");
        assert.match(ready.details.houston.at, /^\d{4}-\d\d-\d\dT/);
        assert.deepEqual(ready.details.sse, { connected: true });
      } finally {
        await router.stop();
      }
    } finally {
      await houston.close();
      kafka.close();
    }
  },
});
