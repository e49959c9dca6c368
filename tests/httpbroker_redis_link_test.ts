/**
 * The broker's Redis link against a real redis-server, in both placements (a worker thread, the calling thread):
 * transactions and commands answer like ioredis, errors name the failing command, a killed and restarted Redis is
 * reported and reconnected, a crashed or stuck worker is replaced, and a clean close is not reported as a loss.
 * @module
 */
import assert from "node:assert/strict";
import { createLogger } from "../lib/log.ts";
import { DirectRedisLink } from "../lib/httpbroker/direct_redis.ts";
import { FlapjackSink } from "../lib/httpbroker/flapjack_sink.ts";
import type { RedisLink, RedisLinkEvents } from "../lib/httpbroker/redis_link.ts";
import { RedisWorkerUnavailableError, WorkerRedisLink } from "../lib/httpbroker/worker_redis.ts";
import { startRedis } from "../testing/redis.ts";
import { waitUntil, withTimeout } from "../testing/wait.ts";

const CRASHING_ENTRY = new URL("./_fixtures/crashing_redis_worker_entry.ts", import.meta.url).href;

/** A worker link on the crashing fixture entry, with its log lines. */
async function crashingLink(
  port: number,
  o: { restartDelayMs: number; callTimeoutMs?: number },
): Promise<{ link: WorkerRedisLink; logs: string[] }> {
  const logs: string[] = [];
  const logger = createLogger({ format: "text", write: (l) => logs.push(l) });
  const link = await WorkerRedisLink.start({ host: "127.0.0.1", port, database: 0 }, {
    logger,
    entry: CRASHING_ENTRY,
    ...o,
  });
  return { link, logs };
}

/** Counts what a link reports. */
function recorder(): RedisLinkEvents & { readies: number; closes: number; errors: string[] } {
  const r = {
    readies: 0,
    closes: 0,
    errors: [] as string[],
    ready: () => void r.readies++,
    closed: () => void r.closes++,
    error: (m: string) => void r.errors.push(m),
  };
  return r;
}

for (const thread of ["worker", "main"] as const) {
  Deno.test(`httpbroker redis link (${thread} thread): replies, errors, outage and reconnect`, async () => {
    await using redis = await startRedis();
    const logs: string[] = [];
    const logger = createLogger({ format: "text", write: (l) => logs.push(l) });
    const options = { host: "127.0.0.1", port: redis.port, database: 3, maxBackoffMs: 100 };
    const link: RedisLink = thread === "worker"
      ? await WorkerRedisLink.start(options, { logger })
      : new DirectRedisLink(options);
    const events = recorder();
    try {
      link.start(events);
      await waitUntil(() => events.readies === 1, 5000, "the first connection");

      assert.deepEqual(
        await link.transaction([["hset", "h", "a", "1", "b", "2"], ["hgetall", "h"], ["incr", "g"], ["get", "nope"]]),
        [2, { a: "1", b: "2" }, 1, null],
      );
      assert.equal(await link.command(["set", "lease", "me", "PX", 60_000, "NX"]), "OK");
      assert.equal(await link.command(["set", "lease", "you", "PX", 60_000, "NX"]), null);
      // The database option is honoured: db 0 does not see the hash.
      assert.deepEqual(await link.transaction([["select", 0], ["exists", "h"], ["select", 3]]), ["OK", 0, "OK"]);
      await assert.rejects(link.command(["lpush", "h", "x"]), /WRONGTYPE/);
      await assert.rejects(link.transaction([["incr", "g"], ["lpush", "h", "x"]]), /WRONGTYPE/);
      await assert.rejects(link.command(["no-such-command"]), /unknown command/i);

      await redis.kill();
      await waitUntil(() => events.closes >= 1, 5000, "the link to report the lost connection");
      // Fails fast while Redis is down instead of queueing the command.
      await withTimeout(assert.rejects(link.command(["ping"])), 2000, "a command while redis is down");
      await waitUntil(() => events.errors.length >= 1, 5000, "the failed reconnect attempts to be reported");

      await redis.restart();
      await waitUntil(() => events.readies === 2, 10_000, "the link to reconnect");
      assert.equal(await link.command(["ping"]), "PONG");
    } finally {
      await link.close();
    }
    await assert.rejects(link.command(["ping"]), "closed links refuse commands");
  });
}

