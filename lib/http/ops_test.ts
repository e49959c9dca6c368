import assert from "node:assert/strict";
import { Counter, createRegistry } from "../metrics.ts";
import { opsRoutes } from "./ops.ts";

Deno.test("opsRoutes serves health, readiness from its checks, and Prometheus metrics", async () => {
  const registry = createRegistry();
  new Counter({ name: "things_total", help: "things", registers: [registry] }).inc(3);
  let kafka = false;
  const ops = opsRoutes({ registry, ready: () => ({ kafka }) });

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

  assert.equal(await ops(new Request("http://x/other")), null);
  assert.equal(await ops(new Request("http://x/health", { method: "POST" })), null);
});
