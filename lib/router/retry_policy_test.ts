import assert from "node:assert/strict";
import { RetryPolicy } from "./retry_policy.ts";

/** Follows one message through failure after failure until the policy dead-letters it. */
function journey(maxRetries: number): string[] {
  const policy = new RetryPolicy(maxRetries);
  const steps: string[] = [];
  for (let attempt = 0; attempt < 100; attempt++) {
    const d = policy.decide(attempt);
    if (d.action === "dead-letter") {
      steps.push(`dead-letter retryCount=${d.retryCount}`);
      return steps;
    }
    steps.push(`retry retryCount=${d.retryCount} after ${d.delayMs} ms`);
  }
  throw new Error("never dead-lettered");
}

Deno.test("RetryPolicy: maxRetries 0 dead-letters the first failure", () => {
  assert.deepEqual(journey(0), ["dead-letter retryCount=0"]);
  assert.equal(new RetryPolicy(0).lookupFailuresInPlace, 1);
});

Deno.test("RetryPolicy: maxRetries 1 retries once, then dead-letters with retryCount 1", () => {
  assert.deepEqual(journey(1), ["retry retryCount=0 after 1000 ms", "dead-letter retryCount=1"]);
  assert.equal(new RetryPolicy(1).lookupFailuresInPlace, 1);
});

Deno.test("RetryPolicy: maxRetries 2 retries twice (1 s, 2 s), then dead-letters with retryCount 2", () => {
  assert.deepEqual(journey(2), [
    "retry retryCount=0 after 1000 ms",
    "retry retryCount=1 after 2000 ms",
    "dead-letter retryCount=2",
  ]);
  assert.equal(new RetryPolicy(2).lookupFailuresInPlace, 2);
});

Deno.test("RetryPolicy: waits grow to 60 s and stay there; a bad maxRetries is refused", () => {
  const policy = new RetryPolicy(100);
  assert.deepEqual([5, 6, 7, 99].map((n) => policy.delayMs(n)), [32_000, 60_000, 60_000, 60_000]);
  assert.throws(() => new RetryPolicy(-1), RangeError);
  assert.throws(() => new RetryPolicy(1.5), RangeError);
});
