/**
 * `event-router receiver httpbroker` as a real process with real timers against a real redis-server (the wiring
 * end to end), and its flag handling (every invalid value listed, exit 2).
 * @module
 */
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { main } from "../main.ts";
import { httpBrokerCommand } from "../commands/receiver/httpbroker.ts";
import { parseHttpBrokerArgs } from "../lib/config/httpbroker.ts";
import { startRedis } from "../testing/redis.ts";
import { freePort } from "../testing/ports.ts";
import { waitForHttpOk, waitUntil, withTimeout } from "../testing/wait.ts";
import { baseEnv, spawnEventRouter } from "../testing/router_process.ts";

Deno.test("httpbroker flags: every invalid value listed at once, exit 2", async () => {
  let err = "";
  const code = await main(
    [
      "receiver",
      "httpbroker",
      "--port",
      "http",
      "--interval",
      "0s",
      "--flapjack-version",
      "3",
      "--database=-1",
      "--server",
      "nohost",
      "--log-format",
      "xml",
    ],
    {},
    { out: () => {}, err: (t) => err += t },
    [httpBrokerCommand],
  );
  assert.equal(code, 2);
  for (const flag of ["--port", "--interval", "--flapjack-version", "--database", "--server", "--log-format"]) {
    assert.match(err, new RegExp(`${flag}: `), `${flag} reported in:\n${err}`);
  }
  assert.match(err, /6 problems/);
  const unknown = await main(["receiver", "httpbroker", "--intervall", "5s"], {}, {
    out: () => {},
    err: (t) => err = t,
  }, [httpBrokerCommand]);
  assert.equal(unknown, 2);
  assert.match(err, /unknown flag: --intervall[\s\S]*--interval/);
});

Deno.test("httpbroker flags: defaults, port forms, PORT env", () => {
  const d = parseHttpBrokerArgs([], {});
  assert.ok(d !== "version");
  assert.deepEqual(
    [d.listen, d.redis, d.intervalMs, d.queue, d.flapjackVersion, d.persist, d.debug, d.logFormat],
    [
      { hostname: "0.0.0.0", port: 3090 },
      { host: "localhost", port: 6380, database: 0 },
      10_000,
      "events",
      2,
      true,
      false,
      "text",
    ],
  );
  const colon = parseHttpBrokerArgs(["--port", ":3091", "--no-persist", "--debug"], {});
  assert.ok(colon !== "version");
  assert.deepEqual(colon.listen, { hostname: "0.0.0.0", port: 3091 });
  assert.equal(colon.persist, false);
  const hostPort = parseHttpBrokerArgs(["--port=127.0.0.1:4000", "--interval=1m30s"], { PORT: "5000" });
  assert.ok(hostPort !== "version");
  assert.deepEqual(hostPort.listen, { hostname: "127.0.0.1", port: 4000 });
  assert.equal(hostPort.intervalMs, 90_000);
  const env = parseHttpBrokerArgs([], { PORT: "5000" });
  assert.ok(env !== "version");
  assert.equal(env.listen.port, 5000);
  assert.equal(parseHttpBrokerArgs(["--version"], {}), "version");
});

