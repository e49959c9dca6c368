/**
 * kcl-proxy end to end: HTTP through a real server on port 0, records read back with kcat from the mock Kafka
 * cluster (headers included), failure webhooks received and HMAC-checked by a real HTTP server.
 * @module
 */
import assert from "node:assert/strict";
import { apiKeyEntry, kclTestConfig } from "../testing/kcl.ts";
import type { KclProxyConfig } from "../lib/config/kcl_proxy.ts";
import { ApiKeys } from "../lib/kcl/api_keys.ts";
import type { ClassLimits } from "../lib/kcl/priority_batcher.ts";
import type { BatchedClass } from "../lib/kcl/priority.ts";
import { type KclProxy, startKclProxy } from "../lib/kcl/service.ts";
import {
  KafkaApiKey,
  KafkaErrorCode,
  kcatBatches,
  type KcatMessage,
  kcatRead,
  type MockKafkaCluster,
  startKafka,
  testLogger,
  uniqueTopic,
} from "../testing/harness.ts";
import { startWebhookServer } from "../testing/webhook.ts";

const API_KEY = "k-incrowd-prod-0123456789";
const PLAIN_KEY = "k-plain-other";
const WEBHOOK_SECRET = "whsec-test";

const KEYS_FILE = JSON.stringify({
  keys: [
    apiKeyEntry(API_KEY, {
      id: "incrowd-prod",
      clientId: "INCROWD",
      topics: ["rules-engine.raw.INCROWD", "kcl-*"],
      webhookSecret: WEBHOOK_SECRET,
    }),
    { id: "other", key: PLAIN_KEY, clientId: "OTHER", realms: ["dev"], topics: ["other.*"] },
  ],
});

interface Fixture {
  cluster: MockKafkaCluster;
  topic: string;
  proxy: KclProxy;
  url: string;
  post(body: unknown, headers?: Record<string, string>): Promise<{ status: number; headers: Headers; json: Body }>;
  read(expected: number, topic?: string): Promise<KcatMessage[]>;
  close(): Promise<void>;
}

// deno-lint-ignore no-explicit-any
type Body = any;

interface FixtureOptions {
  limits?: Partial<Record<BatchedClass, Partial<ClassLimits>>>;
  dedupWindowMs?: number;
  producerRetries?: number;
  partitions?: number;
  webhookAllowedHosts?: string[];
  maxBodyBytes?: number;
  shutdownTimeoutMs?: number;
  producerThread?: "worker" | "main";
  compression?: KclProxyConfig["compression"];
}

async function startFixture(opts: FixtureOptions = {}): Promise<Fixture> {
  const cluster = startKafka(3);
  const topic = uniqueTopic("kcl");
  cluster.createTopic(topic, opts.partitions ?? 3);
  const logger = testLogger();
  const config = kclTestConfig(cluster.brokers, {
    maxBodyBytes: opts.maxBodyBytes ?? 1_048_576,
    dedupWindowMs: opts.dedupWindowMs ?? 600_000,
    webhookAllowedHosts: opts.webhookAllowedHosts,
    shutdownTimeoutMs: opts.shutdownTimeoutMs ?? 10_000,
    compression: opts.compression ?? "none",
  });
  const proxy = await startKclProxy(config, {
    logger,
    keys: ApiKeys.fromText(KEYS_FILE, logger),
    limits: opts.limits,
    producerRetries: opts.producerRetries,
    producerThread: opts.producerThread,
    webhookBackoffMs: 50,
  });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, proxy.handler);
  const url = `http://127.0.0.1:${(server.addr as Deno.NetAddr).port}`;
  return {
    cluster,
    topic,
    proxy,
    url,
    async post(body, headers = {}) {
      const res = await fetch(`${url}/events`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-api-key": API_KEY,
          "x-app-id": "INCROWD",
          "x-realm": "prod",
          "kcl-topic": topic,
          ...headers,
        },
        body: typeof body === "string" ? body : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, headers: res.headers, json: text === "" ? undefined : JSON.parse(text) };
    },
    read: (expected, t = topic) => kcatRead(cluster.bootstrapServers, t, { expected, timeoutMs: 15_000 }),
    async close() {
      await proxy.stop();
      await server.shutdown();
      cluster.close();
    },
  };
}

