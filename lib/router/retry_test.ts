import assert from "node:assert/strict";
import { parseRetryEnvelope, retryEnvelope } from "./retry.ts";
import { RetryPolicy } from "./retry_policy.ts";

const enc = (s: string) => new TextEncoder().encode(s);

Deno.test("retry envelopes carry the event's exact JSON text and round-trip", () => {
  const event = '{ "appId": "a", "n": 1.50, "s": "}\\"{" }';
  const text = retryEnvelope(1, "segment", event);
  assert.equal(text, `{"retryCount":1,"integration":"segment","message":${event}}`);
  assert.deepEqual(parseRetryEnvelope(enc(text)), { retryCount: 1, integration: "segment", message: event });
  assert.deepEqual(parseRetryEnvelope(enc(retryEnvelope(0, null, event)))?.integration, null);
  // The original's field order and spacing are accepted too.
  assert.deepEqual(
    parseRetryEnvelope(enc(`{ "message" : ${event}, "integration": "x", "retryCount": 2 }`))?.message,
    event,
  );
});

Deno.test("values that are not retry envelopes are refused", () => {
  for (
    const bad of [
      "nope",
      "{}",
      '{"retryCount":-1,"integration":"x","message":{}}',
      '{"retryCount":1.5,"integration":"x","message":{}}',
      '{"retryCount":0,"integration":"","message":{}}',
      '{"retryCount":0,"integration":"x","message":"text"}',
    ]
  ) assert.equal(parseRetryEnvelope(enc(bad)), undefined, bad);
  assert.equal(parseRetryEnvelope(null), undefined);
});

Deno.test("retry delays are min(2^n s, 60 s)", () => {
  const policy = new RetryPolicy(2);
  assert.deepEqual([0, 1, 2, 5, 6, 7, 30].map((n) => policy.delayMs(n)), [
    1000,
    2000,
    4000,
    32000,
    60000,
    60000,
    60000,
  ]);
});
