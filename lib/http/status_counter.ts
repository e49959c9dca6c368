/**
 * Requests answered, by status code, counted on the hot path in a typed array and handed to prom-client when the
 * metrics are read: a labelled `inc()` per request hashes its label every time, which showed in profiles.
 * @module
 */
import type { Counter } from "prom-client";
import { statusLabel } from "./body_deadline.ts";

/** The hooks a service's metrics offer: run before each scrape. */
export interface CollectHooks {
  onCollect(fn: () => void): void;
}

/**
 * Counts answers by status into `counter` (label `code`; a client that went away is `client_closed`).
 *
 * @example
 * ```ts
 * const statuses = new StatusCounter(metrics.httpRequests, metrics);
 * statuses.add(res.status);
 * ```
 */
export class StatusCounter {
  readonly #counts = new Float64Array(600);
  readonly #counter: Counter<"code">;

  constructor(counter: Counter<"code">, hooks: CollectHooks) {
    this.#counter = counter;
    hooks.onCollect(() => this.#flush());
  }

  /** One answer with this status. */
  add(status: number): void {
    if (status >= 0 && status < this.#counts.length) this.#counts[status]!++;
    else this.#counter.labels(statusLabel(status)).inc();
  }

  #flush(): void {
    const counts = this.#counts;
    for (let code = 0; code < counts.length; code++) {
      const n = counts[code]!;
      if (n === 0) continue;
      counts[code] = 0;
      this.#counter.labels(statusLabel(code)).inc(n);
    }
  }
}
