/**
 * `deno run -A main.ts kcl-proxy` as a real subprocess: config errors exit 2, SIGHUP reloads the API keys (keeping
 * them when the new file is invalid), and SIGTERM with events buffered in every class puts them all on Kafka and
 * exits 0.
 * @module
 */
import assert from "node:assert/strict";
import { apiKeyEntry } from "../testing/kcl.ts";
import { kcatRead, startKafka, uniqueTopic, waitUntil, withTimeout } from "../testing/harness.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

function keyEntry(id: string, key: string, clientId: string, topics: string[]) {
  return apiKeyEntry(key, { id, clientId, topics });
}

/** Collects a child's stderr lines and resolves the listen address from its "listening" log line. */
function watchStderr(stream: ReadableStream<Uint8Array>) {
  const lines: string[] = [];
  let onLine: (() => void) | undefined;
  const done = (async () => {
    let rest = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      rest += chunk;
      const parts = rest.split("\n");
      rest = parts.pop() ?? "";
      lines.push(...parts);
      onLine?.();
    }
    if (rest !== "") lines.push(rest);
  })();
  const address = new Promise<string>((resolve, reject) => {
    onLine = () => {
      for (const l of lines) {
        const m = /"msg":"listening".*"address":"([^"]+)"/.exec(l);
        if (m) return resolve(m[1]!);
      }
    };
    done.then(() => reject(new Error(`exited before listening:\n${lines.join("\n")}`)));
  });
  return { lines, address, done };
}

Deno.test("kcl-proxy refuses bad config with exit 2 listing every problem", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "kcl-proxy", "--port", "nope"],
    env: { KCL_DEDUP_WINDOW: "later" },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 2);
  const err = new TextDecoder().decode(out.stderr);
  for (const name of ["KCL_BOOTSTRAP_SERVERS", "KCL_API_KEYS_FILE", "--port", "KCL_DEDUP_WINDOW"]) {
    assert.match(err, new RegExp(name));
  }
});

