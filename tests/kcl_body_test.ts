/**
 * kcl-proxy request bodies on the served fast path (`Request.json()` for a declared Content-Length) and the streamed
 * one: byte order mark, invalid UTF-8 and U+FFFD, whitespace; the cached single-event answer; and the counts kept
 * outside prom-client between scrapes.
 * @module
 */
import assert from "node:assert/strict";
import { apiKeyEntry, apiKeysFile, kclTestConfig } from "../testing/kcl.ts";
import { ApiKeys } from "../lib/kcl/api_keys.ts";
import { type KclProxy, startKclProxy } from "../lib/kcl/service.ts";
import { kcatRead, startKafka, testLogger, uniqueTopic } from "../testing/harness.ts";

const API_KEY = "k-body-0123456789";
const KEYS_FILE = apiKeysFile(apiKeyEntry(API_KEY, { id: "body", clientId: "BODY", topics: ["kcl-*"] }));

interface Answer {
  status: number;
  // deno-lint-ignore no-explicit-any
  json: any;
  text: string;
}

function post(url: string, topic: string, body: BodyInit): Promise<Answer> {
  return fetch(`${url}/events`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-api-key": API_KEY,
      "x-app-id": "BODY",
      "x-realm": "prod",
      "kcl-topic": topic,
    },
    body,
  }).then(async (res) => {
    const text = await res.text();
    return { status: res.status, json: JSON.parse(text), text };
  });
}

/** A body sent without Content-Length (chunked), so the proxy streams it. */
function chunked(bytes: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(c) {
      c.enqueue(bytes);
      c.close();
    },
  });
}

const utf8 = (s: string) => new TextEncoder().encode(s);
const event = (data: string, extra = "") =>
  `{"sourceSystem":"app","sourceSystemId":"s","authId":7,"data":{"text":"${data}"}${extra}}`;

async function withProxy(fn: (url: string, topic: string, proxy: KclProxy) => Promise<void>): Promise<void> {
  using cluster = startKafka(1);
  const topic = uniqueTopic("kcl-body");
  cluster.createTopic(topic, 1);
  const logger = testLogger();
  const config = kclTestConfig(cluster.brokers, { shutdownTimeoutMs: 5_000 });
  const proxy = await startKclProxy(config, { logger, keys: ApiKeys.fromText(KEYS_FILE, logger) });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, proxy.handler);
  try {
    await fn(`http://127.0.0.1:${(server.addr as Deno.NetAddr).port}`, topic, proxy);
    await proxy.stop();
    const got = await kcatRead(cluster.bootstrapServers, topic, { timeoutMs: 2_000 });
    // Only the valid events of the test reached Kafka, and none holds a replacement character.
    assert.ok(got.every((m) => !(m.value ?? "").includes("\uFFFD")));
  } finally {
    await proxy.stop();
    await server.shutdown();
  }
}

Deno.test("kcl-proxy bodies: BOM, invalid UTF-8, U+FFFD and whitespace are refused with 400", async (t) => {
  await withProxy(async (url, topic, proxy) => {
    await t.step(
      "a leading byte order mark is refused (it was skipped before the Request.json() fast path)",
      async () => {
        const res = await post(url, topic, utf8("\uFEFF" + event("a")));
        assert.equal(res.status, 400);
        assert.equal(res.json.error_code, 40001);
        assert.match(res.json.message, /byte order mark/);
      },
    );
    await t.step("a byte order mark in a chunked body (the streamed reader) is refused the same way", async () => {
      const res = await post(url, topic, chunked(utf8("\uFEFF" + event("a"))));
      assert.equal(res.status, 400, res.text);
      assert.equal(res.json.error_code, 40001);
      assert.match(res.json.message, /byte order mark/);
    });
    await t.step("invalid UTF-8 with a Content-Length: 400, nothing buffered", async () => {
      const good = utf8(event("ok"));
      const bad = new Uint8Array([...utf8(event("x").slice(0, -3)), 0xff, 0xfe, ...utf8('"}}')]);
      // A valid event first: the whole request is refused, so it must not be buffered either.
      const res = await post(url, topic, bulk(good, bad));
      assert.equal(res.status, 400, res.text);
      assert.equal(res.json.error_code, 40001);
      assert.match(res.json.message, /not valid UTF-8/);
      assert.doesNotMatch(await proxy.registry.metrics(), /status="accepted"/);
    });
    await t.step("a literal U+FFFD is refused the same way (indistinguishable once decoded)", async () => {
      const res = await post(url, topic, utf8(event("bad \uFFFD")));
      assert.equal(res.status, 400);
      assert.match(res.json.message, /U\+FFFD/);
    });
    await t.step("an invalid event's requestId with U+FFFD is refused too", async () => {
      const res = await post(url, topic, utf8(`{"requestId":"r-\uFFFD","authId":"x"}`));
      assert.equal(res.status, 400);
      assert.match(res.json.message, /U\+FFFD/);
    });
    await t.step("invalid UTF-8 without a Content-Length: the streamed reader's 400", async () => {
      const bad = new Uint8Array([...utf8(event("x").slice(0, -3)), 0xff, ...utf8('"}}')]);
      const res = await post(url, topic, chunked(bad));
      assert.equal(res.status, 400);
      assert.equal(res.json.error_code, 40001);
      assert.equal(res.json.message, "request body is not valid UTF-8");
    });
    await t.step("a body of only whitespace is malformed JSON", async () => {
      const res = await post(url, topic, utf8("   \n"));
      assert.equal(res.status, 400);
      assert.equal(res.json.error_code, 40001);
      assert.match(res.json.message, /^malformed JSON/);
    });
    await t.step("malformed JSON names line and column", async () => {
      const res = await post(url, topic, utf8('{"a" 1}'));
      assert.equal(res.status, 400);
      assert.match(res.json.message, /line 1 column 6/);
    });
  });
});

