/**
 * The broker's Prometheus metrics, registered on the registry the service is given (never the global one).
 * @module
 */
import { Counter, Gauge, Histogram } from "../metrics.ts";
import type { Registry } from "../metrics.ts";

/** Metrics of one broker instance. */
export interface BrokerMetrics {
  statesCached: Gauge;
  eventsSubmitted: Counter<"state">;
  submitSeconds: Histogram;
  requests: Counter<"code">;
  /** Requests refused because they would cache a new check beyond `--max-states`. */
  statesRefused: Counter;
  /** Fields of posted events the broker does not know, ignored (as Go's decoder does). */
  unknownFields: Counter;
  /** Registers work to do right before a scrape (flushing counts kept outside prom-client on hot paths). */
  onCollect(fn: () => void): void;
}

/** Creates the broker metrics on `registry`; `cachedCount` is read when the registry is scraped. */
export function createBrokerMetrics(
  registry: Registry,
  cachedCount: () => number,
  maxStates = Number.POSITIVE_INFINITY,
): BrokerMetrics {
  const beforeScrape: Array<() => void> = [];
  if (Number.isFinite(maxStates)) {
    new Gauge({
      name: "httpbroker_states_limit",
      help: "Most check states cached at once (--max-states)",
      registers: [registry],
    }).set(maxStates);
  }
  return {
    onCollect: (fn) => void beforeScrape.push(fn),
    statesCached: new Gauge({
      name: "httpbroker_states_cached",
      help: "Check states currently cached",
      registers: [registry],
      collect() {
        // The gauge is registered first, so this runs before the counters are serialised.
        for (const fn of beforeScrape) fn();
        this.set(cachedCount());
      },
    }),
    eventsSubmitted: new Counter({
      name: "httpbroker_events_submitted_total",
      help: "Events written to Flapjack's Redis list, by submitted state",
      labelNames: ["state"],
      registers: [registry],
    }),
    submitSeconds: new Histogram({
      name: "httpbroker_submit_seconds",
      help: "Duration of one submit run (all cached states)",
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    statesRefused: new Counter({
      name: "httpbroker_states_refused_total",
      help: "Requests refused with 503 because they would cache a new check beyond --max-states",
      registers: [registry],
    }),
    unknownFields: new Counter({
      name: "httpbroker_unknown_fields_total",
      help: "Fields of posted events that the broker does not know and ignored",
      registers: [registry],
    }),
    requests: new Counter({
      name: "httpbroker_requests_total",
      help: "HTTP requests answered, by status code",
      labelNames: ["code"],
      registers: [registry],
    }),
  };
}
