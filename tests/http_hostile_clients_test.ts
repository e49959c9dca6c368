/**
 * Slow and hostile clients against the services' request handlers on real sockets: bodies that never finish get
 * 408 by the deadline while normal requests are served, and the process's descriptors return to their count; a
 * client gone mid-body is `client_closed`, not a 500 nor an error line; the httpbroker's state cap refuses new
 * checks beyond `--max-states` with 503 while updates still pass.
 * @module
 */
import assert from "node:assert/strict";
import { systemClock } from "../lib/clock.ts";
import { createBrokerHandler } from "../lib/httpbroker/http.ts";
import { createBrokerMetrics } from "../lib/httpbroker/metrics.ts";
import { StateStore } from "../lib/httpbroker/state_store.ts";
import { ApiKeys } from "../lib/kcl/api_keys.ts";
import { startKclProxy } from "../lib/kcl/service.ts";
import { createLogger, type Logger } from "../lib/log.ts";
import { createRegistry, type Registry } from "../lib/metrics.ts";
import { apiKeyEntry, apiKeysFile, kclTestConfig } from "../testing/kcl.ts";
import { startKafka, uniqueTopic, withTimeout } from "../testing/harness.ts";

const TIMEOUT_MS = 1_500;
const API_KEY = "k-hostile-test-0123456789";

interface Target {
  port: number;
  registry: Registry;
  /** A complete, valid request. */
  request: (id: number) => string;
  /** Headers of a POST declaring `length` bytes, and the first bytes of its body. */
  partial: (length: number) => string;
  close(): Promise<void>;
}

function http(method: string, path: string, headers: Record<string, string>, body: string): string {
  const lines = Object.entries({
    host: "x",
    "content-length": String(new TextEncoder().encode(body).length),
    ...headers,
  })
    .map(([k, v]) => `${k}: ${v}\r\n`).join("");
  return `${method} ${path} HTTP/1.1\r\n${lines}\r\n${body}`;
}

function brokerTarget(logger: Logger, maxStates?: number): Target {
  const store = new StateStore(maxStates);
  const registry = createRegistry();
  const handler = createBrokerHandler({
    store,
    clock: systemClock,
    logger,
    metrics: createBrokerMetrics(registry, () => store.size, maxStates),
    registry,
    ready: () => ({ redis: true }),
    requestTimeoutMs: TIMEOUT_MS,
  });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handler);
  const event = (id: number) => JSON.stringify({ entity: `host-${id}`, check: "ping", state: "ok", ttl: 60 });
  return {
    port: server.addr.port,
    registry,
    request: (id) => http("POST", "/state", {}, event(id)),
    partial: (length) => http("POST", "/state", { "content-length": String(length) }, "").slice(0) + '{"entity"',
    close: () => server.shutdown(),
  };
}

async function kclTarget(logger: Logger): Promise<Target> {
  const kafka = startKafka(1);
  const topic = uniqueTopic("hostile");
  kafka.createTopic(topic, 1);
  const keys = apiKeysFile(apiKeyEntry(API_KEY, { id: "h", clientId: "H", topics: ["hostile-*"] }));
  const registry = createRegistry();
  const proxy = await startKclProxy(kclTestConfig(kafka.brokers, { requestTimeoutMs: TIMEOUT_MS }), {
    logger,
    registry,
    keys: ApiKeys.fromText(keys, logger),
  });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, proxy.handler);
  const headers = {
    "content-type": "application/json",
    "x-api-key": API_KEY,
    "x-app-id": "H",
    "x-realm": "prod",
    "kcl-topic": topic,
  };
  const event = (id: number) =>
    JSON.stringify({ sourceSystem: "s", sourceSystemId: "i", authId: id, priority: 15, data: {} });
  return {
    port: server.addr.port,
    registry,
    request: (id) => http("POST", "/events", headers, event(id)),
    partial: (length) => http("POST", "/events", { ...headers, "content-length": String(length) }, "") + '{"source',
    close: async () => {
      await server.shutdown();
      await proxy.stop();
      kafka[Symbol.dispose]();
    },
  };
}

/** Sends `payload` on a new connection; resolves with what came back until the server closed or `ms` passed. */
async function exchange(port: number, payload: string, ms: number, opts: { closeAfterSend?: boolean } = {}) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(new TextEncoder().encode(payload));
  if (opts.closeAfterSend) {
    conn.close();
    return "";
  }
  let text = "";
  const buf = new Uint8Array(4096);
  const timer = setTimeout(() => conn.close(), ms);
  try {
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
      // A whole response is enough: the test client then closes, as any client does after an answer.
      if (/\r\n\r\n/.test(text) && /content-length: (\d+)/i.test(text)) {
        const length = Number(/content-length: (\d+)/i.exec(text)![1]);
        if (text.length - text.indexOf("\r\n\r\n") - 4 >= length) break;
      }
    }
  } catch {
    // closed by the timer
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // already closed
    }
  }
  return text;
}

const openDescriptors = () => [...Deno.readDirSync("/proc/self/fd")].length;

async function metricValue(registry: Registry, name: string, code: string): Promise<number> {
  const text = await registry.metrics();
  const m = new RegExp(`^${name}\\{code="${code}"\\} (\\d+)`, "m").exec(text);
  return m === null ? 0 : Number(m[1]);
}