function event(i: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { sourceSystem: "app", sourceSystemId: "login", authId: 1000 + i, data: { n: i }, ...extra };
}

// kafkajs keeps connection timers alive past disconnect, so the op/resource sanitizers are off for these tests.
const kafkaTest = { sanitizeOps: false, sanitizeResources: false };

Deno.test("immediate priority is answered after the record is on Kafka, with its offset", kafkaTest, async () => {
  const f = await startFixture();
  try {
    const res = await f.post(event(1, { priority: 30, requestId: "imm-1", createdAt: "2024-05-01T12:00:00Z" }));
    assert.equal(res.status, 200);
    const [r] = res.json.results;
    assert.equal(r.status, "produced");
    assert.equal(r.requestId, "imm-1");
    assert.equal(typeof r.partition, "number");
    assert.match(r.offset, /^\d+$/);
    const [m] = await f.read(1);
    assert.ok(m);
    assert.equal(m.partition, r.partition);
    assert.equal(m.offset, Number(r.offset));
    assert.equal(m.key, "1001");
    assert.deepEqual(m.headers, {
      "kcl-client-id": "INCROWD",
      "kcl-realm": "prod",
      "kcl-priority": "immediate",
      "kcl-request-id": "imm-1",
    });
    const value = JSON.parse(m.value ?? "null");
    assert.equal(value.createdAt, "2024-05-01T12:00:00Z");
    assert.equal(value.clientId, "INCROWD");
    assert.equal(value.realm, "prod");
    assert.equal(value.authId, 1001);
    assert.deepEqual(value.data, { n: 1 });
    assert.ok(Date.parse(value.receivedAt) > Date.parse("2024-05-01T12:00:00Z"));
  } finally {
    await f.close();
  }
});

for (const codec of ["gzip", "snappy", "lz4", "zstd"] as const) {
  for (const producerThread of ["worker", "main"] as const) {
    Deno.test(
      `KCL_KAFKA_COMPRESSION=${codec} (${producerThread} thread): batches on Kafka are ${codec}, kcat reads them back`,
      kafkaTest,
      async () => {
        const f = await startFixture({ partitions: 1, compression: codec, producerThread });
        try {
          const bulk = await f.post(Array.from({ length: 100 }, (_, i) => event(i, { requestId: `r-${i}` })));
          assert.equal(bulk.status, 202);
          const imm = await f.post(event(500, { priority: 30, requestId: "imm" }));
          assert.equal(imm.status, 200);
          assert.equal(imm.json.results[0].status, "produced");
          const got = await f.read(101);
          const byRequest = new Map(got.map((m) => [m.headers["kcl-request-id"], m]));
          for (let i = 0; i < 100; i++) {
            const m = byRequest.get(`r-${i}`);
            assert.ok(m !== undefined, `r-${i} missing`);
            assert.equal(m.key, String(1000 + i));
            assert.deepEqual(m.headers, {
              "kcl-client-id": "INCROWD",
              "kcl-realm": "prod",
              "kcl-priority": "normal",
              "kcl-request-id": `r-${i}`,
            });
            assert.deepEqual(JSON.parse(m.value ?? "null").data, { n: i });
          }
          assert.equal(byRequest.get("imm")?.headers["kcl-priority"], "immediate");
          // The bulk went out as one compressed batch; a single immediate event does not shrink and goes as is.
          const batches = await kcatBatches(f.cluster.bootstrapServers, f.topic);
          assert.ok(batches.some((b) => b.codec === codec && b.messages === 100), JSON.stringify(batches));
        } finally {
          await f.close();
        }
      },
    );
  }
}

