import assert from "node:assert/strict";
import { Counter, createRegistry } from "../metrics.ts";
import { silentLogger } from "../log.ts";
import { withErrorBodies } from "./errors.ts";
import { opsRoutes } from "./ops.ts";
import { routeTable } from "./routes.ts";

Deno.test("opsRoutes serves health, readiness from its checks, and Prometheus metrics", async () => {
  const registry = createRegistry();
  new Counter({ name: "things_total", help: "things", registers: [registry] }).inc(3);
  let kafka = false;
  const ops = withErrorBodies(routeTable(opsRoutes({ registry, ready: () => ({ kafka }) })), silentLogger);

  const health = await ops(new Request("http://x/health"));
  assert.equal(health?.status, 200);
  assert.equal(await health?.text(), "OK");

  const notReady = await ops(new Request("http://x/ready"));
  assert.equal(notReady?.status, 503);
  assert.deepEqual(await notReady?.json(), { ready: false, checks: { kafka: false } });
  kafka = true;
  assert.equal((await ops(new Request("http://x/ready")))?.status, 200);

  const metrics = await ops(new Request("http://x/metrics"));
  assert.match(metrics?.headers.get("content-type") ?? "", /text\/plain/);
  assert.match(await metrics?.text() ?? "", /^things_total 3$/m);

  // Any other path is the service's 404; another method on these paths is 405 with Allow.
  assert.equal((await ops(new Request("http://x/other"))).status, 404);
  const post = await ops(new Request("http://x/health", { method: "POST" }));
  assert.equal(post.status, 405);
  assert.equal(post.headers.get("allow"), "GET, HEAD");
});
