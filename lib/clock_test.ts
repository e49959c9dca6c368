import assert from "node:assert/strict";
import { ManualClock } from "./clock.ts";

Deno.test("ManualClock fires due timers in order, including ones scheduled while advancing", async () => {
  const clock = new ManualClock(1000);
  const fired: string[] = [];
  clock.setTimeout(() => fired.push("b@300"), 300);
  clock.setTimeout(() => {
    fired.push("a@100");
    clock.setTimeout(() => fired.push("c@150"), 50);
  }, 100);
  const cancelled = clock.setTimeout(() => fired.push("never"), 200);
  clock.clearTimeout(cancelled);
  await clock.advance(250);
  assert.deepEqual(fired, ["a@100", "c@150"]);
  assert.equal(clock.now(), 1250);
  await clock.advance(50);
  assert.deepEqual(fired, ["a@100", "c@150", "b@300"]);
  assert.equal(clock.pending, 0);
});

Deno.test("ManualClock.sleep resolves on advance and rejects on abort", async () => {
  const clock = new ManualClock();
  let woke = false;
  const p = clock.sleep(10).then(() => woke = true);
  await clock.advance(9);
  assert.equal(woke, false);
  await clock.advance(1);
  await p;
  assert.equal(woke, true);
  const ac = new AbortController();
  const q = clock.sleep(10, ac.signal);
  ac.abort(new Error("stop"));
  await assert.rejects(q, /stop/);
  assert.equal(clock.pending, 0);
});
