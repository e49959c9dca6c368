/**
 * The router's Prometheus metrics, keeping the original's names so existing dashboards keep working, plus a
 * consume → all-produces-acknowledged latency histogram.
 * @module
 */
import { Counter, Histogram, type Registry } from "../metrics.ts";

/**
 * A counter for the per-message hot path: increments are plain additions, handed to prom-client when the registry
 * is read (its `collect` hook), so routing a message costs no label hashing.
 */
export interface Tally {
  inc(value?: number): void;
}

/** Every router metric, registered on one registry. */
export interface RouterMetrics {
  consumed: Tally;
  /** `event_router_messages_produced{appId,integration}` (use {@link RouterMetrics.producedFor} on hot paths). */
  produced: Counter<"appId" | "integration">;
  /** The tally of one `{appId, integration}` series of `produced`. */
  producedFor(appId: string, integration: string): Tally;
  producedFailed: Counter;
  retried: Counter;
  uploadedToS3: Counter;
  noIntegrations: Counter;
  invalid: Counter<"reason">;
  cacheMiss: Counter;
  cacheUpdate: Counter;
  cacheStale: Counter;
  /** Apps dropped from the integration cache to keep within its limit. */
  cacheEvicted: Counter;
  sseClickstream: Counter;
  sseIgnored: Counter<"type">;
  bytesConsumed: Tally;
  bytesProduced: Tally;
  lookupFailures: Counter;
  s3Failures: Counter;
  /** `event_router_undecodable_batches{topic,partition}`: record batches the consumer could not decode. */
  undecodableBatches: Counter<"topic" | "partition">;
  routeSeconds: Histogram;
}

class PendingTally implements Tally {
  pending = 0;
  inc(value = 1): void {
    this.pending += value;
  }
}

/** A label-less counter fed by a {@link Tally}. */
function tallied(registry: Registry, name: string, help: string): Tally {
  const tally = new PendingTally();
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      if (tally.pending > 0) this.inc(tally.pending);
      tally.pending = 0;
    },
  });
  return tally;
}

/**
 * Creates the metrics on `registry`. With `appLabels: false` (`ER_METRICS_APP_LABELS=false`) produced messages are
 * counted per integration only: an installation with many apps would otherwise grow a series per app and integration.
 */
export function createRouterMetrics(registry: Registry, opts: { appLabels?: boolean } = {}): RouterMetrics {
  const appLabels = opts.appLabels ?? true;
  const registers = [registry];
  const counter = <L extends string = never>(name: string, help: string, labelNames: L[] = []) =>
    new Counter<L>({ name, help, labelNames, registers });
  const producedSeries = new Map<string, { appId: string; integration: string; tally: PendingTally }>();
  const produced = new Counter<"appId" | "integration">({
    name: "event_router_messages_produced",
    help: "Messages produced to an integration topic",
    labelNames: appLabels ? ["appId", "integration"] : ["integration"],
    registers,
    collect() {
      for (const s of producedSeries.values()) {
        if (s.tally.pending === 0) continue;
        this.inc(
          appLabels ? { appId: s.appId, integration: s.integration } : { integration: s.integration },
          s.tally.pending,
        );
        s.tally.pending = 0;
      }
    },
  });
  return {
    consumed: tallied(registry, "event_router_messages_consumed", "Messages consumed from the ingestion topic"),
    produced,
    producedFor(appId, integration) {
      const key = appLabels ? appId + "\u0000" + integration : integration;
      let s = producedSeries.get(key);
      if (s === undefined) {
        s = { appId, integration, tally: new PendingTally() };
        producedSeries.set(key, s);
      }
      return s.tally;
    },
    producedFailed: counter("event_router_messages_produced_failed", "Produces that failed after kafkajs retries"),
    retried: counter("event_router_messages_retried", "Messages handed to the retry topic"),
    uploadedToS3: counter("event_router_messages_uploaded_to_s3", "Messages dead-lettered to S3"),
    noIntegrations: counter("event_router_messages_no_integrations", "Messages of apps with no enabled integration"),
    invalid: counter("event_router_messages_invalid", "Messages that cannot be routed", ["reason"]),
    cacheMiss: counter("event_router_integration_cache_miss", "Integration cache misses"),
    cacheUpdate: counter("event_router_integration_cache_update", "Integration cache entries written from Houston"),
    cacheStale: counter("event_router_integration_cache_stale", "Lookups answered by a stale entry (refresh failed)"),
    cacheEvicted: counter(
      "event_router_integration_cache_evicted",
      "Apps dropped from the integration cache to stay within its size limit",
    ),
    sseClickstream: counter("event_router_sse_clickstream_messages_received", "SSE clickstream events received"),
    sseIgnored: counter("event_router_sse_ignored_messages", "SSE events of other types (heartbeat, ...)", ["type"]),
    bytesConsumed: tallied(registry, "event_router_bytes_consumed", "Bytes of message values consumed"),
    bytesProduced: tallied(registry, "event_router_bytes_produced", "Bytes of message values produced"),
    lookupFailures: counter("event_router_houston_lookup_failures", "Failed Houston lookups"),
    s3Failures: counter("event_router_s3_upload_failures", "Failed S3 dead-letter uploads (retried)"),
    undecodableBatches: counter(
      "event_router_undecodable_batches",
      "Consumed record batches that could not be decoded (corrupt, unknown codec); the router stops on one",
      ["topic", "partition"],
    ),
    routeSeconds: new Histogram({
      name: "event_router_route_seconds",
      help: "Time from consuming a message to every produce being acknowledged",
      buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
  };
}
