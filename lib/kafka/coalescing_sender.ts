/**
 * Coalesces the records of concurrent callers into few produce calls: records handed over close together leave in one
 * {@link RecordSender.send} (one request per broker), and each caller gets back exactly its own deliveries. The
 * router's per-message produces and the kcl-proxy's immediate class both go through it.
 * @module
 */
import { asError } from "../log.ts";
import { type Delivery, failEvery, type OutboundRecord, type RecordSender } from "./delivery.ts";

/** Options of {@link CoalescingSender}. */
export interface CoalescingOptions {
  /**
   * When a group leaves: `microtask`, after the current task (requests parsed in one tick travel together);
   * `task`, at the next task (handlers of one fetched Kafka batch reach the sender across several microtask turns,
   * and waiting for the next task lets all of them join).
   */
  after: "microtask" | "task";
  /** A group leaves at once when this many records are waiting; default no limit. */
  maxRecords?: number;
  /** Sends running at once; records handed over meanwhile wait and leave together; default no limit. */
  maxInFlight?: number;
  /** Told of every send: its record count and how long it took (s), for the produce metrics. */
  observe?: (records: number, seconds: number) => void;
}

interface Waiter {
  records: OutboundRecord[];
  resolve: (deliveries: Delivery[]) => void;
}

/**
 * A {@link RecordSender} in front of another that coalesces. It never rejects: a send that rejects fails every
 * record it held.
 *
 * @example
 * ```ts
 * const batcher = new CoalescingSender(producer, { after: "task", maxRecords: 30_000 });
 * const deliveries = await batcher.send([{ topic: "segment", value }]);
 * await batcher.drain(); // at shutdown
 * ```
 */
export class CoalescingSender implements RecordSender {
  readonly #sender: RecordSender;
  readonly #o: CoalescingOptions;
  readonly #maxRecords: number;
  readonly #maxInFlight: number;
  #waiting: Waiter[] = [];
  #waitingRecords = 0;
  #scheduled = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #inFlight = new Set<Promise<void>>();

  constructor(sender: RecordSender, options: CoalescingOptions) {
    this.#sender = sender;
    this.#o = options;
    this.#maxRecords = options.maxRecords ?? Infinity;
    this.#maxInFlight = options.maxInFlight ?? Infinity;
  }

  /** Queues `records`; resolves with their deliveries, in order, once the send they joined is answered. */
  send(records: OutboundRecord[]): Promise<Delivery[]> {
    if (records.length === 0) return Promise.resolve([]);
    return new Promise((resolve) => {
      this.#waiting.push({ records, resolve });
      this.#waitingRecords += records.length;
      if (this.#waitingRecords >= this.#maxRecords) this.flush();
      else this.#schedule();
    });
  }

  /** Sends what is waiting now (unless {@link CoalescingOptions.maxInFlight} sends are running). */
  flush(): void {
    this.#scheduled = false;
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#waiting.length === 0 || this.#inFlight.size >= this.#maxInFlight) return;
    const group = this.#waiting;
    this.#waiting = [];
    this.#waitingRecords = 0;
    let records: OutboundRecord[];
    if (group.length === 1) {
      records = group[0]!.records;
    } else {
      records = [];
      for (const w of group) for (const r of w.records) records.push(r);
    }
    const started = performance.now();
    const send: Promise<void> = this.#sender.send(records)
      .catch((err): Delivery[] => failEvery(records, asError(err)))
      .then((deliveries) => {
        this.#o.observe?.(records.length, (performance.now() - started) / 1000);
        let at = 0;
        for (const w of group) {
          w.resolve(deliveries.slice(at, at + w.records.length));
          at += w.records.length;
        }
      })
      .finally(() => {
        this.#inFlight.delete(send);
        // Records held back by the in-flight limit leave now, together.
        if (this.#waiting.length > 0 && !this.#scheduled) this.flush();
      });
    this.#inFlight.add(send);
  }

  /** Sends everything waiting and resolves once nothing is waiting or in flight (shutdown). */
  async drain(): Promise<void> {
    this.flush();
    while (this.#inFlight.size > 0 || this.#waiting.length > 0) {
      await Promise.all([...this.#inFlight]);
      if (this.#inFlight.size === 0 && this.#waiting.length > 0) this.flush();
    }
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    if (this.#o.after === "microtask") queueMicrotask(() => this.#scheduled && this.flush());
    else this.#timer = setTimeout(() => this.flush(), 0);
  }
}