Deno.test(
  "batched classes reach Kafka on time: high < 500 ms, normal at 100 events, normal after 2 s",
  kafkaTest,
  async (t) => {
    const f = await startFixture({ partitions: 1 });
    try {
      await t.step("high: accepted, then on Kafka within 500 ms", async () => {
        const sent = Date.now();
        const res = await f.post(event(1, { priority: 25 }));
        assert.equal(res.status, 202);
        assert.equal(res.json.results[0].status, "accepted");
        const [m] = await f.read(1);
        assert.equal(m?.headers["kcl-priority"], "high");
        const lag = (m?.timestamp ?? Infinity) - sent;
        assert.ok(lag < 500, `high event produced ${lag} ms after the request`);
        // createdAt defaults to the receive time
        const value = JSON.parse(m?.value ?? "null");
        assert.equal(value.createdAt, value.receivedAt);
      });
      await t.step("normal: a bulk of 100 is flushed at once, long before the 2 s linger", async () => {
        const sent = Date.now();
        const res = await f.post(Array.from({ length: 100 }, (_, i) => event(i)));
        assert.equal(res.status, 202);
        const got = await f.read(101);
        const normal = got.filter((m) => m.headers["kcl-priority"] === "normal");
        assert.equal(normal.length, 100);
        const lag = Math.max(...normal.map((m) => m.timestamp)) - sent;
        assert.ok(lag < 1500, `100 normal events produced ${lag} ms after the request`);
      });
      await t.step("normal: a single event is flushed about 2 s after it arrived", async () => {
        const sent = Date.now();
        const res = await f.post(event(7, { priority: 15 }));
        assert.equal(res.status, 202);
        const got = await f.read(102);
        const m = got[101];
        const lag = (m?.timestamp ?? 0) - sent;
        assert.ok(lag >= 1800 && lag < 3500, `single normal event produced ${lag} ms after the request`);
      });
    } finally {
      await f.close();
    }
  },
);

Deno.test(
  "low events are dropped when the low buffer is full while normal gets 503 with Retry-After",
  kafkaTest,
  async () => {
    // Long lingers keep everything buffered so the capacities are what decides.
    const f = await startFixture({
      limits: { low: { capacity: 5, lingerMs: 60_000 }, normal: { capacity: 5, lingerMs: 60_000 } },
    });
    try {
      const low = await f.post(Array.from({ length: 7 }, (_, i) => event(i, { priority: 3, requestId: `low-${i}` })));
      assert.equal(low.status, 207);
      assert.deepEqual(
        low.json.results.map((r: Body) => r.status),
        ["accepted", "accepted", "accepted", "accepted", "accepted", "dropped", "dropped"],
      );
      const allDropped = await f.post(event(9, { priority: 0 }));
      assert.equal(allDropped.status, 503);
      assert.equal(allDropped.json.results[0].status, "dropped");

      const normal = await f.post(Array.from({ length: 5 }, (_, i) => event(i)));
      assert.equal(normal.status, 202);
      const full = await f.post(event(6, { priority: 12 }));
      assert.equal(full.status, 503);
      assert.ok(Number(full.headers.get("retry-after")) >= 1);
      assert.equal(full.json.error_code, 50301);
      const text = await (await fetch(`${f.url}/metrics`)).text();
      assert.match(text, /kcl_events_total\{client="INCROWD",priority="low",status="dropped"\} 3/);
      assert.match(text, /kcl_buffer_events\{priority="normal"\} 5/);
      // Stopping flushes what was accepted: 5 low + 5 normal.
      await f.proxy.stop();
      const got = await f.read(10);
      assert.equal(got.filter((m) => m.headers["kcl-priority"] === "low").length, 5);
      assert.equal(got.filter((m) => m.headers["kcl-priority"] === "normal").length, 5);
      const late = await f.post(event(1, { priority: 35 }));
      assert.equal(late.status, 503, "new requests are refused once shutdown began");
      assert.equal(late.json.error_code, 50302);
    } finally {
      await f.close();
    }
  },
);

