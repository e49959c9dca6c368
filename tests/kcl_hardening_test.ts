/**
 * kcl-proxy edge cases found in review: a request whose body is still arriving when shutdown begins, webhook
 * redirects leaving the allow-list, webhook URLs with credentials, and a crashed producer worker.
 * @module
 */
import assert from "node:assert/strict";
import { systemClock } from "../lib/clock.ts";
import { apiKeyEntry, apiKeysFile, kclTestConfig } from "../testing/kcl.ts";
import { HttpError } from "../lib/http/errors.ts";
import { createLogger } from "../lib/log.ts";
import { ProducerWorker } from "../lib/kafka/worker_producer.ts";
import { ApiKeys } from "../lib/kcl/api_keys.ts";
import { checkWebhookUrl } from "../lib/kcl/auth.ts";
import { startKclProxy } from "../lib/kcl/service.ts";
import { WebhookNotifier } from "../lib/kcl/webhook_notifier.ts";
import { createKclMetrics } from "../lib/kcl/metrics.ts";
import { createRegistry } from "../lib/metrics.ts";
import { kcatRead, startKafka, testLogger, uniqueTopic, waitUntil, withTimeout } from "../testing/harness.ts";
import { startWebhookServer } from "../testing/webhook.ts";

const API_KEY = "k-review-0123456789";
const KEYS_FILE = apiKeysFile(apiKeyEntry(API_KEY, { id: "review", clientId: "REVIEW", topics: ["kcl-*"] }));

Deno.test(
  "a request whose body arrives after shutdown began is refused with 503, not accepted and lost",
  async () => {
    using cluster = startKafka(1);
    const topic = uniqueTopic("kcl-late");
    cluster.createTopic(topic, 1);
    const logger = testLogger();
    const config = kclTestConfig(cluster.brokers, { shutdownTimeoutMs: 5_000 });
    const proxy = await startKclProxy(config, { logger, keys: ApiKeys.fromText(KEYS_FILE, logger) });
    let body!: ReadableStreamDefaultController<Uint8Array>;
    const stream = new ReadableStream<Uint8Array>({ start: (c) => void (body = c) });
    const req = new Request("http://127.0.0.1/events", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-api-key": API_KEY,
        "x-app-id": "REVIEW",
        "x-realm": "prod",
        "kcl-topic": topic,
      },
      body: stream,
    });
    const answer = proxy.handler(req);
    // The request is past the closing check and waits for its body while the proxy drains and disconnects.
    const report = await proxy.stop();
    assert.equal(report.flushed, true);
    const event = { sourceSystem: "app", sourceSystemId: "s", authId: 7, priority: 15, data: { late: true } };
    body.enqueue(new TextEncoder().encode(JSON.stringify(event)));
    body.close();
    const res = await answer;
    const json = await res.json();
    assert.equal(res.status, 503, `late request answered ${res.status}: ${JSON.stringify(json)}`);
    assert.ok(res.headers.get("retry-after"));
    const got = await kcatRead(cluster.bootstrapServers, topic, { timeoutMs: 2_000 });
    assert.equal(got.length, 0);
  },
);

Deno.test("failure webhooks do not follow redirects off the allowed host", async () => {
  await using evil = await startWebhookServer();
  const redirector = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    await req.body?.cancel();
    return new Response(null, { status: 307, headers: { location: `${evil.url}/stolen` } });
  });
  try {
    const registry = createRegistry();
    const metrics = createKclMetrics(registry);
    const notifier = new WebhookNotifier({
      clock: systemClock,
      logger: testLogger(),
      metrics,
      tries: 1,
    });
    const url = `http://127.0.0.1:${(redirector.addr as Deno.NetAddr).port}/hook`;
    notifier.report([{ url, failure: { requestId: "r-1", topic: "t", error: "boom", event: { secret: "data" } } }]);
    await withTimeout(notifier.idle(), 5_000, "webhook call");
    assert.equal(evil.calls.length, 0, "the failure report was re-posted to the redirect target");
    const failed = (await registry.getSingleMetric("kcl_webhook_calls_total")?.get())?.values
      .find((v) => v.labels["result"] === "failed")?.value;
    assert.equal(failed, 1);
  } finally {
    await redirector.shutdown();
  }
});

