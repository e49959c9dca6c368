/**
 * A 200 from the httpbroker is durable while Redis is reachable: 100 states answered 200 survive a `kill -9` at once
 * after the last answer (the real program, a real redis-server); while Redis is down the broker still accepts states
 * and its answer says they are cached but not yet persisted.
 * @module
 */
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { parseHttpBrokerArgs } from "../lib/config/httpbroker.ts";
import { startHttpBroker } from "../lib/httpbroker/service.ts";
import { silentLogger } from "../lib/log.ts";
import { baseEnv, freePort, spawnEventRouter, startRedis, waitForHttpOk, withTimeout } from "../testing/harness.ts";

Deno.test({
  name: "httpbroker: 100 states answered 200 survive a kill -9 right after the last answer",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using redis = await startRedis();
    const reader = new Redis({ host: "127.0.0.1", port: redis.port });
    const port = freePort();
    const args = ["receiver", "httpbroker", "--port", `127.0.0.1:${port}`, "--server", `127.0.0.1:${redis.port}`];
    const first = spawnEventRouter([...args, "--interval", "1h"], baseEnv(), { port });
    try {
      await waitForHttpOk(`${first.url}/ready`, 60_000, "the broker to be ready");
      // Concurrent, as a fleet of checks posts: group commit shares writes between them.
      const answers = await Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          fetch(`${first.url}/state`, {
            method: "POST",
            body: JSON.stringify({ entity: `host-${i}`, check: "ping", state: "ok", ttl: 300 }),
          }).then(async (res) => ({ status: res.status, text: await res.text() }))),
      );
      first.kill("SIGKILL");
      assert.deepEqual(answers.map((a) => a.status), new Array(100).fill(200));
      assert.ok(answers.every((a) => !a.text.includes("Not yet persisted")), answers[0]?.text);
    } finally {
      first.kill("SIGKILL");
      await withTimeout(first.exit(), 30_000, "the killed broker to exit");
    }
    assert.equal(await reader.hlen("events:httpbroker:states"), 100, "every answered state is in Redis");
    const second = spawnEventRouter([...args, "--interval", "1h"], baseEnv(), { port });
    try {
      await waitForHttpOk(`${second.url}/ready`, 60_000, "the restarted broker to be ready");
      const cached = await (await fetch(`${second.url}/state`)).json();
      assert.equal(Object.keys(cached).length, 100);
    } finally {
      second.kill("SIGTERM");
      await withTimeout(second.exit(), 30_000, "the broker to exit");
      reader.disconnect();
    }
  },
});

Deno.test({
  name: "httpbroker with Redis down accepts states and says they are cached but not yet persisted",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using redis = await startRedis();
    const config = parseHttpBrokerArgs(["--server", `127.0.0.1:${redis.port}`, "--interval", "1h"], {});
    assert.ok(config !== "version");
    const broker = await startHttpBroker(config, { logger: silentLogger, connectWaitMs: 5000 });
    const post = async (accept?: string) => {
      const res = await broker.handler(
        new Request("http://broker/state", {
          method: "POST",
          headers: accept === undefined ? {} : { accept },
          body: JSON.stringify({ entity: "e", check: "c", state: "ok" }),
        }),
      );
      return { status: res.status, text: await res.text() };
    };
    try {
      const up = await post();
      assert.equal(up.status, 200);
      assert.doesNotMatch(up.text, /Not yet persisted/);
      await redis.kill();
      const deadline = Date.now() + 10_000;
      while (broker.sink.connected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const down = await post();
      assert.equal(down.status, 200);
      assert.match(down.text, /^Caching state: .*\nNot yet persisted: Redis is unreachable/);
      assert.deepEqual(JSON.parse((await post("application/json")).text), { cached: 1, persisted: false });
      assert.ok(broker.store.get("e:c") !== undefined, "the state is kept");
    } finally {
      await broker.stop();
    }
  },
});
