import assert from "node:assert/strict";
import { CoalescingSender } from "./coalescing_sender.ts";
import type { Delivery, OutboundRecord, RecordSender } from "./delivery.ts";

/** Answers each send with offsets counting up, and remembers what each send held. */
class Recording implements RecordSender {
  sends: OutboundRecord[][] = [];
  #offset = 0;
  fail: Error | undefined;
  send(records: OutboundRecord[]): Promise<Delivery[]> {
    this.sends.push(records);
    if (this.fail !== undefined) return Promise.reject(this.fail);
    return Promise.resolve(
      records.map((r) => ({ ok: true as const, topic: r.topic, partition: 0, offset: String(this.#offset++) })),
    );
  }
}

const rec = (value: string): OutboundRecord => ({ topic: "t", value });
const offsets = (ds: Delivery[]) => ds.map((d) => d.ok ? d.offset : `failed: ${d.error.message}`);

Deno.test("CoalescingSender 'task': senders across several microtask turns share one send", async () => {
  const inner = new Recording();
  const sender = new CoalescingSender(inner, { after: "task" });
  const a = sender.send([rec("a")]);
  await Promise.resolve();
  await Promise.resolve();
  const b = sender.send([rec("b1"), rec("b2")]);
  assert.equal(inner.sends.length, 0, "nothing leaves before the next task");
  assert.deepEqual(offsets(await a), ["0"]);
  assert.deepEqual(offsets(await b), ["1", "2"]);
  assert.deepEqual(inner.sends.map((s) => s.map((r) => r.value)), [["a", "b1", "b2"]]);
  assert.deepEqual(await sender.send([]), []);
});

Deno.test("CoalescingSender: maxRecords sends at once; a rejecting sender fails each record; drain waits", async () => {
  const inner = new Recording();
  const sender = new CoalescingSender(inner, { after: "task", maxRecords: 3 });
  const full = sender.send([rec("1"), rec("2"), rec("3")]);
  assert.equal(inner.sends.length, 1, "sent without waiting for the task");
  assert.deepEqual(offsets(await full), ["0", "1", "2"]);
  inner.fail = new Error("broker gone");
  const failed = sender.send([rec("x"), rec("y")]);
  await sender.drain();
  assert.deepEqual(offsets(await failed), ["failed: broker gone", "failed: broker gone"]);
  assert.deepEqual((await failed).map((d) => d.topic), ["t", "t"]);
});

Deno.test("CoalescingSender observes each send's size", async () => {
  const inner = new Recording();
  const seen: number[] = [];
  const sender = new CoalescingSender(inner, { after: "microtask", observe: (n, s) => seen.push(n) && s });
  await Promise.all([sender.send([rec("a")]), sender.send([rec("b"), rec("c")])]);
  assert.deepEqual(seen, [3]);
});
