/**
 * Produces immediate-priority records at once, coalescing the records of requests that arrive while earlier sends
 * are in flight into one produce call, so a burst of requests costs a few round trips instead of one each.
 * @module
 */
import { type Delivery, failEvery, type OutboundRecord, type RecordSender } from "../kafka/delivery.ts";
import { asError } from "../log.ts";
import type { KclMetrics } from "./metrics.ts";

interface Waiting {
  records: OutboundRecord[];
  resolve: (d: Delivery[]) => void;
}

/**
 * Wraps a producer (acks -1). Records handed over in the same tick, or while `maxInFlight` sends are running,
 * travel together; each caller gets back exactly its own deliveries.
 *
 * @example
 * ```ts
 * const immediate = new ImmediateSender(immediateProducer, 4);
 * const [delivery] = await immediate.send([record]);
 * ```
 */
export class ImmediateSender implements RecordSender {
  readonly #sender: RecordSender;
  readonly #maxInFlight: number;
  #queue: Waiting[] = [];
  #inFlight = 0;
  #scheduled = false;
  readonly #sends = new Set<Promise<void>>();

  /** `kcl_produce_seconds` and `kcl_batch_events` of the immediate class, observed per produce call. */
  readonly #observe: ((events: number, seconds: number) => void) | undefined;

  constructor(sender: RecordSender, maxInFlight = 4, metrics?: Pick<KclMetrics, "produceSeconds" | "batchEvents">) {
    this.#sender = sender;
    this.#maxInFlight = maxInFlight;
    if (metrics !== undefined) {
      // The labelled children once: a labels() call per produce would hash the label each time.
      const seconds = metrics.produceSeconds.labels("immediate");
      const events = metrics.batchEvents.labels("immediate");
      this.#observe = (n, s) => {
        events.observe(n);
        seconds.observe(s);
      };
    }
  }

  /** Produces `records`; resolves with their deliveries once acknowledged (or failed). Never rejects. */
  send(records: OutboundRecord[]): Promise<Delivery[]> {
    return new Promise((resolve) => {
      this.#queue.push({ records, resolve });
      if (!this.#scheduled) {
        this.#scheduled = true;
        // A microtask lets every request parsed in this tick join the same send.
        queueMicrotask(() => {
          this.#scheduled = false;
          this.#drain();
        });
      }
    });
  }

  /** Resolves once nothing is queued or in flight. */
  async idle(): Promise<void> {
    while (this.#sends.size > 0 || this.#queue.length > 0) {
      await Promise.all([...this.#sends]);
      if (this.#sends.size === 0 && this.#queue.length > 0) this.#drain();
    }
  }

  #drain(): void {
    if (this.#inFlight >= this.#maxInFlight || this.#queue.length === 0) return;
    const group = this.#queue;
    this.#queue = [];
    this.#inFlight++;
    const records = group.length === 1 ? group[0]!.records : group.flatMap((w) => w.records);
    const started = performance.now();
    const send: Promise<void> = this.#sender.send(records)
      .catch((err): Delivery[] => {
        const error = asError(err);
        return failEvery(records, error);
      })
      .then((deliveries) => {
        this.#observe?.(records.length, (performance.now() - started) / 1000);
        let offset = 0;
        for (const w of group) {
          w.resolve(deliveries.slice(offset, offset + w.records.length));
          offset += w.records.length;
        }
      })
      .finally(() => {
        this.#inFlight--;
        this.#sends.delete(send);
        this.#drain();
      });
    this.#sends.add(send);
  }
}
