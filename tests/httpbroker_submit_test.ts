/**
 * Submit runs against a real redis-server with the injected clock, read back the way Flapjack reads them
 * (`RPOP events` on a separate client): the seed's example, stale UNKNOWN, flapjack versions, queue and database,
 * persistence across restarts, a Redis outage, and two instances sharing one Redis.
 * @module
 */
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { ManualClock } from "../lib/clock.ts";
import { type HttpBrokerRawInput, loadHttpBrokerConfig } from "../lib/config/httpbroker.ts";
import { createLogger, silentLogger } from "../lib/log.ts";
import { type HttpBroker, startHttpBroker } from "../lib/httpbroker/service.ts";
import { type RedisServer, startRedis } from "../testing/redis.ts";
import { waitUntil } from "../testing/wait.ts";
import { SEED_EVENT } from "./_fixtures/seed_check_event.ts";

// 2015/04/20 14:29:56 in the seed's log is 1429504196 in some zone; any fixed start works for the rules.
const T0 = 1429505580_000;
const INTERVAL = 10_000;

async function broker(
  redis: RedisServer,
  clock: ManualClock,
  raw: HttpBrokerRawInput = {},
  logs?: string[],
  redisThread: "worker" | "main" = "worker",
): Promise<HttpBroker> {
  const config = loadHttpBrokerConfig({ server: `127.0.0.1:${redis.port}`, interval: "10s", ...raw }, {});
  const logger = logs ? createLogger({ debug: true, format: "text", write: (l) => logs.push(l) }) : silentLogger;
  const b = await startHttpBroker(config, { logger, clock, connectWaitMs: 5000, redisThread });
  await b.ticker.idle(); // the run at boot, as the original's first "Number of cached states"
  return b;
}

async function postState(b: HttpBroker, body: unknown): Promise<string> {
  const res = await b.handler(
    new Request("http://broker/state", { method: "POST", body: JSON.stringify(body) }),
  );
  const text = await res.text();
  assert.equal(res.status, 200, text);
  return text;
}

/** One interval on the manual clock, then wait for the run the timer started. */
async function tick(clock: ManualClock, ...brokers: HttpBroker[]): Promise<void> {
  await clock.advance(INTERVAL);
  for (const b of brokers) await b.ticker.idle();
}

/** Waits until the persisted hash holds `n` states; its writes go out in the persistence window (injected clock). */
async function waitPersisted(clock: ManualClock, reader: Redis, n: number): Promise<void> {
  await waitUntil(
    async () => {
      await clock.advance(100);
      return (await reader.hlen("events:httpbroker:states")) === n;
    },
    5000,
    `${n} states in the persisted hash`,
    50,
  );
}

/** Everything in the list, oldest first, as Flapjack's processor would take it. */
async function rpopAll(client: Redis, key = "events"): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for (;;) {
    const v = await client.rpop(key);
    if (v === null) return out;
    out.push(JSON.parse(v));
  }
}

