/**
 * Sample traffic for `event-router dev --traffic`: clickstream events into the ingestion topic, check states to the
 * broker and user events to the proxy, so something moves without typing anything.
 * @module
 */

const APPS = ["app-shop", "app-blog", "app-docs"];
const EVENTS = ["Page Viewed", "Signed Up", "Order Completed", "Button Clicked"];
const CHECKS = [["web-01", "PING"], ["web-02", "HTTP"], ["db-01", "DISK"]] as const;
const STATES = ["ok", "ok", "ok", "warning", "critical"];

/** The n-th sample clickstream event (analytics.js / Segment shape), with an occasional opt-out. */
export function sampleClickstreamEvent(n: number, now: Date): { key: string; value: string } {
  const appId = APPS[n % APPS.length] as string;
  const event: Record<string, unknown> = {
    type: "track",
    appId,
    messageId: `dev-${now.getTime()}-${n}`,
    event: EVENTS[n % EVENTS.length],
    userId: `user-${n % 7}`,
    timestamp: now.toISOString(),
    properties: { n },
  };
  // Every fifth event opts out of Amplitude, to show the Segment rules at work.
  if (n % 5 === 4) event.integrations = { Amplitude: false };
  return { key: appId, value: JSON.stringify(event) };
}

/** The n-th sample check state for the broker. */
export function sampleCheckState(n: number): Record<string, unknown> {
  const [entity, check] = CHECKS[n % CHECKS.length] as readonly [string, string];
  return { entity, check, state: STATES[n % STATES.length], summary: `sample ${n}`, ttl: 30, tags: ["dev"] };
}

/** The n-th sample user event for the proxy; priorities cycle through every class. */
export function sampleUserEvent(n: number, now: Date): Record<string, unknown> {
  const priorities = [5, 10, 25, 30];
  return {
    requestId: `dev-${now.getTime()}-${n}`,
    sourceSystem: "dev",
    sourceSystemId: "sample",
    priority: priorities[n % priorities.length],
    authId: 1000 + (n % 10),
    data: { n },
  };
}
