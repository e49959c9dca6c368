import assert from "node:assert/strict";
import { ManualClock } from "../clock.ts";
import { createLogger, silentLogger } from "../log.ts";
import { HoustonError, type Integration, type IntegrationSource } from "./houston_client.ts";
import { IntegrationCache } from "./integration_cache.ts";

/** An in-memory integration source that counts lookups and can fail or hold answers. */
class CountingSource implements IntegrationSource {
  calls = 0;
  fail = false;
  gate: Promise<void> | undefined;
  integrations: Integration[] = [{ name: "Segment", topic: "segment" }];
  async lookup(): Promise<Integration[]> {
    this.calls++;
    if (this.gate) await this.gate;
    if (this.fail) throw new HoustonError("down");
    return this.integrations;
  }
}

Deno.test("IntegrationCache makes one lookup for concurrent callers of one app", async () => {
  const source = new CountingSource();
  const gate = Promise.withResolvers<void>();
  source.gate = gate.promise;
  const cache = new IntegrationCache({ source, clock: new ManualClock(0), logger: silentLogger, ttlMs: 1000 });
  const all = Array.from({ length: 20 }, () => cache.get("a"));
  gate.resolve();
  const results = await Promise.all(all);
  assert.equal(source.calls, 1);
  assert.deepEqual(results[19], [{ name: "Segment", topic: "segment" }]);
  assert.deepEqual(cache.peek("a"), [{ name: "Segment", topic: "segment" }]);
});

Deno.test("IntegrationCache refreshes after the TTL, every time, and keeps the stale entry while refresh fails", async () => {
  const clock = new ManualClock(0);
  const source = new CountingSource();
  let stale = 0;
  const cache = new IntegrationCache({
    source,
    clock,
    logger: silentLogger,
    ttlMs: 1000,
    staleRetryMs: 500,
    events: { staleServed: () => stale++ },
  });
  await cache.get("a");
  await clock.advance(999);
  assert.notEqual(cache.peek("a"), undefined);
  await cache.get("a");
  assert.equal(source.calls, 1);
  await clock.advance(1);
  assert.equal(cache.peek("a"), undefined);
  source.integrations = [{ name: "Amplitude", topic: "amp" }];
  assert.deepEqual(await cache.get("a"), [{ name: "Amplitude", topic: "amp" }]);
  assert.equal(source.calls, 2);
  // Not a one-shot timer: the next period expires it again.
  await clock.advance(1000);
  source.fail = true;
  assert.deepEqual(await cache.get("a"), [{ name: "Amplitude", topic: "amp" }]);
  assert.equal(source.calls, 3);
  // Within staleRetryMs the stale entry is served without asking again.
  await clock.advance(100);
  await cache.get("a");
  assert.equal(source.calls, 3);
  await clock.advance(500);
  await cache.get("a");
  assert.equal(source.calls, 4);
  assert.equal(stale, 2);
});

Deno.test("IntegrationCache rejects a miss whose lookup fails and counts misses", async () => {
  const source = new CountingSource();
  source.fail = true;
  let misses = 0;
  const cache = new IntegrationCache({
    source,
    clock: new ManualClock(0),
    logger: silentLogger,
    ttlMs: 1000,
    events: { miss: () => misses++ },
  });
  await assert.rejects(cache.get("a"), HoustonError);
  assert.equal(misses, 1);
  assert.equal(cache.size, 0);
});

Deno.test("IntegrationCache without TTL keeps entries until refresh or expireOlderThan", async () => {
  const clock = new ManualClock(0);
  const source = new CountingSource();
  const cache = new IntegrationCache({ source, clock, logger: silentLogger, ttlMs: undefined });
  await cache.get("a");
  await clock.advance(10 * 24 * 3600_000);
  assert.notEqual(cache.peek("a"), undefined);
  source.integrations = [];
  await cache.refresh("a");
  assert.deepEqual(cache.peek("a"), []);
  assert.equal(source.calls, 2);
  await cache.get("b");
  await clock.advance(10);
  await cache.get("c");
  assert.equal(cache.expireOlderThan(clock.now()), 2);
  assert.equal(cache.peek("a"), undefined);
  assert.equal(cache.peek("b"), undefined);
  assert.notEqual(cache.peek("c"), undefined);
  await cache.get("a");
  assert.equal(source.calls, 5);
  assert.deepEqual(cache.snapshot(), { a: {}, b: {}, c: {} });
});

Deno.test("IntegrationCache stores a lookup that started before an SSE gap as expired", async () => {
  const clock = new ManualClock(1000);
  const source = new CountingSource();
  const gate = Promise.withResolvers<void>();
  source.gate = gate.promise;
  const cache = new IntegrationCache({ source, clock, logger: silentLogger, ttlMs: undefined });
  const first = cache.get("a"); // starts at t=1000
  await clock.advance(1000);
  // The SSE stream was cut at t=1500 and is back now: whatever Houston said before 1500 may be outdated.
  assert.equal(cache.expireOlderThan(1500), 0, "nothing cached yet");
  source.integrations = [{ name: "Webhooks", topic: "webhooks" }];
  gate.resolve();
  assert.deepEqual(await first, [{ name: "Webhooks", topic: "webhooks" }], "the caller still gets its answer");
  assert.equal(cache.peek("a"), undefined, "but it is not served as fresh");
  await cache.get("a");
  assert.equal(source.calls, 2, "the next message looks the app up again");
  assert.deepEqual(cache.peek("a"), [{ name: "Webhooks", topic: "webhooks" }], "a lookup after the gap is fresh");
});

Deno.test("IntegrationCache keeps at most maxEntries apps, dropping the least recently fetched, with one warning", async () => {
  const source = new CountingSource();
  const lines: string[] = [];
  const evicted: string[] = [];
  const cache = new IntegrationCache({
    source,
    clock: new ManualClock(0),
    logger: createLogger({ write: (l) => lines.push(l) }),
    ttlMs: undefined,
    maxEntries: 3,
    events: { evicted: (app) => evicted.push(app) },
  });
  for (const app of ["a", "b", "c", "d", "e"]) await cache.get(app);
  assert.equal(cache.size, 3);
  assert.deepEqual(evicted, ["a", "b"]);
  assert.equal(cache.peek("a"), undefined);
  assert.deepEqual(cache.peek("e"), [{ name: "Segment", topic: "segment" }]);
  assert.equal(lines.filter((l) => l.includes("integration cache full")).length, 1);
  // A dropped app is looked up again when it returns; a cached one is not.
  await cache.get("a");
  await cache.get("e");
  assert.equal(source.calls, 6);
});