Deno.test("httpbroker seed example: ok every interval with a fresh time, UNKNOWN with the stale summary after ttl", async () => {
  await using redis = await startRedis();
  const reader = new Redis({ port: redis.port, host: "127.0.0.1", lazyConnect: true });
  const clock = new ManualClock(T0);
  const logs: string[] = [];
  const b = await broker(redis, clock, {}, logs);
  try {
    await reader.connect();
    await clock.advance(2000); // the seed posts two seconds after boot
    const text = await postState(b, SEED_EVENT);
    const t = T0 / 1000 + 2;
    assert.equal(
      text,
      `Caching state: {"entity":"foo-app-01","check":"PING","type":"service","state":"ok","summary":"3 ms round trip",` +
        `"tags":["apps"],"time":${t},"ttl":30}\n`,
    );
    await clock.advance(INTERVAL - 2000);
    await b.ticker.idle();
    const expectations: Array<[number, string]> = [];
    for (let i = 1; i <= 5; i++) {
      const now = T0 / 1000 + i * 10;
      const events = await rpopAll(reader);
      assert.equal(events.length, 1, `one event at run ${i}`);
      const e = events[0] as Record<string, unknown>;
      const elapsed = now - t;
      if (elapsed <= 30) {
        assert.deepEqual(e, {
          entity: "foo-app-01",
          check: "PING",
          type: "service",
          state: "ok",
          summary: "3 ms round trip",
          tags: ["apps"],
          time: now,
        });
      } else {
        assert.deepEqual(e, {
          entity: "foo-app-01",
          check: "PING",
          type: "service",
          state: "unknown",
          summary: `httpbroker: Cached state is stale (${elapsed}s old, should be < 30s)`,
          tags: ["apps"],
          time: now,
        });
      }
      expectations.push([now, String(e.state)]);
      assert.equal(await reader.llen("events_actions"), 1);
      assert.equal(await reader.rpop("events_actions"), "+");
      if (i < 5) await tick(clock, b);
    }
    assert.deepEqual(expectations.map(([, s]) => s), ["ok", "ok", "ok", "unknown", "unknown"]);
    // The original's log lines, in plain Go-log format.
    assert.ok(logs.some((l) => /^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d Booting with config: \{Port::3090 /.test(l)));
    assert.ok(logs.some((l) => l.endsWith(" Number of cached states: 1")));
    assert.ok(logs.some((l) => l.endsWith(" Sending event data for foo-app-01:PING")));
    assert.ok(logs.some((l) => l.endsWith(" State for foo-app-01:PING is stale. Sending UNKNOWN.")));
    assert.ok(logs.some((l) => / Caching state: \{"entity":"foo-app-01"/.test(l)));
    const metrics = await (await b.handler(new Request("http://broker/metrics"))).text();
    assert.match(metrics, /httpbroker_events_submitted_total\{state="ok"\} 3/);
    assert.match(metrics, /httpbroker_events_submitted_total\{state="unknown"\} 2/);
  } finally {
    await b.stop();
    reader.disconnect();
  }
});

Deno.test("httpbroker negative ttl never goes stale; the interval does not drift", async () => {
  await using redis = await startRedis();
  const reader = new Redis({ port: redis.port, host: "127.0.0.1" });
  const clock = new ManualClock(T0);
  const b = await broker(redis, clock, { flapjackVersion: "1" });
  try {
    await postState(b, { entity: "e", check: "forever", state: "critical", ttl: -1, time: 5 });
    // Advance in uneven steps: runs still happen exactly at T0 + k * interval.
    await clock.advance(3_000);
    await clock.advance(9_000);
    await b.ticker.idle();
    await clock.advance(8_000);
    await b.ticker.idle();
    const events = await rpopAll(reader);
    assert.deepEqual(events.map((e) => [e.state, e.time]), [
      ["critical", T0 / 1000 + 10],
      ["critical", T0 / 1000 + 20],
    ]);
    assert.equal(await reader.exists("events_actions"), 0, "flapjack version 1 writes no _actions");
  } finally {
    await b.stop();
    reader.disconnect();
  }
});

Deno.test("httpbroker honours --queue, --database and --flapjack-version 2", async () => {
  await using redis = await startRedis();
  const db3 = new Redis({ port: redis.port, host: "127.0.0.1", db: 3 });
  const db0 = new Redis({ port: redis.port, host: "127.0.0.1", db: 0 });
  const clock = new ManualClock(T0);
  const b = await broker(redis, clock, { queue: "flapjack_in", database: "3" });
  try {
    await postState(b, [
      { entity: "a", check: "1", state: "ok" },
      { entity: "b", check: "2", state: "warning" },
    ]);
    await tick(clock, b);
    const events = await rpopAll(db3, "flapjack_in");
    assert.deepEqual(events.map((e) => `${e.entity}:${e.check}:${e.state}`).sort(), ["a:1:ok", "b:2:warning"]);
    assert.deepEqual(await db3.lrange("flapjack_in_actions", 0, -1), ["+", "+"]);
    assert.deepEqual(await db0.keys("*"), [], "nothing in database 0");
    assert.equal(await db3.exists("events"), 0);
    assert.equal(await db3.hlen("flapjack_in:httpbroker:states"), 2);
  } finally {
    await b.stop();
    db3.disconnect();
    db0.disconnect();
  }
});

Deno.test("httpbroker restart: states come back from redis and keep being submitted; --no-persist starts empty", async () => {
  await using redis = await startRedis();
  const reader = new Redis({ port: redis.port, host: "127.0.0.1" });
  const clock = new ManualClock(T0);
  try {
    const first = await broker(redis, clock);
    await postState(first, [
      { entity: "a", check: "1", state: "ok", ttl: 100 },
      { entity: "b", check: "2", state: "critical", details: "disk full" },
    ]);
    const del = await first.handler(new Request("http://broker/state/b/2", { method: "DELETE" }));
    assert.equal(del.status, 200);
    await del.body?.cancel();
    await postState(first, { entity: "c", check: "3", state: "warning" });
    await first.stop(); // the final flush writes what the 100 ms window had not yet
    assert.deepEqual((await reader.hkeys("events:httpbroker:states")).sort(), ["a:1", "c:3"]);
    assert.equal(await reader.exists("events:httpbroker:leader"), 0, "lease released at shutdown");

    const second = await broker(redis, clock);
    try {
      assert.deepEqual(Object.keys(second.store.snapshot()).sort(), ["a:1", "c:3"]);
      await rpopAll(reader);
      await tick(clock, second);
      const events = await rpopAll(reader);
      assert.deepEqual(events.map((e) => `${e.entity}:${e.check}:${e.state}`).sort(), ["a:1:ok", "c:3:warning"]);
    } finally {
      await second.stop();
    }

    const memoryOnly = await broker(redis, clock, { noPersist: true });
    try {
      assert.equal(memoryOnly.store.size, 0);
      await postState(memoryOnly, { entity: "d", check: "4", state: "ok" });
      await tick(clock, memoryOnly);
      const events = await rpopAll(reader);
      assert.deepEqual(events.map((e) => `${e.entity}:${e.check}`), ["d:4"]);
    } finally {
      await memoryOnly.stop();
    }
    assert.equal(await reader.hexists("events:httpbroker:states", "d:4"), 0, "--no-persist writes no hash");
  } finally {
    reader.disconnect();
  }
});

// Both placements of the Redis client: the worker (default) and the calling thread (single-file bundles).
for (const thread of ["worker", "main"] as const) {
  Deno.test(`httpbroker survives a redis outage (redis on the ${thread} thread): accepts requests, resumes submitting, rewrites the hash`, async () => {
    await using redis = await startRedis();
    const reader = new Redis({ port: redis.port, host: "127.0.0.1", lazyConnect: true, retryStrategy: () => 50 });
    reader.on("error", () => {});
    const clock = new ManualClock(T0);
    const b = await broker(redis, clock, {}, undefined, thread);
    try {
      await reader.connect();
      await postState(b, { entity: "before", check: "x", state: "ok", ttl: 1000 });
      await tick(clock, b);
      assert.equal((await rpopAll(reader)).length, 1);

      await redis.kill();
      await waitUntil(() => !b.sink.connected, 5000, "the broker to notice redis is gone");
      const notReady = await b.handler(new Request("http://broker/ready"));
      assert.equal(notReady.status, 503);
      await notReady.body?.cancel();
      for (let i = 0; i < 3; i++) {
        await postState(b, { entity: "during", check: String(i), state: "warning", ttl: 1000 });
        await tick(clock, b);
        assert.equal(b.submitter.lastOutcome, "redis-down");
      }
      assert.equal(b.store.size, 4);

      await redis.restart(); // comes back empty: --save "" means nothing survived the kill
      await waitUntil(() => b.sink.connected && reader.status === "ready", 10_000, "both clients to reconnect");
      await waitPersisted(clock, reader, 4);
      await tick(clock, b);
      assert.equal(b.submitter.lastOutcome, "submitted");
      const events = await rpopAll(reader);
      assert.deepEqual(
        events.map((e) => `${e.entity}:${e.check}`).sort(),
        ["before:x", "during:0", "during:1", "during:2"],
      );
    } finally {
      await b.stop();
      reader.disconnect();
    }
  });
}

Deno.test("httpbroker two instances on one redis: one submission per state per interval", async () => {
  await using redis = await startRedis();
  const reader = new Redis({ port: redis.port, host: "127.0.0.1" });
  const clock = new ManualClock(T0);
  const a = await broker(redis, clock);
  const b = await broker(redis, clock);
  let aStopped = false;
  try {
    await postState(a, { entity: "posted-to", check: "a", state: "ok" });
    await postState(b, { entity: "posted-to", check: "b", state: "warning" });
    await clock.advance(100); // persistence window: both write to the shared hash
    await a.persistence?.flush();
    await b.persistence?.flush();
    await rpopAll(reader);
    for (let i = 0; i < 3; i++) {
      await tick(clock, a, b);
      const events = await rpopAll(reader);
      assert.deepEqual(
        events.map((e) => `${e.entity}:${e.check}`).sort(),
        ["posted-to:a", "posted-to:b"],
        `run ${i}: each state exactly once`,
      );
      assert.equal(await reader.llen("events_actions"), 2);
      await reader.del("events_actions");
    }
    const leader = a.lease?.held ? a : b;
    const follower = leader === a ? b : a;
    assert.equal(follower.lease?.held, false);
    // The leader stops (releasing its lease); the other takes over at its next tick.
    await leader.stop();
    aStopped = leader === a;
    await tick(clock, follower);
    const events = await rpopAll(reader);
    assert.deepEqual(events.map((e) => `${e.entity}:${e.check}`).sort(), ["posted-to:a", "posted-to:b"]);
    assert.equal(follower.lease?.held, true);
  } finally {
    if (!aStopped) await a.stop();
    await b.stop();
    reader.disconnect();
  }
});

Deno.test("httpbroker survives its redis worker crashing: states accepted meanwhile are persisted and submitted", async () => {
  await using redis = await startRedis();
  const reader = new Redis({ port: redis.port, host: "127.0.0.1", lazyConnect: true });
  const clock = new ManualClock(T0);
  const logs: string[] = [];
  const config = loadHttpBrokerConfig({ server: `127.0.0.1:${redis.port}`, interval: "10s" }, {});
  const b = await startHttpBroker(config, {
    logger: createLogger({ format: "text", write: (l) => logs.push(l) }),
    clock,
    connectWaitMs: 5000,
    redisWorker: {
      entry: new URL("./_fixtures/crashing_redis_worker_entry.ts", import.meta.url).href,
      restartDelayMs: 200,
    },
  });
  try {
    await b.ticker.idle();
    await reader.connect();
    await postState(b, { entity: "before", check: "x", state: "ok", ttl: 1000 });
    await clock.advance(100);
    await b.persistence?.flush();

    await assert.rejects(b.sink.redis.command(["crash-worker"]), /redis worker crashed/);
    assert.equal(b.sink.connected, false, "the crash is a lost connection");
    const notReady = await b.handler(new Request("http://broker/ready"));
    assert.equal(notReady.status, 503);
    await notReady.body?.cancel();
    // Accepted while no worker runs.
    await postState(b, { entity: "during", check: "y", state: "critical", ttl: 1000 });
    await tick(clock, b);
    assert.equal(b.submitter.lastOutcome, "redis-down");

    await waitUntil(() => b.sink.connected, 10_000, "the replacement worker to connect");
    // The reconnection rewrites every state.
    await waitPersisted(clock, reader, 2);
    await tick(clock, b);
    assert.equal(b.submitter.lastOutcome, "submitted");
    const events = await rpopAll(reader);
    assert.deepEqual(events.map((e) => `${e.entity}:${e.check}:${e.state}`).sort(), [
      "before:x:ok",
      "during:y:critical",
    ]);
    assert.ok(logs.some((l) => l.includes("redis worker crashed") && l.includes("replacing it")), logs.join("\n"));
  } finally {
    await b.stop();
    reader.disconnect();
  }
});
