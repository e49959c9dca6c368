/**
 * The proxy's Prometheus metrics, all registered on the registry it is given. Per-request counts are kept in plain
 * numbers on the hot path and handed to prom-client when the metrics are read (see {@link KclMetrics.onCollect}).
 * @module
 */
import { Counter, Gauge, Histogram } from "../metrics.ts";
import type { Registry } from "../metrics.ts";

/** Every metric of the proxy. */
export interface KclMetrics {
  /** Events by client, priority class and outcome (produced, accepted, dropped, duplicate, invalid, failed...). */
  events: Counter<"client" | "priority" | "status">;
  httpRequests: Counter<"code">;
  requestSeconds: Histogram<string>;
  produceSeconds: Histogram<"priority">;
  batchEvents: Histogram<"priority">;
  bufferEvents: Gauge<"priority">;
  webhookCalls: Counter<"result">;
  /**
   * Registers work to run whenever any of these metrics is read (a scrape, or `get()` in tests): flushing counts
   * kept outside prom-client, setting gauges from live state. prom-client hashes label values on every inc/set,
   * which showed up on the per-request path. Hooks must be cheap and idempotent; each read runs all of them.
   */
  onCollect(fn: () => void): void;
}

/** Creates the metrics on `registry`. */
export function createKclMetrics(registry: Registry): KclMetrics {
  const registers = [registry];
  const hooks: Array<() => void> = [];
  // Every metric runs the hooks, so whichever is read first (or alone) sees current values.
  const collect = () => {
    for (const fn of hooks) fn();
  };
  return {
    onCollect: (fn) => void hooks.push(fn),
    events: new Counter({
      name: "kcl_events_total",
      help: "Events by client, priority class and outcome",
      labelNames: ["client", "priority", "status"],
      registers,
      collect,
    }),
    httpRequests: new Counter({
      name: "kcl_http_requests_total",
      help: "HTTP requests to the event endpoints by status code",
      labelNames: ["code"],
      registers,
      collect,
    }),
    requestSeconds: new Histogram({
      name: "kcl_request_seconds",
      help: "Time to answer an event request",
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
      collect,
    }),
    produceSeconds: new Histogram({
      name: "kcl_produce_seconds",
      help: "Time of one produce call to Kafka by priority class",
      labelNames: ["priority"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 30],
      registers,
      collect,
    }),
    batchEvents: new Histogram({
      name: "kcl_batch_events",
      help: "Events per produce call by priority class",
      labelNames: ["priority"],
      buckets: [1, 5, 10, 25, 50, 100, 250, 500, 1000],
      registers,
      collect,
    }),
    bufferEvents: new Gauge({
      name: "kcl_buffer_events",
      help: "Events buffered or in flight by priority class",
      labelNames: ["priority"],
      registers,
      collect,
    }),
    webhookCalls: new Counter({
      name: "kcl_webhook_calls_total",
      help: "Failure webhook calls by outcome (ok, retry, failed, dropped: backlog full)",
      labelNames: ["result"],
      registers,
      collect,
    }),
  };
}