Deno.test("httpbroker end to end with real timers: a real process submits ok, then UNKNOWN after the ttl", async () => {
  const redis = await startRedis();
  const reader = new Redis({ host: "127.0.0.1", port: redis.port });
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../main.ts", import.meta.url).pathname,
      "receiver",
      "httpbroker",
      "--port",
      `127.0.0.1:${port}`,
      "--server",
      `127.0.0.1:${redis.port}`,
      "--interval",
      "500ms",
      "--debug",
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let logs = "";
  const collecting = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) logs += chunk;
  })();
  let killed = false;
  try {
    const url = `http://127.0.0.1:${port}`;
    await waitForHttpOk(`${url}/ready`, 30_000, "the broker process to be ready");

    const res = await fetch(`${url}/state`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ entity: "foo-app-01", check: "PING", state: "OK", tags: "apps", ttl: 1 }),
    });
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.match(text, /^Caching state: \{"entity":"foo-app-01","check":"PING","type":"service","state":"ok"/);
    const postedAt = JSON.parse(text.slice("Caching state: ".length)).time as number;

    const seen: Array<Record<string, unknown>> = [];
    await waitUntil(
      async () => {
        for (;;) {
          const v = await reader.rpop("events");
          if (v === null) break;
          seen.push(JSON.parse(v));
        }
        return seen.some((e) => e.state === "unknown");
      },
      15_000,
      "an UNKNOWN event after the 1 s ttl",
      100,
    );
    const ok = seen.filter((e) => e.state === "ok");
    const stale = seen.find((e) => e.state === "unknown") as Record<string, unknown>;
    assert.ok(ok.length >= 1, "ok submitted before the ttl ran out");
    const elapsed = (stale.time as number) - postedAt;
    assert.ok(elapsed >= 2);
    assert.equal(stale.summary, `httpbroker: Cached state is stale (${elapsed}s old, should be < 1s)`);
    assert.deepEqual(stale.tags, ["apps"]);
    assert.ok(await reader.llen("events_actions") >= seen.length);

    child.kill("SIGTERM");
    killed = true;
    const status = await child.status;
    await collecting;
    assert.equal(status.code, 0, logs);
    assert.match(logs, /^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d Booting with config: \{Port:127\.0\.0\.1:\d+ Server:127/m);
    assert.match(logs, / Number of cached states: 1\n/);
    assert.match(logs, / Sending event data for foo-app-01:PING\n/);
    assert.match(logs, / State for foo-app-01:PING is stale\. Sending UNKNOWN\.\n/);
    assert.match(logs, / Caching state: \{"entity":"foo-app-01"/);
    // --debug logs each request as the original did: method, path, client; then status and duration.
    assert.match(logs, / Started POST \/state for 127\.0\.0\.1:\d+\n/);
    assert.match(logs, / Completed 200 OK in \d+\.\d{3}(us|ms)\n/);
    // A clean shutdown: Redis ran in its worker (no fallback) and its QUIT is not reported as a lost connection.
    assert.doesNotMatch(logs, /redis worker unavailable|lost connection to redis/);
    // Persisted at shutdown and the lease given up.
    assert.equal(await reader.hexists("events:httpbroker:states", "foo-app-01:PING"), 1);
    assert.equal(await reader.exists("events:httpbroker:leader"), 0);
  } finally {
    if (!killed) {
      child.kill("SIGKILL");
      await child.status;
      await collecting;
    }
    reader.disconnect();
    await redis.stop();
  }
});

Deno.test("httpbroker: a port in use and an empty --queue are configuration errors naming them (exit 2)", async () => {
  const redis = await startRedis();
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = taken.addr.port;
    const busy = spawnEventRouter(
      ["receiver", "httpbroker", "--port", `127.0.0.1:${port}`, "--server", `127.0.0.1:${redis.port}`],
      baseEnv(),
      { port },
    );
    const { code, text } = await withTimeout(busy.exit(), 60_000, "the broker to exit");
    assert.equal(code, 2, text);
    assert.match(text, new RegExp(`port ${port} \\(--port\\): 127\\.0\\.0\\.1:${port} is already in use`));
    let err = "";
    const empty = await main(["receiver", "httpbroker", "--queue="], {}, {
      out: () => {},
      err: (t) => err += t,
    }, [httpBrokerCommand]);
    assert.equal(empty, 2);
    assert.match(err, /--queue: must not be empty/);
  } finally {
    taken.close();
    await redis.stop();
  }
});

Deno.test("httpbroker binds its port first: /health answers and /ready is 503 while Redis is not there yet", async () => {
  const port = freePort();
  const noRedis = freePort();
  const broker = spawnEventRouter(
    ["receiver", "httpbroker", "--port", `127.0.0.1:${port}`, "--server", `127.0.0.1:${noRedis}`],
    baseEnv(),
    { port },
  );
  try {
    await waitForHttpOk(`http://127.0.0.1:${port}/health`, 30_000, "/health");
    const ready = await fetch(`http://127.0.0.1:${port}/ready`);
    assert.equal(ready.status, 503);
    assert.equal((await ready.json()).checks.redis, false);
    // Past the broker's 2 s wait for Redis, so its "not reachable yet" line is in the output too.
    await new Promise((r) => setTimeout(r, 2_500));
  } finally {
    broker.kill("SIGTERM");
  }
  const { code, text } = await withTimeout(broker.exit(), 30_000, "the broker to exit");
  assert.equal(code, 0, text);
  // The port was open before the broker gave up waiting for Redis (2 s) and went on without it.
  const listening = text.indexOf(" listening ");
  const waited = text.indexOf("redis not reachable yet");
  assert.ok(listening !== -1 && waited !== -1 && listening < waited, text);
});
