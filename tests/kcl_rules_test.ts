/**
 * kcl-proxy's time and bookkeeping rules driven by a ManualClock: batch flush thresholds and lingers per class,
 * capacity including in-flight events, the de-duplication window, priority classes, the keys file and its reload,
 * and the config's env/flag handling.
 * @module
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { ManualClock } from "../lib/clock.ts";
import { ConfigError } from "../lib/config/errors.ts";
import { parseKclProxyConfig as parseConfigWith } from "../lib/config/kcl_proxy.ts";
import type { Delivery, OutboundRecord } from "../lib/kafka/delivery.ts";
import { createLogger } from "../lib/log.ts";
import { ApiKeys, ApiKeysFileError, topicAllowed } from "../lib/kcl/api_keys.ts";
import { DedupWindow } from "../lib/kcl/dedup.ts";
import { CoalescingSender } from "../lib/kafka/coalescing_sender.ts";
import type { RecordSender } from "../lib/kafka/delivery.ts";
import { type FailedEvent, PriorityBatcher } from "../lib/kcl/priority_batcher.ts";
import { priorityClass } from "../lib/kcl/priority.ts";
import { fastParseUserEvent, parseUserEvents, UserEventSchema } from "../lib/kcl/user_event.ts";
import { signWebhookBody } from "../lib/kcl/webhook_notifier.ts";
import { silentLogger } from "../lib/log.ts";
import { verifySignature } from "../testing/webhook.ts";

/**
 * An in-memory stand-in for the producer: the batching rules are about when and what is handed over, not Kafka,
 * which the end-to-end tests cover. `hold` keeps sends in flight until released.
 */