Deno.test(
  "auth matrix: 401 for missing/unknown keys, 403 for app id, realm and topic, prefix topics allowed",
  kafkaTest,
  async (t) => {
    const f = await startFixture({ webhookAllowedHosts: ["hooks.example.com"] });
    const prefixTopic = `kcl-prefix-${crypto.randomUUID().slice(0, 8)}`;
    f.cluster.createTopic(prefixTopic, 1);
    try {
      const cases: [string, Record<string, string>, number, number?][] = [
        ["no key", { "x-api-key": "" }, 401, 40101],
        ["unknown key", { "x-api-key": "nope" }, 401, 40102],
        ["wrong app id", { "x-app-id": "OTHER" }, 403, 40301],
        ["wrong realm", { "x-realm": "dev" }, 403, 40302],
        ["topic not allowed", { "kcl-topic": "rules-engine.raw.OTHER" }, 403, 40303],
        ["missing topic", { "kcl-topic": "" }, 400, 40001],
        ["webhook host not allowed", { "kcl-webhook-url": "http://evil.example.com/x" }, 400, 40003],
        ["webhook scheme not allowed", { "kcl-webhook-url": "ftp://hooks.example.com/x" }, 400, 40002],
        [
          "plain key of another client on its own topic",
          {
            "x-api-key": PLAIN_KEY,
            "x-app-id": "OTHER",
            "x-realm": "dev",
            "kcl-topic": prefixTopic,
          },
          403,
          40303,
        ],
        ["prefix topic allowed", { "kcl-topic": prefixTopic }, 200],
        ["allowed webhook host", { "kcl-topic": prefixTopic, "kcl-webhook-url": "https://hooks.example.com/f" }, 200],
      ];
      for (const [name, headers, status, code] of cases) {
        await t.step(`${name} -> ${status}`, async () => {
          const res = await f.post(event(1, { priority: 35 }), headers);
          assert.equal(res.status, status, JSON.stringify(res.json));
          if (code !== undefined) {
            assert.equal(res.json.error_code, code);
            assert.equal(typeof res.json.message, "string");
            assert.ok(Array.isArray(res.json.details));
          } else {
            assert.equal(res.json.results[0].status, "produced");
          }
        });
      }
      const got = await f.read(2, prefixTopic);
      assert.equal(got.length, 2);
    } finally {
      await f.close();
    }
  },
);

Deno.test(
  "bad input gets the spec's codes with per-item details; valid items of a mixed bulk are produced",
  kafkaTest,
  async (t) => {
    const f = await startFixture({ maxBodyBytes: 64 * 1024 });
    try {
      await t.step("malformed JSON -> 400", async () => {
        const res = await f.post('{"sourceSystem": ');
        assert.equal(res.status, 400);
        assert.equal(res.json.error_code, 40001);
        assert.match(res.json.message, /malformed JSON/);
      });
      await t.step("wrong content type -> 415", async () => {
        const res = await f.post(event(1), { "content-type": "text/plain" });
        assert.equal(res.status, 415);
        assert.equal(res.json.error_code, 41501);
      });
      await t.step("1001 events -> 413", async () => {
        const tiny = Array.from({ length: 1001 }, () => ({}));
        const res = await f.post(tiny);
        assert.equal(res.status, 413);
        assert.equal(res.json.error_code, 41302);
      });
      await t.step("oversized body -> 413", async () => {
        const res = await f.post(event(1, { data: { blob: "x".repeat(70 * 1024) } }));
        assert.equal(res.status, 413);
        assert.equal(res.json.error_code, 41301);
      });
      const invalid: [string, Record<string, unknown>, string, RegExp][] = [
        ["missing authId", { authId: undefined }, "authId", /required/],
        ["non-integer priority", { priority: 1.5 }, "priority", /integer/],
        ["bad createdAt", { createdAt: "yesterday" }, "createdAt", /ISO-8601/],
        ["data not an object", { data: [1] }, "data", /object/],
      ];
      for (const [name, patch, path, message] of invalid) {
        await t.step(`${name} -> 400 with details`, async () => {
          const res = await f.post(event(1, { requestId: `bad-${path}`, ...patch }));
          assert.equal(res.status, 400);
          assert.equal(res.json.error_code, 40010);
          const [d] = res.json.details;
          assert.equal(d.index, 0);
          assert.equal(d.requestId, `bad-${path}`);
          assert.equal(d.path, path);
          assert.match(d.message, message);
          assert.equal(res.json.results[0].status, "invalid");
        });
      }
      await t.step("mixed bulk -> 207, valid items produced", async () => {
        const res = await f.post([
          event(1, { priority: 30, requestId: "ok-1" }),
          event(2, { priority: "high", requestId: "bad-1" }),
          event(3, { priority: 31, requestId: "ok-2" }),
          { sourceSystem: "app", requestId: "bad-2" },
        ]);
        assert.equal(res.status, 207);
        const results = res.json.results;
        assert.deepEqual(results.map((r: Body) => [r.index, r.requestId, r.status]), [
          [0, "ok-1", "produced"],
          [1, "bad-1", "invalid"],
          [2, "ok-2", "produced"],
          [3, "bad-2", "invalid"],
        ]);
        assert.equal(results[1].errors[0].path, "priority");
        assert.deepEqual(results[3].errors.map((e: Body) => e.path).sort(), ["authId", "data", "sourceSystemId"]);
        const got = await f.read(2);
        assert.deepEqual(got.map((m) => m.headers["kcl-request-id"]).sort(), ["ok-1", "ok-2"]);
      });
    } finally {
      await f.close();
    }
  },
);