Deno.test("a webhook URL with user name or password is rejected up front with 400", () => {
  for (const url of ["http://user:pw@127.0.0.1/hook", "http://allowed@evil.example/hook", "https://u@hooks.example/"]) {
    assert.throws(() => checkWebhookUrl(url, undefined), (err: unknown) => {
      assert.ok(err instanceof HttpError, `${url}: ${err}`);
      assert.equal(err.status, 400);
      return true;
    }, url);
  }
  // The allow-list is checked on the real host, whatever the case or the userinfo says.
  assert.equal(
    checkWebhookUrl("http://HOOKS.example:8080/x", new Set(["hooks.example"])),
    "http://hooks.example:8080/x",
  );
  assert.throws(() => checkWebhookUrl("http://hooks.example.evil.test/x", new Set(["hooks.example"])), HttpError);
  assert.throws(() => checkWebhookUrl("http://[::1]:9/x", new Set(["hooks.example"])), HttpError);
  assert.equal(checkWebhookUrl("http://[::1]:9/x", new Set(["[::1]"])), "http://[::1]:9/x");
});

Deno.test("a producer worker that crashes after start is logged and reported through its crashed promise", async () => {
  const entry = new URL("./_fixtures/crashing_producer_worker_entry.ts", import.meta.url).href;
  const lines: string[] = [];
  const logger = createLogger({ write: (l) => lines.push(l) });
  const worker = await ProducerWorker.start({
    brokers: ["127.0.0.1:1"],
    clientId: "t",
    logger,
    entry,
    producers: [{}],
  });
  try {
    const [d] = await worker.producer(0).send([{ topic: "t", value: "x" }]);
    assert.equal(d?.ok, false);
    await assert.rejects(withTimeout(worker.crashed, 5_000, "crash report"), /crashed/);
    assert.equal(worker.connected, false);
    assert.ok(lines.some((l) => l.includes('"level":"error"') && l.includes("crashed")), lines.join("\n"));
  } finally {
    await worker.close();
  }
});

Deno.test("failure webhooks: past maxCalls in progress a report is dropped with an error line and counted", async () => {
  // A webhook that holds every call: calls pile up as they would while a receiver hangs.
  const held: Array<() => void> = [];
  const hanging = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    await req.body?.cancel();
    await new Promise<void>((r) => held.push(r));
    return new Response("ok");
  });
  try {
    const registry = createRegistry();
    const metrics = createKclMetrics(registry);
    const lines: string[] = [];
    const notifier = new WebhookNotifier({
      clock: systemClock,
      logger: createLogger({ write: (l) => lines.push(l) }),
      metrics,
      tries: 1,
      maxCalls: 2,
    });
    const url = `http://127.0.0.1:${(hanging.addr as Deno.NetAddr).port}/hook`;
    for (let i = 0; i < 3; i++) {
      notifier.report([{ url, failure: { requestId: `r-${i}`, topic: "t", error: "boom", event: {} } }]);
    }
    assert.equal(notifier.pending, 2);
    const dropped = (await registry.getSingleMetric("kcl_webhook_calls_total")?.get())?.values
      .find((v) => v.labels["result"] === "dropped")?.value;
    assert.equal(dropped, 1);
    assert.ok(lines.some((l) => /"level":"error".*failure webhook backlog full.*"requestIds":\["r-2"\]/.test(l)));
    await waitUntil(() => Promise.resolve(held.length === 2), 5_000, "both calls to arrive");
    for (const release of held) release();
    await withTimeout(notifier.idle(), 5_000, "webhook calls");
  } finally {
    await hanging.shutdown();
  }
});