class RecordingSender implements RecordSender {
  sends: OutboundRecord[][] = [];
  hold = false;
  fail = false;
  #release: (() => void)[] = [];
  send(records: OutboundRecord[]): Promise<Delivery[]> {
    this.sends.push(records);
    const result = (): Delivery[] =>
      records.map((r, i) =>
        this.fail ? { ok: false, topic: r.topic, error: new Error("boom") } : {
          ok: true,
          topic: r.topic,
          partition: 0,
          offset: String(i),
        }
      );
    if (!this.hold) return Promise.resolve(result());
    return new Promise((resolve) => this.#release.push(() => resolve(result())));
  }
  releaseAll(): void {
    for (const r of this.#release.splice(0)) r();
  }
}

function buffered(i: number) {
  return {
    rec: {
      record: { topic: "t", key: String(i), value: `{"n":${i}}` },
      clientId: "C",
      priority: "normal" as const,
      requestId: `r-${i}`,
      value: { n: i },
    },
    webhookUrl: "http://hooks/x",
  };
}

function setup() {
  const clock = new ManualClock(0);
  const sender = new RecordingSender();
  const failed: FailedEvent[] = [];
  const batcher = new PriorityBatcher({
    sender,
    clock,
    logger: silentLogger,
    onFailed: (_cls, f) => failed.push(...f),
  });
  return { clock, sender, batcher, failed };
}

Deno.test("normal: flushed at 100 events, or 2000 ms after the first", async (t) => {
  await t.step("100 events flush at once", () => {
    const { sender, batcher } = setup();
    for (let i = 0; i < 99; i++) batcher.add("normal", buffered(i));
    assert.equal(sender.sends.length, 0);
    batcher.add("normal", buffered(99));
    assert.equal(sender.sends.length, 1);
    assert.equal(sender.sends[0]!.length, 100);
  });
  await t.step("one event flushes at 2000 ms, not before", async () => {
    const { clock, sender, batcher } = setup();
    batcher.add("normal", buffered(0));
    await clock.advance(1000);
    batcher.add("normal", buffered(1)); // does not restart the linger
    await clock.advance(999);
    assert.equal(sender.sends.length, 0);
    await clock.advance(1);
    assert.equal(sender.sends.length, 1);
    assert.equal(sender.sends[0]!.length, 2);
    assert.equal(clock.pending, 0);
  });
});

Deno.test("high flushes within 100 ms; low at 1000 events or 5 s", async () => {
  const { clock, sender, batcher } = setup();
  batcher.add("high", buffered(0));
  await clock.advance(99);
  assert.equal(sender.sends.length, 0);
  await clock.advance(1);
  assert.equal(sender.sends.length, 1);
  for (let i = 0; i < 999; i++) batcher.add("low", buffered(i));
  await clock.advance(4999);
  assert.equal(sender.sends.length, 1);
  await clock.advance(1);
  assert.equal(sender.sends.length, 2);
  assert.equal(sender.sends[1]!.length, 999);
  for (let i = 0; i < 1000; i++) batcher.add("low", buffered(i));
  assert.equal(sender.sends.length, 3);
  assert.equal(sender.sends[2]!.length, 1000);
});

Deno.test("capacity counts in-flight events until the producer answers; failures are reported", async () => {
  const { clock, sender, batcher, failed } = setup();
  sender.hold = true;
  assert.equal(batcher.room("low"), 10_000);
  for (let i = 0; i < 1000; i++) batcher.add("low", buffered(i));
  assert.equal(sender.sends.length, 1);
  assert.equal(batcher.room("low"), 9000, "in-flight events still take room");
  batcher.add("normal", buffered(1));
  sender.fail = true;
  const flushing = batcher.flushAll();
  sender.releaseAll();
  await flushing;
  assert.equal(batcher.room("low"), 10_000);
  assert.equal(batcher.pending("normal"), 0);
  assert.equal(failed.length, 1001);
  assert.equal(failed[0]!.error, "boom");
  assert.equal(failed[0]!.rec.requestId, "r-0");
  assert.equal(clock.pending, 0);
});

Deno.test("takeBuffered empties buffers without sending (shutdown deadline)", () => {
  const { clock, sender, batcher } = setup();
  batcher.add("low", buffered(1));
  batcher.add("normal", buffered(2));
  const left = batcher.takeBuffered();
  assert.equal(left.length, 2);
  assert.equal(sender.sends.length, 0);
  assert.equal(clock.pending, 0);
});

Deno.test("CoalescingSender (the immediate class) coalesces concurrent requests and hands each its own deliveries", async () => {
  const sender = new RecordingSender();
  sender.hold = true;
  const immediate = new CoalescingSender(sender, { after: "microtask", maxInFlight: 1 });
  const a = immediate.send([{ topic: "t", value: "a" }]);
  await Promise.resolve();
  await Promise.resolve();
  assert.equal(sender.sends.length, 1);
  const b = immediate.send([{ topic: "t", value: "b1" }, { topic: "t", value: "b2" }]);
  const c = immediate.send([{ topic: "t", value: "c" }]);
  sender.releaseAll();
  const da = await a;
  assert.equal(da.length, 1);
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(sender.sends.length, 2, "b and c travel together");
  assert.deepEqual(sender.sends[1]!.map((r) => r.value), ["b1", "b2", "c"]);
  sender.releaseAll();
  const [db, dc] = await Promise.all([b, c]);
  assert.deepEqual(db.map((d) => d.ok && d.offset), ["0", "1"]);
  assert.deepEqual(dc.map((d) => d.ok && d.offset), ["2"]);
  await immediate.drain();
});

Deno.test("dedup window: duplicates within the window, forgotten after it, 0 disables, bounded", async () => {
  const clock = new ManualClock(0);
  const dedup = new DedupWindow(clock, 600_000, 3);
  assert.equal(dedup.claim("A", "r1"), true);
  assert.equal(dedup.claim("A", "r1"), false);
  assert.equal(dedup.claim("B", "r1"), true, "per client");
  await clock.advance(599_999);
  assert.equal(dedup.claim("A", "r1"), false);
  await clock.advance(1);
  assert.equal(dedup.claim("A", "r1"), true, "expired after the window");
  dedup.release("A", "r1");
  assert.equal(dedup.claim("A", "r1"), true, "released pairs may be sent again");
  for (let i = 0; i < 10; i++) dedup.claim("C", `x${i}`);
  assert.ok(dedup.size <= 3);
  const off = new DedupWindow(clock, 0);
  assert.equal(off.claim("A", "r"), true);
  assert.equal(off.claim("A", "r"), true);
});

Deno.test("priority classes have the spec's boundaries", () => {
  const cases: [number, string][] = [
    [0, "low"],
    [9, "low"],
    [10, "normal"],
    [19, "normal"],
    [20, "high"],
    [
      29,
      "high",
    ],
    [30, "immediate"],
    [1e6, "immediate"],
  ];
  for (const [p, cls] of cases) assert.equal(priorityClass(p), cls, `priority ${p}`);
});

Deno.test("UserEvent: single object and arrays, per-item errors", () => {
  const ok = parseUserEvents({ sourceSystem: "a", sourceSystemId: "b", authId: 1, data: {}, priority: 0 });
  assert.equal(ok.length, 1);
  assert.equal(ok[0]!.ok, true);
  const bad = parseUserEvents([{ sourceSystem: "a", sourceSystemId: "b", authId: "1", data: {}, priority: -1 }]);
  assert.equal(bad[0]!.ok, false);
  if (!bad[0]!.ok) assert.deepEqual(bad[0]!.errors.map((e) => e.path).sort(), ["authId", "priority"]);
  assert.throws(() => parseUserEvents(42), /UserEvent/);
  assert.throws(() => parseUserEvents([]), /empty/);
});

Deno.test("the hand-written UserEvent check agrees with the zod schema on good and bad events", () => {
  const base = { sourceSystem: "web", sourceSystemId: "clicked", authId: 42, data: { a: 1, nested: { b: [1] } } };
  const good: unknown[] = [
    base,
    { ...base, priority: 0 },
    { ...base, priority: 35, requestId: "r-1", createdAt: "2024-05-01T12:00:00Z" },
    { ...base, createdAt: "2024-02-29T23:59:59.123456+02:00" },
    { ...base, createdAt: "2024-05-01T12:00:00.5-11:30" },
    { ...base, requestId: "x".repeat(256), authId: -7, data: {} },
    { ...base, authId: Number.MAX_SAFE_INTEGER, extra: "dropped", priority: 12 },
    JSON.parse('{"sourceSystem":"s","sourceSystemId":"i","authId":1,"data":{"k":null}}'),
  ];
  const bad: unknown[] = [
    null,
    42,
    "event",
    [base],
    {},
    { ...base, sourceSystem: undefined },
    { ...base, sourceSystem: 1 },
    { ...base, sourceSystemId: null },
    { ...base, authId: "42" },
    { ...base, authId: 1.5 },
    { ...base, authId: Number.MAX_SAFE_INTEGER + 1 },
    { ...base, authId: undefined },
    { ...base, priority: -1 },
    { ...base, priority: 2.5 },
    { ...base, priority: "10" },
    { ...base, priority: null },
    { ...base, requestId: "" },
    { ...base, requestId: "x".repeat(257) },
    { ...base, requestId: 7 },
    { ...base, createdAt: "2024-05-01" },
    { ...base, createdAt: "2024-05-01T12:00:00" },
    { ...base, createdAt: "2023-02-29T12:00:00Z" },
    { ...base, createdAt: "2024-05-01T24:00:00Z" },
    { ...base, createdAt: "2024-05-01 12:00:00Z" },
    { ...base, createdAt: 1714564800000 },
    { ...base, data: null },
    { ...base, data: [] },
    { ...base, data: "x" },
    { ...base, data: undefined },
  ];
  for (const [i, v] of good.entries()) {
    const zod = UserEventSchema.safeParse(v);
    assert.ok(zod.success, `good #${i} is valid for zod`);
    const fast = fastParseUserEvent(v);
    assert.ok(fast !== undefined, `good #${i} takes the fast path`);
    assert.deepEqual(fast, zod.data, `good #${i}: same event`);
    assert.equal(JSON.stringify(fast), JSON.stringify(zod.data), `good #${i}: same JSON`);
  }
  for (const [i, v] of bad.entries()) {
    assert.equal(UserEventSchema.safeParse(v).success, false, `bad #${i} is invalid for zod`);
    assert.equal(fastParseUserEvent(v), undefined, `bad #${i} is refused by the fast path`);
  }
  // Declined by the fast path but valid: decided by zod, which strips the __proto__ key.
  const proto = JSON.parse('{"sourceSystem":"s","sourceSystemId":"i","authId":1,"data":{"__proto__":{"x":1},"k":2}}');
  assert.equal(fastParseUserEvent(proto), undefined);
  const item = parseUserEvents(proto)[0]!;
  assert.ok(item.ok);
  if (item.ok) assert.equal(JSON.stringify(item.event.data), '{"k":2}');
});

Deno.test("API keys: sha256 or plain key, prefix topics, constant-time lookup, reload keeps old keys when invalid", async () => {
  const lines: string[] = [];
  const logger = createLogger({ write: (l) => lines.push(l) });
  const dir = await Deno.makeTempDir();
  const path = `${dir}/keys.json`;
  const file = (keys: unknown[]) => JSON.stringify({ keys });
  const a = {
    id: "a",
    sha256: createHash("sha256").update("secret-a").digest("hex"),
    clientId: "A",
    realms: ["prod"],
    topics: ["x.*", "y"],
  };
  const b = { id: "b", key: "secret-b-plain", clientId: "B", realms: ["dev"], topics: ["z"] };
  try {
    await Deno.writeTextFile(path, file([a, b]));
    const keys = await ApiKeys.load(path, logger);
    assert.equal(keys.find("secret-a")?.clientId, "A");
    assert.equal(keys.find("secret-b-plain")?.clientId, "B");
    assert.equal(keys.find("secret-"), undefined);
    const ka = keys.find("secret-a")!;
    assert.equal(topicAllowed(ka, "x.anything"), true);
    assert.equal(topicAllowed(ka, "y"), true);
    assert.equal(topicAllowed(ka, "yy"), false);
    assert.ok(lines.some((l) => l.includes('plain \\"key\\"') && l.includes('"keyId":"b"')));
    assert.ok(lines.every((l) => !l.includes("secret-b-plain")), "a key never appears in a log line");

    await Deno.writeTextFile(path, file([{ ...b, id: "b2", key: "secret-new" }]));
    assert.equal(await keys.reload(), true);
    assert.equal(keys.find("secret-a"), undefined);
    assert.equal(keys.find("secret-new")?.id, "b2");

    await Deno.writeTextFile(path, '{"keys": [{"id": "broken"}]');
    assert.equal(await keys.reload(), false);
    assert.equal(keys.find("secret-new")?.id, "b2", "old keys kept");
    await Deno.writeTextFile(path, file([{ ...a, sha256: "nothex" }]));
    assert.equal(await keys.reload(), false);
    assert.equal(keys.size, 1);
    assert.ok(lines.every((l) => !l.includes("secret-new")));
    await assert.rejects(() => ApiKeys.load(`${dir}/missing.json`, logger), ApiKeysFileError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("webhook signature is HMAC-SHA256 of the body", () => {
  const sig = signWebhookBody('{"failures":[]}', "s");
  assert.match(sig, /^sha256=[0-9a-f]{64}$/);
  assert.equal(verifySignature('{"failures":[]}', "s", sig), true);
  assert.equal(verifySignature('{"failures":[1]}', "s", sig), false);
});

Deno.test("config: flags win over env, every problem listed at once", () => {
  const files: Record<string, string> = {
    "/keys.json": JSON.stringify({
      keys: [{ id: "a", key: "k-0123456789abcdef", clientId: "A", realms: ["r"], topics: ["t"] }],
    }),
    "/broken.json": '{"keys": [',
  };
  const readFile = (path: string) => {
    const text = files[path];
    if (text === undefined) throw new Deno.errors.NotFound(`No such file or directory: ${path}`);
    return text;
  };
  const parseKclProxyConfig = (args: string[], env: Record<string, string>) => parseConfigWith(args, env, readFile);
  const env = {
    KCL_BOOTSTRAP_SERVERS: "k1:9092,k2:9092",
    KCL_API_KEYS_FILE: "/keys.json",
    KCL_PORT: "9000",
    KCL_DEDUP_WINDOW: "0",
    KCL_WEBHOOK_ALLOWED_HOSTS: "Hooks.example.com, other:8080",
  };
  const c = parseKclProxyConfig(["--port", "9001", "--shutdown-timeout", "3s", "--debug"], env);
  assert.equal(c.port, 9001);
  assert.deepEqual(c.bootstrapServers, ["k1:9092", "k2:9092"]);
  assert.equal(c.dedupWindowMs, 0);
  assert.equal(c.shutdownTimeoutMs, 3000);
  assert.equal(c.debug, true);
  assert.deepEqual(c.webhookAllowedHosts, ["hooks.example.com", "other:8080"]);
  assert.equal(c.maxBodyBytes, 1_048_576);
  assert.equal(c.lowBuffer, 10_000);
  assert.equal(c.compression, "none");
  assert.equal(parseKclProxyConfig(["--kafka-compression", "lz4"], env).compression, "lz4");
  assert.equal(parseKclProxyConfig([], { ...env, KCL_KAFKA_COMPRESSION: "ZSTD" }).compression, "zstd");
  try {
    parseKclProxyConfig(["--max-body-bytes", "big"], { KCL_DEDUP_WINDOW: "soon", KCL_KAFKA_COMPRESSION: "brotli" });
    assert.fail("expected a ConfigError");
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    const text = e.problems.join("\n");
    assert.match(text, /KCL_BOOTSTRAP_SERVERS/);
    assert.match(text, /KCL_API_KEYS_FILE/);
    assert.match(text, /--max-body-bytes/);
    assert.match(text, /KCL_DEDUP_WINDOW/);
    assert.match(text, /KCL_KAFKA_COMPRESSION.*"brotli".*none, gzip, snappy, lz4, zstd/);
    assert.equal(e.problems.length, 5);
  }
  // The API keys file is checked with the rest: unreadable or invalid, it is one more problem in the same list.
  for (
    const [file, expected] of [["/missing.json", /cannot read "\/missing.json"/], ["/broken.json", /API keys file/]]
  ) {
    try {
      parseKclProxyConfig(["--max-body-bytes", "big"], { ...env, KCL_API_KEYS_FILE: file as string });
      assert.fail("expected a ConfigError");
    } catch (e) {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.problems.length, 2, e.problems.join("\n"));
      assert.match(e.problems.find((p) => p.startsWith("KCL_API_KEYS_FILE")) ?? "", expected as RegExp);
    }
  }
});

Deno.test("batches due while two sends run wait and leave together with the next send", async () => {
  const { sender, batcher } = setup();
  sender.hold = true;
  for (let i = 0; i < 400; i++) batcher.add("normal", buffered(i));
  assert.equal(sender.sends.length, 2, "two sends at once");
  assert.equal(batcher.pending("normal"), 400);
  sender.releaseAll();
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(sender.sends.length, 3);
  assert.equal(sender.sends[2]!.length, 200, "the two waiting batches travel as one");
  const done = batcher.flushAll();
  sender.releaseAll();
  await done;
  assert.equal(batcher.pending("normal"), 0);
});
