/**
 * The router's Prometheus metrics, keeping the original's names so existing dashboards keep working, plus a
 * consume → all-produces-acknowledged latency histogram.
 * @module
 */
import { Counter, Histogram, type Registry } from "../metrics.ts";

/** Every router metric, registered on one registry. */
export interface RouterMetrics {
  consumed: Counter;
  produced: Counter<"appId" | "integration">;
  producedFailed: Counter;
  retried: Counter;
  uploadedToS3: Counter;
  noIntegrations: Counter;
  invalid: Counter<"reason">;
  cacheMiss: Counter;
  cacheUpdate: Counter;
  cacheStale: Counter;
  sseClickstream: Counter;
  sseIgnored: Counter<"type">;
  bytesConsumed: Counter;
  bytesProduced: Counter;
  lookupFailures: Counter;
  s3Failures: Counter;
  routeSeconds: Histogram;
}

/** Creates the metrics on `registry`. */
export function createRouterMetrics(registry: Registry): RouterMetrics {
  const registers = [registry];
  const counter = <L extends string = never>(name: string, help: string, labelNames: L[] = []) =>
    new Counter<L>({ name, help, labelNames, registers });
  return {
    consumed: counter("event_router_messages_consumed", "Messages consumed from the ingestion topic"),
    produced: counter("event_router_messages_produced", "Messages produced to an integration topic", [
      "appId",
      "integration",
    ]),
    producedFailed: counter("event_router_messages_produced_failed", "Produces that failed after kafkajs retries"),
    retried: counter("event_router_messages_retried", "Messages handed to the retry topic"),
    uploadedToS3: counter("event_router_messages_uploaded_to_s3", "Messages dead-lettered to S3"),
    noIntegrations: counter("event_router_messages_no_integrations", "Messages of apps with no enabled integration"),
    invalid: counter("event_router_messages_invalid", "Messages that cannot be routed", ["reason"]),
    cacheMiss: counter("event_router_integration_cache_miss", "Integration cache misses"),
    cacheUpdate: counter("event_router_integration_cache_update", "Integration cache entries written from Houston"),
    cacheStale: counter("event_router_integration_cache_stale", "Lookups answered by a stale entry (refresh failed)"),
    sseClickstream: counter("event_router_sse_clickstream_messages_received", "SSE clickstream events received"),
    sseIgnored: counter("event_router_sse_ignored_messages", "SSE events of other types (heartbeat, ...)", ["type"]),
    bytesConsumed: counter("event_router_bytes_consumed", "Bytes of message values consumed"),
    bytesProduced: counter("event_router_bytes_produced", "Bytes of message values produced"),
    lookupFailures: counter("event_router_houston_lookup_failures", "Failed Houston lookups"),
    s3Failures: counter("event_router_s3_upload_failures", "Failed S3 dead-letter uploads (retried)"),
    routeSeconds: new Histogram({
      name: "event_router_route_seconds",
      help: "Time from consuming a message to every produce being acknowledged",
      buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
  };
}
