import assert from "node:assert/strict";
import { ManualClock } from "../../clock.ts";
import { BatchProgress, startHeartbeats } from "./batch_progress.ts";

Deno.test("BatchProgress commits only the done prefix, in order, never backwards", async () => {
  const commits: string[] = [];
  const progress = new BatchProgress(["10", "11", "12", "13"], (last) => {
    commits.push(last);
    return Promise.resolve(true);
  });
  progress.markDone(1);
  progress.markDone(3);
  await progress.commitDone();
  assert.deepEqual(commits, [], "message 0 still runs: nothing to commit");
  progress.markDone(0);
  await progress.commitDone();
  assert.deepEqual(commits, ["11"], "the prefix 0..1");
  assert.equal(progress.donePrefix, 2);
  await progress.commitDone();
  assert.deepEqual(commits, ["11"], "no growth, no commit");
  progress.markDone(2);
  // Two commits asked for at once run one after the other; the second finds nothing new.
  await Promise.all([progress.commitDone(), progress.commitDone()]);
  assert.deepEqual(commits, ["11", "13"]);
  assert.equal(progress.committedPrefix, 4);
  assert.equal(progress.isDone(2), true);
});

Deno.test("BatchProgress: a commit that failed for good is tried again with the next growth", async () => {
  const commits: string[] = [];
  let accept = false;
  const progress = new BatchProgress(["1", "2", "3"], (last) => {
    commits.push(last);
    return Promise.resolve(accept);
  });
  progress.markDone(0);
  await progress.commitDone();
  assert.equal(progress.committedPrefix, 0);
  accept = true;
  progress.markDone(1);
  await progress.commitDone();
  assert.deepEqual(commits, ["1", "2"]);
  assert.equal(progress.committedPrefix, 2);
});

Deno.test("startHeartbeats beats every interval on the clock, commits after each beat, and stops at a failure", async () => {
  const clock = new ManualClock(0);
  const events: string[] = [];
  let fail = false;
  const failures: unknown[] = [];
  const beats = startHeartbeats({
    clock,
    intervalMs: 1000,
    heartbeat: () => {
      events.push(`beat@${clock.now()}`);
      return fail ? Promise.reject(new Error("rebalancing")) : Promise.resolve();
    },
    afterBeat: () => {
      events.push(`commit@${clock.now()}`);
      return Promise.resolve();
    },
    onFailure: (err) => failures.push(err),
  });
  await clock.advance(999);
  assert.deepEqual(events, []);
  await clock.advance(1);
  await clock.advance(1000);
  assert.deepEqual(events, ["beat@1000", "commit@1000", "beat@2000", "commit@2000"]);
  fail = true;
  await clock.advance(1000);
  assert.equal(failures.length, 1);
  assert.equal(clock.pending, 0, "no beat after a failure");
  await beats.stop();
  assert.deepEqual(events, ["beat@1000", "commit@1000", "beat@2000", "commit@2000", "beat@3000"]);
});

Deno.test("startHeartbeats: stop() cancels the next beat", async () => {
  const clock = new ManualClock(0);
  let beats = 0;
  const loop = startHeartbeats({
    clock,
    intervalMs: 500,
    heartbeat: () => Promise.resolve(void beats++),
    afterBeat: () => Promise.resolve(),
    onFailure: () => {},
  });
  await clock.advance(500);
  await loop.stop();
  await clock.advance(5000);
  assert.equal(beats, 1);
  assert.equal(clock.pending, 0);
});