Deno.test("httpbroker redis worker: a crashed worker fails what it held, is replaced, and reconnects", async () => {
  await using redis = await startRedis();
  const { link, logs } = await crashingLink(redis.port, { restartDelayMs: 50 });
  const events = recorder();
  try {
    link.start(events);
    await waitUntil(() => events.readies === 1, 5000, "the first connection");
    await link.command(["rpush", "kept", "1"]);

    await assert.rejects(link.command(["crash-worker"]), /redis worker crashed: .*redis worker blew up/);
    assert.equal(events.closes, 1, "the crash is reported as a lost connection");
    assert.ok(logs.some((l) => l.includes("redis worker crashed") && l.includes("replacing it")), logs.join("\n"));
    await assert.rejects(link.command(["ping"]), /redis worker crashed/, "commands fail fast until the replacement");

    await waitUntil(() => events.readies === 2, 10_000, "the replacement worker to connect");
    assert.deepEqual(await link.command(["lrange", "kept", 0, -1]), ["1"]);
  } finally {
    await link.close();
  }
});

Deno.test("httpbroker redis worker: a worker that stops answering is taken for dead and replaced", async () => {
  await using redis = await startRedis();
  const { link, logs } = await crashingLink(redis.port, { restartDelayMs: 50, callTimeoutMs: 300 });
  const events = recorder();
  try {
    link.start(events);
    await waitUntil(() => events.readies === 1, 5000, "the first connection");
    // A call the worker never answers must not hang its caller (a submit run, a flush, the shutdown).
    const other = link.command(["ping"]);
    await assert.rejects(link.command(["ignore-me"]), /redis worker did not answer within 300 ms/);
    await assert.doesNotReject(other, "answered before the deadline");
    assert.equal(events.closes, 1);
    assert.ok(logs.some((l) => l.includes("did not answer") && l.includes("replacing it")), logs.join("\n"));
    await waitUntil(() => events.readies === 2, 10_000, "the replacement worker to connect");
    assert.equal(await link.command(["ping"]), "PONG");
  } finally {
    await link.close();
  }
});

for (const thread of ["worker", "main"] as const) {
  Deno.test(`httpbroker sink (redis on the ${thread} thread): a clean close is not logged as a lost connection`, async () => {
    await using redis = await startRedis();
    const logs: string[] = [];
    const logger = createLogger({ format: "text", write: (l) => logs.push(l) });
    const options = { host: "127.0.0.1", port: redis.port, database: 0 };
    const link = thread === "worker" ? await WorkerRedisLink.start(options, { logger }) : new DirectRedisLink(options);
    const sink = new FlapjackSink({ link, server: redis.url, queue: "events", flapjackVersion: 2, logger });
    try {
      sink.start();
      assert.ok(await sink.waitReady(5000), "connected");
      await sink.submit(["{}"]);
      await sink.close();
      // Let a late close event arrive before looking.
      await new Promise((r) => setTimeout(r, 100));
      assert.ok(logs.some((l) => l.includes("connected to redis")), logs.join("\n"));
      assert.ok(!logs.some((l) => l.includes("lost connection")), logs.join("\n"));
    } finally {
      await sink.close();
    }
  });
}

Deno.test("httpbroker redis worker: an entry that cannot load is reported as unavailable", async () => {
  const logger = createLogger({ format: "text", write: () => {} });
  await assert.rejects(
    WorkerRedisLink.start(
      { host: "127.0.0.1", port: 1, database: 0 },
      { logger, entry: new URL("./_fixtures/no_such_worker.ts", import.meta.url).href },
    ),
    RedisWorkerUnavailableError,
  );
});