Deno.test("the same requestId twice within the window is a duplicate and produced once", kafkaTest, async () => {
  const f = await startFixture({ partitions: 1 });
  try {
    const first = await f.post(event(1, { priority: 30, requestId: "dup-1" }));
    assert.equal(first.json.results[0].status, "produced");
    const second = await f.post(event(1, { priority: 30, requestId: "dup-1" }));
    assert.equal(second.status, 200);
    assert.equal(second.json.results[0].status, "duplicate");
    // A batched duplicate too, and a different requestId still goes through.
    const third = await f.post([
      event(1, { requestId: "dup-1", priority: 25 }),
      event(2, { requestId: "dup-2", priority: 30 }),
    ]);
    assert.deepEqual(third.json.results.map((r: Body) => r.status), ["duplicate", "produced"]);
    const got = await f.read(2);
    await new Promise((r) => setTimeout(r, 300)); // time for a wrongly batched duplicate to show up
    const all = await kcatRead(f.cluster.bootstrapServers, f.topic, { timeoutMs: 15_000 });
    assert.equal(all.length, 2);
    assert.deepEqual(got.map((m) => m.headers["kcl-request-id"]), ["dup-1", "dup-2"]);
  } finally {
    await f.close();
  }
});

Deno.test("producers on the calling thread (the bundle's fallback) give the same answers", kafkaTest, async () => {
  const f = await startFixture({ producerThread: "main", partitions: 1 });
  try {
    const imm = await f.post(event(1, { priority: 40, requestId: "main-imm" }));
    assert.equal(imm.status, 200);
    assert.equal(imm.json.results[0].status, "produced");
    assert.equal(imm.json.results[0].offset, "0");
    const high = await f.post(event(2, { priority: 25, requestId: "main-high" }));
    assert.equal(high.status, 202);
    const read = await f.read(2);
    assert.deepEqual(read.map((m) => m.headers["kcl-request-id"]), ["main-imm", "main-high"]);
    assert.deepEqual(read.map((m) => m.key), ["1001", "1002"]);
  } finally {
    await f.close();
  }
});

Deno.test(
  "produce failures: batched -> one signed webhook with the requestId; immediate -> failed in the response",
  kafkaTest,
  async (t) => {
    const f = await startFixture({ partitions: 1, producerRetries: 1 });
    await using hooks = await startWebhookServer({ secret: WEBHOOK_SECRET });
    try {
      await t.step("batched", async () => {
        f.cluster.pushRequestErrors(KafkaApiKey.Produce, Array(10).fill(KafkaErrorCode.NOT_ENOUGH_REPLICAS));
        hooks.failNext(1); // the first webhook attempt fails; the retry must succeed
        const res = await f.post(
          [event(1, { priority: 25, requestId: "hb-1" }), event(2, { priority: 25, requestId: "hb-2" })],
          { "kcl-webhook-url": `${hooks.url}/failures` },
        );
        assert.equal(res.status, 202);
        const calls = await hooks.waitForCalls(2, 15_000);
        const ok = calls[1]!;
        assert.equal(ok.path, "/failures");
        assert.equal(ok.signatureValid, true);
        assert.equal(calls[0]!.signatureValid, true);
        const failures = (ok.json as Body).failures;
        assert.deepEqual(failures.map((x: Body) => x.requestId), ["hb-1", "hb-2"]);
        assert.equal(failures[0].topic, f.topic);
        assert.equal(typeof failures[0].error, "string");
        assert.equal(failures[0].event.authId, 1001);
        await new Promise((r) => setTimeout(r, 300));
        assert.equal(hooks.calls.length, 2, "one call per URL per flush (plus the retry)");
        const metrics = await (await fetch(`${f.url}/metrics`)).text();
        assert.match(metrics, /kcl_webhook_calls_total\{result="retry"\} 1/);
        assert.match(metrics, /kcl_webhook_calls_total\{result="ok"\} 1/);
        f.cluster.clearRequestErrors(KafkaApiKey.Produce);
      });
      await t.step("immediate", async () => {
        f.cluster.pushRequestErrors(KafkaApiKey.Produce, Array(10).fill(KafkaErrorCode.NOT_ENOUGH_REPLICAS));
        const res = await f.post(event(3, { priority: 50, requestId: "imm-fail" }));
        assert.equal(res.status, 502);
        const [r] = res.json.results;
        assert.equal(r.status, "failed");
        assert.equal(r.requestId, "imm-fail");
        assert.equal(typeof r.error, "string");
        f.cluster.clearRequestErrors(KafkaApiKey.Produce);
        // Failed events are not remembered: the retry is produced, not a duplicate.
        const retry = await f.post(event(3, { priority: 50, requestId: "imm-fail" }));
        assert.equal(retry.status, 200);
        assert.equal(retry.json.results[0].status, "produced");
      });
    } finally {
      await f.close();
    }
  },
);