Deno.test(
  "kcl-proxy subprocess: SIGHUP reloads keys; SIGTERM flushes every class to Kafka and exits 0",
  async () => {
    using cluster = startKafka(3);
    const topic = uniqueTopic("kcl-cli");
    const otherTopic = uniqueTopic("other-cli");
    cluster.createTopic(topic, 2);
    cluster.createTopic(otherTopic, 1);
    const dir = await Deno.makeTempDir();
    const keysPath = `${dir}/keys.json`;
    const keyA = keyEntry("a", "key-a", "INCROWD", ["kcl-cli-*"]);
    const keyB = keyEntry("b", "key-b", "OTHER", [otherTopic]);
    await Deno.writeTextFile(keysPath, JSON.stringify({ keys: [keyA] }));
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, "kcl-proxy", "--port", "0", "--host", "127.0.0.1", "--api-keys", keysPath],
      env: { KCL_BOOTSTRAP_SERVERS: cluster.bootstrapServers, KCL_SHUTDOWN_TIMEOUT: "15s" },
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const stderr = watchStderr(child.stderr);
    try {
      const address = await withTimeout(stderr.address, 30_000, "kcl-proxy to listen");
      // The port opens before the proxy has started: wait until it is ready (Kafka is up here).
      await waitUntil(
        () => fetch(`http://${address}/ready`).then((r) => r.body?.cancel().then(() => r.ok) ?? r.ok),
        30_000,
        "kcl-proxy to be ready",
      );
      const post = async (key: string, app: string, t: string, body: unknown) => {
        const res = await fetch(`http://${address}/events`, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            "x-api-key": key,
            "x-app-id": app,
            "x-realm": "prod",
            "kcl-topic": t,
          },
          body: JSON.stringify(body),
        });
        return { status: res.status, json: await res.json() };
      };
      const ev = (i: number, priority: number) => ({
        sourceSystem: "cli",
        sourceSystemId: "test",
        authId: i,
        priority,
        requestId: `cli-${priority}-${i}`,
        data: { i },
      });

      // SIGHUP: a key added to the file works after the reload; an invalid file keeps the keys in use.
      assert.equal((await post("key-b", "OTHER", otherTopic, ev(1, 40))).status, 401);
      await Deno.writeTextFile(keysPath, JSON.stringify({ keys: [keyA, keyB] }));
      child.kill("SIGHUP");
      await waitUntil(
        async () => (await post("key-b", "OTHER", otherTopic, ev(1, 40))).status === 200,
        10_000,
        "reload",
      );
      await Deno.writeTextFile(keysPath, "{ not json");
      child.kill("SIGHUP");
      await waitUntil(() => stderr.lines.some((l) => l.includes("reload failed")), 10_000, "failed reload logged");
      assert.equal((await post("key-b", "OTHER", otherTopic, ev(2, 40))).status, 200);
      assert.ok(stderr.lines.every((l) => !l.includes("key-a") && !l.includes("key-b")), "keys never logged");

      // Events in every class; low (5 s) and normal (2 s) are certainly still buffered at SIGTERM.
      const low = await post("key-a", "INCROWD", topic, [ev(1, 1), ev(2, 5), ev(3, 9)]);
      assert.equal(low.status, 202);
      const normal = await post("key-a", "INCROWD", topic, [ev(4, 10), ev(5, 15)]);
      assert.equal(normal.status, 202);
      const immediate = await post("key-a", "INCROWD", topic, [ev(6, 30)]);
      assert.equal(immediate.status, 200);
      const high = await post("key-a", "INCROWD", topic, [ev(7, 20), ev(8, 29)]);
      assert.equal(high.status, 202);
      child.kill("SIGTERM");
      const status = await withTimeout(child.status, 30_000, "kcl-proxy to exit");
      assert.equal(status.code, 0);

      const got = await kcatRead(cluster.bootstrapServers, topic, { expected: 8, timeoutMs: 15_000 });
      const byClass: Record<string, number> = {};
      for (const m of got) byClass[m.headers["kcl-priority"]!] = (byClass[m.headers["kcl-priority"]!] ?? 0) + 1;
      assert.deepEqual(byClass, { low: 3, normal: 2, immediate: 1, high: 2 });
      assert.deepEqual(got.map((m) => JSON.parse(m.value!).authId).sort(), [1, 2, 3, 4, 5, 6, 7, 8]);
    } finally {
      try {
        child.kill("SIGKILL");
      } catch {
        // already exited
      }
      await child.status;
      await stderr.done.catch(() => {});
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test("kcl-proxy opens its port first: /health answers and /ready is 503 while its API keys still load", async () => {
  // A large keys file makes the start-up window wide enough to look into (loading it takes a noticeable time).
  const dir = await Deno.makeTempDir();
  const keysFile = `${dir}/keys.json`;
  const entries: string[] = [];
  for (let i = 0; i < 150_000; i++) {
    entries.push(JSON.stringify(keyEntry(`k${i}`, `key-${i}`, `client-${i}`, ["events"])));
  }
  await Deno.writeTextFile(keysFile, `{"keys":[${entries.join(",")}]}`);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "kcl-proxy", "--port", "0", "--host", "127.0.0.1"],
    // Nothing listens on port 1: Kafka stays unreachable, which must not hold the port back either.
    env: { KCL_BOOTSTRAP_SERVERS: "127.0.0.1:1", KCL_API_KEYS_FILE: keysFile },
    clearEnv: true,
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const err = watchStderr(child.stderr);
  try {
    const address = await withTimeout(err.address, 60_000, "the listening line");
    const seen: string[] = [];
    await waitUntil(
      async () => {
        const health = await fetch(`http://${address}/health`);
        await health.body?.cancel();
        const ready = await fetch(`http://${address}/ready`);
        const body = await ready.json() as { ready: boolean; checks: Record<string, boolean> };
        const events = await fetch(`http://${address}/events`, { method: "POST", body: "[]" });
        const eventsBody = await events.text();
        seen.push(`${health.status} ${ready.status} ${events.status}`);
        if (events.status === 503) {
          assert.equal(health.status, 200);
          assert.equal(ready.status, 503);
          assert.deepEqual(body, { ready: false, checks: { kafka: false } });
          assert.match(eventsBody, /the proxy is starting/);
          return true;
        }
        return false;
      },
      5_000,
      "a request answered while the proxy is still starting",
    );
    // Then the proxy proper answers (401 without an API key); Kafka is still down, so /ready stays 503.
    await waitUntil(
      async () => {
        const res = await fetch(`http://${address}/events`, { method: "POST", body: "[]" });
        await res.body?.cancel();
        return res.status === 401;
      },
      60_000,
      "the proxy's own answer after start-up",
    );
    const ready = await fetch(`http://${address}/ready`);
    await ready.body?.cancel();
    assert.equal(ready.status, 503);
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await err.done;
    await Deno.remove(dir, { recursive: true });
  }
});