for (const service of ["httpbroker", "kcl-proxy"] as const) {
  Deno.test({
    name: `${service}: 100 half-sent bodies get 408 by the deadline while normal requests are served; fds return`,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      const lines: string[] = [];
      const logger = createLogger({ debug: true, write: (l) => lines.push(l) });
      const target = service === "httpbroker" ? brokerTarget(logger) : await kclTarget(logger);
      try {
        // One exchange first so lazily opened descriptors (the kcl-proxy's producer) count in the baseline.
        assert.match(await exchange(target.port, target.request(0), 10_000), /^HTTP\/1.1 20[02]/);
        const before = openDescriptors();
        const started = performance.now();
        const slow = Array.from({ length: 100 }, () => exchange(target.port, target.partial(100), 10_000));
        // Meanwhile, normal requests are answered at once.
        for (let i = 1; i <= 20; i++) {
          assert.match(await exchange(target.port, target.request(i), 5_000), /^HTTP\/1.1 20[02]/);
        }
        assert.ok(performance.now() - started < TIMEOUT_MS, "normal requests were not held up by the slow ones");
        const answers = await withTimeout(Promise.all(slow), 15_000, "the slow requests to be answered");
        const elapsed = performance.now() - started;
        for (const answer of answers) {
          assert.match(answer, /^HTTP\/1.1 408 /, answer.slice(0, 200));
          assert.match(answer, /"error_code":40800,"message":"the request body did not arrive within 1.5 s"/);
        }
        // Deadline checked every 250 ms: all answered within the timeout plus a sweep and some scheduling.
        assert.ok(elapsed < TIMEOUT_MS + 2_000, `answered after ${Math.round(elapsed)} ms`);
        assert.equal(await metricValue(target.registry, metricName(service), "408"), 100);
        assert.equal(await metricValue(target.registry, metricName(service), "500"), 0);
        let after = openDescriptors();
        for (let i = 0; i < 50 && after > before; i++) {
          await new Promise((r) => setTimeout(r, 100));
          after = openDescriptors();
        }
        assert.ok(after <= before, `descriptors: ${before} before, ${after} after`);
        assert.ok(!lines.some((l) => l.includes('"level":"error"')), lines.filter((l) => l.includes("error")).join());
      } finally {
        await target.close();
      }
    },
  });

  Deno.test({
    name: `${service}: a client that disconnects mid-body is counted as client_closed, not as a 500, logged at debug`,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      const lines: string[] = [];
      const logger = createLogger({ debug: true, write: (l) => lines.push(l) });
      const target = service === "httpbroker" ? brokerTarget(logger) : await kclTarget(logger);
      try {
        for (let i = 0; i < 5; i++) await exchange(target.port, target.partial(1000), 0, { closeAfterSend: true });
        const name = metricName(service);
        let closed = 0;
        for (let i = 0; i < 50 && closed < 5; i++) {
          await new Promise((r) => setTimeout(r, 100));
          closed = await metricValue(target.registry, name, "client_closed");
        }
        assert.equal(closed, 5);
        assert.equal(await metricValue(target.registry, name, "500"), 0);
        assert.equal(await metricValue(target.registry, name, "499"), 0);
        assert.ok(!lines.some((l) => l.includes('"level":"error"')), lines.join("\n"));
        assert.ok(lines.some((l) => l.includes('"level":"debug"') && l.includes("client closed the connection")));
      } finally {
        await target.close();
      }
    },
  });
}

function metricName(service: "httpbroker" | "kcl-proxy"): string {
  return service === "httpbroker" ? "httpbroker_requests_total" : "kcl_http_requests_total";
}

Deno.test({
  name: "httpbroker --max-states 1000: of 1500 new checks 1000 are cached and 500 refused with 503; updates pass",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const target = brokerTarget(createLogger({ write: () => {} }), 1000);
    const url = `http://127.0.0.1:${target.port}/state`;
    const post = async (body: unknown) => {
      const res = await fetch(url, { method: "POST", body: JSON.stringify(body) });
      return { status: res.status, text: await res.text() };
    };
    const check = (i: number, state = "ok") => ({ entity: `host-${i}`, check: "disk", state, ttl: 60 });
    try {
      const statuses = new Map<number, number>();
      let refusal = "";
      for (let i = 0; i < 1500; i++) {
        const { status, text } = await post(check(i));
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        if (status === 503) refusal = text;
      }
      assert.deepEqual([...statuses].sort(), [[200, 1000], [503, 500]]);
      assert.match(refusal, /"error_code":50301,"message":"the broker caches at most 1000 checks \(--max-states\)/);
      // Updates of cached checks still go through, alone and in bulk.
      assert.equal((await post(check(3, "critical"))).status, 200);
      assert.equal((await post([check(4, "warning"), check(5, "warning")])).status, 200);
      // A bulk request bringing one new check is refused whole (all-or-nothing, as for invalid events).
      assert.equal((await post([check(6, "warning"), check(2000)])).status, 503);
      const cached = await (await fetch(url)).json();
      assert.equal(Object.keys(cached).length, 1000);
      assert.equal(cached["host-3:disk"].state, "critical");
      assert.equal(cached["host-6:disk"].state, "ok");
      const metrics = await target.registry.metrics();
      assert.match(metrics, /^httpbroker_states_limit 1000$/m);
      assert.match(metrics, /^httpbroker_states_refused_total 501$/m);
      assert.match(metrics, /^httpbroker_states_cached 1000$/m);
    } finally {
      await target.close();
    }
  },
});
