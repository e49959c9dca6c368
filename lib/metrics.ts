/**
 * Prometheus metrics. Each service builds its own {@link Registry} (no process-global default registry), so two
 * services in one process (`event-router dev`) or in one test never share counters.
 * @module
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";

export { Counter, Gauge, Histogram, Registry };

/** A fresh registry; pass it to every metric of one service via `registers: [registry]`. */
export function createRegistry(): Registry {
  return new Registry();
}

/** Renders a registry as a `GET /metrics` response in the Prometheus text format. */
export async function metricsResponse(registry: Registry): Promise<Response> {
  return new Response(await registry.metrics(), { headers: { "content-type": registry.contentType } });
}
