/**
 * `kcl_events_total` as plain numbers on the request path, handed to prom-client when the metrics are read: a
 * labelled prom-client inc hashes its three label values on every call, once per event.
 * @module
 */
import type { KclMetrics } from "./metrics.ts";
import type { PriorityClass } from "./priority.ts";

/** The priority label of an event: its class, or `none` for an invalid event. */
export type CountedPriority = PriorityClass | "none";

/** The status label of an event count. */
export type CountedStatus =
  | "accepted"
  | "produced"
  | "dropped"
  | "duplicate"
  | "invalid"
  | "failed"
  | "rejected"
  | "unproduced";

const PRIORITIES: readonly CountedPriority[] = ["low", "normal", "high", "immediate", "none"];
const STATUSES: readonly CountedStatus[] = [
  "accepted",
  "produced",
  "dropped",
  "duplicate",
  "invalid",
  "failed",
  "rejected",
  "unproduced",
];
const PRIORITY_INDEX = Object.fromEntries(PRIORITIES.map((p, i) => [p, i])) as Record<CountedPriority, number>;
const STATUS_INDEX = Object.fromEntries(STATUSES.map((s, i) => [s, i])) as Record<CountedStatus, number>;
const SLOTS = PRIORITIES.length * STATUSES.length;

/**
 * Event counts by client, priority and status since the last read of the metrics.
 *
 * @example
 * ```ts
 * const counter = new EventCounter(metrics);
 * counter.add("INCROWD", "normal", "accepted");
 * ```
 */
export class EventCounter {
  /** clientId -> counts by priority * STATUSES.length + status. Clients come from the keys file, so few. */
  readonly #byClient = new Map<string, Float64Array>();
  readonly #metrics: KclMetrics;

  constructor(metrics: KclMetrics) {
    this.#metrics = metrics;
    metrics.onCollect(() => this.flush());
  }

  /** Counts `n` events of `client` with this priority and status. */
  add(client: string, priority: CountedPriority, status: CountedStatus, n = 1): void {
    let counts = this.#byClient.get(client);
    if (counts === undefined) {
      counts = new Float64Array(SLOTS);
      this.#byClient.set(client, counts);
    }
    const slot = PRIORITY_INDEX[priority] * STATUSES.length + STATUS_INDEX[status];
    counts[slot] = counts[slot]! + n;
  }

  /** Hands the counts to prom-client (run before every read of the metrics). */
  flush(): void {
    for (const [client, counts] of this.#byClient) {
      for (let i = 0; i < SLOTS; i++) {
        const n = counts[i]!;
        if (n === 0) continue;
        counts[i] = 0;
        const priority = PRIORITIES[Math.floor(i / STATUSES.length)]!;
        const status = STATUSES[i % STATUSES.length]!;
        this.#metrics.events.labels(client, priority, status).inc(n);
      }
    }
    // A reloaded keys file may retire clients; drop their (flushed, empty) rows now and then.
    if (this.#byClient.size > 1000) this.#byClient.clear();
  }
}
