/**
 * Coalesces the produces of concurrently handled messages into few {@link WireProducer.send} calls: records
 * queued in the same turn of the event loop (a fetched batch being routed) leave together, one request per broker.
 * @module
 */
import { type Delivery, failEvery, type OutboundRecord, type RecordSender } from "../kafka/delivery.ts";
import { asError } from "../log.ts";

interface Waiter {
  start: number;
  count: number;
  resolve(deliveries: Delivery[]): void;
}

/**
 * Micro-batcher in front of a producer.
 *
 * @example
 * ```ts
 * const batcher = new ProduceBatcher(producer, { maxRecords: 2000 });
 * const deliveries = await batcher.send([{ topic: "segment", value }]);
 * ```
 */
export class ProduceBatcher implements RecordSender {
  #records: OutboundRecord[] = [];
  #waiters: Waiter[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #inFlight = new Set<Promise<void>>();
  readonly #maxRecords: number;

  constructor(private readonly sender: RecordSender, opts: { maxRecords?: number } = {}) {
    this.#maxRecords = opts.maxRecords ?? 30_000;
  }

  /** Queues `records`; resolves with their deliveries, in order, once the batch they joined is acknowledged. */
  send(records: OutboundRecord[]): Promise<Delivery[]> {
    if (records.length === 0) return Promise.resolve([]);
    return new Promise((resolve) => {
      this.#waiters.push({ start: this.#records.length, count: records.length, resolve });
      for (const r of records) this.#records.push(r);
      if (this.#records.length >= this.#maxRecords) this.flush();
      // A macrotask rather than a microtask: handlers of one fetched batch reach this point across several
      // microtask turns, and waiting for the next task lets all of them join.
      else if (this.#timer === undefined) this.#timer = setTimeout(() => this.flush(), 0);
    });
  }

  /** Sends whatever is queued now. */
  flush(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#records.length === 0) return;
    const records = this.#records;
    const waiters = this.#waiters;
    this.#records = [];
    this.#waiters = [];
    const p = this.sender.send(records).then((deliveries) => {
      for (const w of waiters) w.resolve(deliveries.slice(w.start, w.start + w.count));
    }, (err: unknown) => {
      // WireProducer never rejects; a sender that does fails every record of the batch.
      const error = asError(err);
      for (const w of waiters) {
        w.resolve(failEvery(records.slice(w.start, w.start + w.count), error));
      }
    }).finally(() => this.#inFlight.delete(p));
    this.#inFlight.add(p);
  }

  /** Flushes and waits for every batch in flight. */
  async drain(): Promise<void> {
    this.flush();
    while (this.#inFlight.size > 0) await Promise.all([...this.#inFlight]);
  }
}
