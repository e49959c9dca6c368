import assert from "node:assert/strict";
import { Counter, createRegistry } from "../metrics.ts";
import { StatusCounter } from "./status_counter.ts";

Deno.test("StatusCounter hands its counts to the counter when metrics are read, client_closed for 499", async () => {
  const registry = createRegistry();
  const counter = new Counter({
    name: "requests_total",
    help: "requests",
    labelNames: ["code"],
    registers: [registry],
  });
  const hooks: Array<() => void> = [];
  const statuses = new StatusCounter(counter, { onCollect: (fn) => hooks.push(fn) });
  for (const status of [200, 200, 400, 499, 200, 700]) statuses.add(status);
  // 700 is outside the table: counted at once; the rest wait for the scrape.
  assert.match(await registry.metrics(), /requests_total\{code="700"\} 1/);
  assert.doesNotMatch(await registry.metrics(), /code="200"/);
  for (const hook of hooks) hook();
  const text = await registry.metrics();
  assert.match(text, /requests_total\{code="200"\} 3/);
  assert.match(text, /requests_total\{code="400"\} 1/);
  assert.match(text, /requests_total\{code="client_closed"\} 1/);
  statuses.add(200);
  for (const hook of hooks) hook();
  assert.match(await registry.metrics(), /requests_total\{code="200"\} 4/);
});
