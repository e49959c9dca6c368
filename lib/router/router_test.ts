import assert from "node:assert/strict";
import { ManualClock } from "../clock.ts";
import { silentLogger } from "../log.ts";
import { createRegistry } from "../metrics.ts";
import type { Delivery, OutboundRecord } from "../kafka/delivery.ts";
import { HoustonError, type Integration, type IntegrationSource } from "./houston_client.ts";
import { IntegrationCache } from "./integration_cache.ts";
import { createRouterMetrics } from "./metrics.ts";
import { MessageRouter } from "./router.ts";
import { RetryPolicy } from "./retry_policy.ts";

/** A source that fails a given number of times, recording when it was asked. */
class FlakySource implements IntegrationSource {
  asked: number[] = [];
  constructor(private readonly clock: ManualClock, private failures: number) {}
  lookup(): Promise<Integration[]> {
    this.asked.push(this.clock.now());
    if (this.failures-- > 0) return Promise.reject(new HoustonError("down"));
    return Promise.resolve([{ name: "Segment", topic: "seg" }, { name: "Amplitude", topic: "amp" }]);
  }
}

/** Collects records in memory (the pipeline's producer side, tested end to end elsewhere). */
class RecordingSender {
  records: OutboundRecord[] = [];
  failNext = 0;
  send(records: OutboundRecord[]): Promise<Delivery[]> {
    return Promise.resolve(records.map((r): Delivery => {
      if (this.failNext > 0) {
        this.failNext--;
        return { ok: false, topic: r.topic, error: new Error("broker down") };
      }
      this.records.push(r);
      return { ok: true, topic: r.topic, partition: 0, offset: "0" };
    }));
  }
}

function setup(failures: number) {
  const clock = new ManualClock(0);
  const source = new FlakySource(clock, failures);
  const cache = new IntegrationCache({ source, clock, logger: silentLogger, ttlMs: 60_000 });
  const sender = new RecordingSender();
  const stop = new AbortController();
  const router = new MessageRouter({
    cache,
    sender,
    metrics: createRouterMetrics(createRegistry()),
    logger: silentLogger,
    clock,
    policy: new RetryPolicy(2),
    signal: stop.signal,
  });
  return { clock, source, sender, router, stop };
}

const value = new TextEncoder().encode('{"appId":"a","messageId":"m","integrations":{"Amplitude":false}}');
const msg = { topic: "in", partition: 0, offset: "5", key: new TextEncoder().encode("k"), value, headers: { h: "v" } };

Deno.test("a message waits for Houston with backoff 100 ms doubling to 30 s, then is routed", async () => {
  const { clock, source, sender, router } = setup(12);
  let done = false;
  const handled = router.handle(msg).then(() => done = true);
  await clock.advance(0);
  // 100, 200, 400, ... capped at 30 000.
  let expected = 0;
  const times = [0];
  for (let delay = 100, i = 0; i < 12; i++, delay = Math.min(delay * 2, 30_000)) {
    expected += delay;
    times.push(expected);
  }
  await clock.advance(expected);
  await handled;
  assert.equal(done, true);
  assert.deepEqual(source.asked, times);
  assert.equal(times.at(-1)! - times.at(-2)!, 30_000);
  // Opt-out honoured, bytes, key and headers passed through.
  assert.equal(sender.records.length, 1);
  assert.equal(sender.records[0]!.topic, "seg");
  assert.equal(sender.records[0]!.value, value);
  assert.deepEqual(sender.records[0]!.headers, { h: "v" });
});

Deno.test("without a retry lane a failed produce is retried with backoff until it succeeds; shutdown abandons it", async () => {
  const { clock, sender, router, stop } = setup(0);
  sender.failNext = 3;
  const handled = router.handle(msg);
  await clock.advance(0);
  assert.equal(sender.records.length, 0);
  await clock.advance(100 + 200 + 400);
  await handled;
  assert.equal(sender.records.length, 1);

  sender.failNext = 1_000_000;
  const abandoned = router.handle(msg);
  await clock.advance(1000);
  stop.abort(new Error("stopping"));
  await assert.rejects(abandoned, /stopping/);
});
