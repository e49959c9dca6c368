/**
 * Prometheus metrics. Each service builds its own {@link Registry} (no process-global default registry), so two
 * services in one process (`event-router dev`) or in one test never share counters.
 * @module
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import { VERSION } from "./version.ts";

export { Counter, Gauge, Histogram, Registry };

/** A fresh registry; pass it to every metric of one service via `registers: [registry]`. */
export function createRegistry(): Registry {
  return new Registry();
}

/**
 * The registry of a running service: {@link createRegistry} plus `<prefix>_build_info{version,deno}` (always 1, for
 * joining on the version) and prom-client's default process metrics (`process_cpu_seconds_total`,
 * `process_resident_memory_bytes`, `process_open_fds`, event-loop lag, ...). Commands use it; tests that build a
 * service in-process keep the plain registry, whose collectors start no timers.
 */
export function createServiceRegistry(prefix: "event_router" | "kcl" | "httpbroker"): Registry {
  const registry = createRegistry();
  new Gauge({
    name: `${prefix}_build_info`,
    help: "Always 1; labelled with the version of event-router and of the Deno runtime",
    labelNames: ["version", "deno"],
    registers: [registry],
  }).set({ version: VERSION, deno: Deno.version.deno }, 1);
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** Renders a registry as a `GET /metrics` response in the Prometheus text format. */
export async function metricsResponse(registry: Registry): Promise<Response> {
  return new Response(await registry.metrics(), { headers: { "content-type": registry.contentType } });
}
