/**
 * The router's produced-message counter with and without its appId label (ER_METRICS_APP_LABELS).
 * @module
 */
import assert from "node:assert/strict";
import { createRegistry } from "../metrics.ts";
import { createRouterMetrics } from "./metrics.ts";

Deno.test("produced messages are counted per app and integration, or per integration only", async () => {
  for (const appLabels of [true, false]) {
    const registry = createRegistry();
    const metrics = createRouterMetrics(registry, { appLabels });
    metrics.producedFor("app-a", "Segment").inc(2);
    metrics.producedFor("app-b", "Segment").inc(1);
    metrics.producedFor("app-b", "Amplitude").inc(1);
    const lines = (await registry.metrics()).split("\n").filter((l) => l.startsWith("event_router_messages_produced{"));
    assert.deepEqual(
      lines.sort(),
      appLabels
        ? [
          'event_router_messages_produced{appId="app-a",integration="Segment"} 2',
          'event_router_messages_produced{appId="app-b",integration="Amplitude"} 1',
          'event_router_messages_produced{appId="app-b",integration="Segment"} 1',
        ]
        : [
          'event_router_messages_produced{integration="Amplitude"} 1',
          'event_router_messages_produced{integration="Segment"} 3',
        ],
    );
  }
});