/** `[a,b]` from the bytes of two events. */
function bulk(a: Uint8Array, b: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array([0x5b, ...a, 0x2c, ...b, 0x5d]);
}

Deno.test(
  "kcl-proxy answers: one accepted event per class, with and without requestId; counts",
  async () => {
    await withProxy(async (url, topic, proxy) => {
      for (let i = 0; i < 2; i++) {
        const normal = await post(url, topic, event("n"));
        assert.equal(normal.status, 202);
        assert.equal(normal.text, '{"results":[{"index":0,"status":"accepted","priority":"normal"}]}');
        const high = await post(url, topic, event("h", ',"priority":25'));
        assert.equal(high.status, 202);
        assert.equal(high.text, '{"results":[{"index":0,"status":"accepted","priority":"high"}]}');
        const withId = await post(url, topic, event("r", `,"requestId":"r-${i}"`));
        assert.equal(withId.status, 202);
        assert.equal(
          withId.text,
          `{"results":[{"index":0,"status":"accepted","priority":"normal","requestId":"r-${i}"}]}`,
        );
      }
      const dup = await post(url, topic, event("r", ',"requestId":"r-0"'));
      assert.equal(dup.status, 200);
      assert.equal(dup.json.results[0].status, "duplicate");
      const invalid = await post(url, topic, utf8("{}"));
      assert.equal(invalid.status, 400);

      const text = await proxy.registry.metrics();
      assert.match(text, /kcl_http_requests_total\{code="202"\} 6\n/);
      assert.match(text, /kcl_http_requests_total\{code="200"\} 1\n/);
      assert.match(text, /kcl_http_requests_total\{code="400"\} 1\n/);
      assert.match(text, /kcl_events_total\{client="BODY",priority="normal",status="accepted"\} 4\n/);
      assert.match(text, /kcl_events_total\{client="BODY",priority="high",status="accepted"\} 2\n/);
      assert.match(text, /kcl_events_total\{client="BODY",priority="normal",status="duplicate"\} 1\n/);
      assert.match(text, /kcl_events_total\{client="BODY",priority="none",status="invalid"\} 1\n/);
      assert.match(text, /kcl_request_seconds_count 8\n/);
      // Counts are handed over once: a second read shows the same totals, not twice them.
      assert.match(await proxy.registry.metrics(), /kcl_http_requests_total\{code="202"\} 6\n/);
      // Nothing buffered and used classes only: the normal and high gauges, at the events not yet produced.
      const gauges = [...text.matchAll(/^kcl_buffer_events\{priority="(\w+)"\} (\d+)$/gm)].map((m) => m[1]).sort();
      assert.deepEqual(gauges, ["high", "normal"]);
      // Stopping flushes the buffers: every accepted event is counted as produced, once.
      const report = await proxy.stop();
      assert.equal(report.flushed, true);
      const after = await proxy.registry.metrics();
      assert.match(after, /kcl_events_total\{client="BODY",priority="normal",status="produced"\} 4\n/);
      assert.match(after, /kcl_events_total\{client="BODY",priority="high",status="produced"\} 2\n/);
      assert.match(after, /kcl_buffer_events\{priority="normal"\} 0\n/);
    });
  },
);
