import assert from "node:assert/strict";
import { Backoff, backoffDelay, MAX_BACKOFF_MS, RECONNECT_BACKOFF, retry } from "./backoff.ts";
import { ManualClock } from "./clock.ts";

/** Moves the clock in small steps, so each retry schedules its next wait before time passes it. */
async function elapse(clock: ManualClock, ms: number, step = 10): Promise<void> {
  await clock.advance(0); // lets the first failure schedule its wait at the current time
  for (let t = 0; t < ms; t += step) await clock.advance(step);
}

Deno.test("backoffDelay doubles from initialMs, stops at maxMs, and never overflows", () => {
  const policy = { initialMs: 100, maxMs: 1_000 };
  assert.deepEqual([1, 2, 3, 4, 5, 6].map((a) => backoffDelay(a, policy)), [100, 200, 400, 800, 1_000, 1_000]);
  assert.equal(backoffDelay(0, policy), 100);
  assert.equal(backoffDelay(10_000, RECONNECT_BACKOFF), MAX_BACKOFF_MS);
  assert.equal(backoffDelay(3, { initialMs: 10, maxMs: 1e9, multiplier: 3 }), 90);
});

Deno.test("backoffDelay spreads by the jitter fraction around the wait", () => {
  const policy = { initialMs: 1_000, maxMs: 10_000, jitter: 0.2 };
  assert.equal(backoffDelay(1, { ...policy, random: () => 0 }), 800);
  assert.equal(backoffDelay(1, { ...policy, random: () => 0.5 }), 1_000);
  assert.equal(backoffDelay(2, { ...policy, random: () => 0.999999 }), 2_400);
  for (let i = 0; i < 100; i++) {
    const d = backoffDelay(99, policy);
    assert.ok(d >= 8_000 && d <= 12_000, String(d));
  }
});

Deno.test("Backoff grows with each next() and starts over after reset()", () => {
  const b = new Backoff({ initialMs: 50, maxMs: 150 });
  assert.deepEqual([b.next(), b.next(), b.next()], [50, 100, 150]);
  assert.equal(b.attempt, 3);
  b.reset();
  assert.equal(b.attempt, 0);
  assert.equal(b.next(), 50);
});

Deno.test("retry waits with backoff on the clock between failures and resolves with the first success", async () => {
  const clock = new ManualClock(0);
  const calls: number[] = [];
  const retries: Array<[number, number]> = [];
  const result = retry((attempt) => {
    calls.push(clock.now());
    return attempt < 4 ? Promise.reject(new Error(`failure ${attempt}`)) : Promise.resolve("done");
  }, {
    initialMs: 100,
    maxMs: 250,
    clock,
    onRetry: (_err, attempt, delayMs) => retries.push([attempt, delayMs]),
  });
  await elapse(clock, 1_000);
  assert.equal(await result, "done");
  assert.deepEqual(calls, [0, 100, 300, 550]);
  assert.deepEqual(retries, [[1, 100], [2, 200], [3, 250]]);
});

Deno.test("retry gives up after maxAttempts with the last error", async () => {
  const clock = new ManualClock(0);
  let calls = 0;
  const result = retry(() => Promise.reject(new Error(`failure ${++calls}`)), {
    initialMs: 10,
    maxMs: 10,
    clock,
    maxAttempts: 3,
  });
  const settled = result.then(() => "resolved", (err: Error) => err.message);
  await elapse(clock, 100);
  assert.equal(await settled, "failure 3");
  assert.equal(calls, 3);
});

Deno.test("retry stops waiting at once when its signal aborts", async () => {
  const clock = new ManualClock(0);
  const abort = new AbortController();
  let calls = 0;
  const result = retry(() => Promise.reject(new Error(`failure ${++calls}`)), {
    ...RECONNECT_BACKOFF,
    clock,
    signal: abort.signal,
  });
  const settled = result.then(() => "resolved", (err: Error) => err.message);
  await elapse(clock, 1_000); // second attempt, then a 2 s wait
  abort.abort(new Error("stopping"));
  assert.equal(await settled, "stopping");
  assert.equal(calls, 2);
  assert.equal(clock.pending, 0);

  const already = new AbortController();
  already.abort(new Error("stopped before"));
  await assert.rejects(retry(() => Promise.resolve(1), { ...RECONNECT_BACKOFF, clock, signal: already.signal }), {
    message: "stopped before",
  });
});

Deno.test("retry rethrows at once a failure retryIf refuses", async () => {
  const clock = new ManualClock(0);
  let calls = 0;
  const result = retry(() => Promise.reject(new Error(++calls === 1 ? "transient" : "fatal")), {
    initialMs: 10,
    maxMs: 10,
    clock,
    retryIf: (err) => (err as Error).message === "transient",
  });
  const settled = result.then(() => "resolved", (err: Error) => err.message);
  await elapse(clock, 100);
  assert.equal(await settled, "fatal");
  assert.equal(calls, 2);
});
