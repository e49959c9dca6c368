/**
 * lib/worker_rpc.ts against a real Web Worker (tests/_fixtures/echo_worker_entry.ts): answers, refusals, events,
 * one-way messages, and each way a worker dies (crash, stuck past a deadline, terminated) failing what was pending.
 * @module
 */
import assert from "node:assert/strict";
import { WorkerDiedError, WorkerRpc, type WorkerRpcOptions } from "../lib/worker_rpc.ts";

type Request = { t: "echo"; value: unknown } | { t: "refuse" } | { t: "hang" } | { t: "crash" } | { t: "tell" };
type Death = { reason: string; crashed: boolean; pending: number };

const ENTRY = new URL("./_fixtures/echo_worker_entry.ts", import.meta.url).href;

function spawn(extra: Partial<WorkerRpcOptions<unknown>> = {}) {
  const events: unknown[] = [];
  const deaths: Death[] = [];
  const rpc = new WorkerRpc<Request, unknown>({
    name: "echo worker",
    entry: ENTRY,
    onEvent: (e) => events.push(e),
    onDeath: (d) => deaths.push(d),
    ...extra,
  });
  return { rpc, events, deaths };
}

Deno.test("WorkerRpc: answers, refusals, events and one-way messages", async () => {
  const { rpc, events, deaths } = spawn();
  try {
    assert.deepEqual(await rpc.call({ t: "echo", value: { a: [1, 2], b: "x" } }), { a: [1, 2], b: "x" });
    // Many calls in flight at once each get their own answer.
    const many = await Promise.all(Array.from({ length: 50 }, (_, i) => rpc.call<number>({ t: "echo", value: i })));
    assert.deepEqual(many, Array.from({ length: 50 }, (_, i) => i));
    await assert.rejects(rpc.call({ t: "refuse" }), (err: Error) =>
      !(err instanceof WorkerDiedError) &&
      err.message === "refused on purpose");
    assert.equal(rpc.post({ t: "tell" }), true);
    for (let i = 0; i < 100 && events.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(events, [{ t: "told", at: "worker" }]);
    // A request that cannot be cloned fails alone; the worker lives on.
    await assert.rejects(rpc.call({ t: "echo", value: () => 1 }), /cannot post to the echo worker/);
    assert.equal(await rpc.call({ t: "echo", value: 7 }), 7);
    assert.equal(rpc.pending, 0);
    assert.deepEqual(deaths, []);
  } finally {
    rpc.terminate();
  }
  assert.deepEqual(deaths, [{ reason: "echo worker stopped", crashed: false, pending: 0 }]);
  await assert.rejects(rpc.call({ t: "echo", value: 1 }), WorkerDiedError);
  assert.equal(rpc.post({ t: "tell" }), false);
});

Deno.test("WorkerRpc: a crash fails every pending call and is told once", async () => {
  const { rpc, deaths } = spawn();
  const hanging = rpc.call({ t: "hang" });
  const crashing = rpc.call({ t: "crash" });
  await assert.rejects(
    hanging,
    (err: Error) => err instanceof WorkerDiedError && /echo worker crashed: .*blew up/.test(err.message),
  );
  await assert.rejects(crashing, WorkerDiedError);
  assert.equal(deaths.length, 1);
  assert.equal(deaths[0]!.crashed, true);
  assert.equal(deaths[0]!.pending, 2);
  assert.match(rpc.dead ?? "", /echo worker crashed/);
  await assert.rejects(rpc.call({ t: "echo", value: 1 }), /echo worker crashed/);
});

Deno.test("WorkerRpc: a call past its deadline means the worker is stuck: it is terminated as dead", async () => {
  const { rpc, deaths } = spawn({ callTimeoutMs: 300 });
  assert.equal(await rpc.call({ t: "echo", value: "quick" }), "quick");
  const started = Date.now();
  await assert.rejects(rpc.call({ t: "hang" }), /echo worker did not answer within 300 ms/);
  assert.ok(Date.now() - started >= 250);
  assert.deepEqual(deaths, [{ reason: "echo worker did not answer within 300 ms", crashed: true, pending: 1 }]);
});

Deno.test("WorkerRpc: an entry that cannot load is a crash before the first answer", async () => {
  const deaths: Death[] = [];
  const rpc = new WorkerRpc<Request>({
    name: "missing worker",
    entry: new URL("./_fixtures/no_such_worker_entry.ts", import.meta.url).href,
    onDeath: (d) => deaths.push(d),
  });
  await assert.rejects(rpc.call({ t: "echo", value: 1 }), /missing worker crashed/);
  assert.equal(deaths[0]?.crashed, true);
});