Deno.test("shutdown with the cluster unreachable reports every unproduced event via webhook", kafkaTest, async () => {
  const f = await startFixture({ shutdownTimeoutMs: 1500, producerRetries: 1 });
  await using hooks = await startWebhookServer({ secret: WEBHOOK_SECRET });
  try {
    const headers = { "kcl-webhook-url": `${hooks.url}/down` };
    const res = await f.post([
      event(1, { priority: 2, requestId: "sd-low" }),
      event(2, { priority: 12, requestId: "sd-normal" }),
      event(3, { priority: 22, requestId: "sd-high" }),
    ], headers);
    assert.equal(res.status, 202);
    f.cluster.setBrokerDown(-1);
    await new Promise((r) => setTimeout(r, 300)); // the high batch is now in flight against dead brokers
    // Refused connections fail fast, so the drain ends within the deadline with every send failed.
    const report = await f.proxy.stop();
    await hooks.waitForCalls(1, 10_000);
    const ids = hooks.calls.flatMap((c) => (c.json as Body).failures.map((x: Body) => x.requestId)).sort();
    assert.deepEqual(ids, ["sd-high", "sd-low", "sd-normal"]);
    assert.ok(hooks.calls.every((c) => c.signatureValid === true));
    const metrics = await f.proxy.registry.metrics();
    const failed = [...metrics.matchAll(/kcl_events_total\{[^}]*status="(?:failed|unproduced)"[^}]*\} (\d+)/g)]
      .reduce((n, m) => n + Number(m[1]), 0);
    assert.equal(failed, 3, "every event counted as not produced");
    assert.equal(report.flushed, true, "refused connections fail within the deadline");
    assert.equal(report.unproduced, 0);
  } finally {
    f.cluster.setBrokerUp(-1);
    await f.close();
  }
});

Deno.test(
  "shutdown with a broker that never answers reports the unconfirmed batch at the deadline",
  kafkaTest,
  async () => {
    const f = await startFixture({ shutdownTimeoutMs: 1500, producerRetries: 1, partitions: 1 });
    await using hooks = await startWebhookServer({ secret: WEBHOOK_SECRET });
    try {
      // Every broker answers 20 s late: sends are in flight, neither confirmed nor failed, when the deadline comes.
      f.cluster.setRtt(-1, 20_000);
      const res = await f.post(
        [event(1, { priority: 22, requestId: "slow-high" }), event(2, { priority: 12, requestId: "slow-normal" })],
        { "kcl-webhook-url": `${hooks.url}/slow` },
      );
      assert.equal(res.status, 202);
      await new Promise((r) => setTimeout(r, 300)); // the high batch is in flight
      const report = await f.proxy.stop();
      assert.equal(report.flushed, false);
      assert.equal(report.unproduced, 2);
      await hooks.waitForCalls(1, 10_000);
      const failures = hooks.calls.flatMap((c) => (c.json as Body).failures);
      assert.deepEqual(failures.map((x: Body) => x.requestId).sort(), ["slow-high", "slow-normal"]);
      const high = failures.find((x: Body) => x.requestId === "slow-high");
      assert.match(high.error, /may or may not be on Kafka/);
    } finally {
      f.cluster.setRtt(-1, 0);
      await f.close();
    }
  },
);
