/**
 * Benchmark of `kcl-proxy` (run as its own process against the in-process Kafka-protocol cluster): one normal event
 * per request against a bare Deno.serve JSON echo, bulks of 100 normal events against a bare kafkajs producer,
 * immediate p99 at a fixed 1 000 req/s, high and normal latency to Kafka, and memory per buffered event.
 * Run alone: `deno run -A bench/kcl_proxy.ts [--quick]`.
 * @module
 */
import { createHash } from "node:crypto";
import type { Kafka } from "kafkajs";
import {
  type BenchProfile,
  benchProfile,
  type BenchRow,
  formatLatency,
  formatTable,
  infoRow,
  limitRow,
  ratioRow,
  runParts,
  sampleEvent,
  waitUntil,
} from "./_lib.ts";
import { loadHttp } from "./_load.ts";
import { type ServerProcess, spawnBenchServer, spawnServer } from "./_process.ts";
import { createKafka } from "../lib/kafka/kafkajs/client.ts";
import { MockKafkaCluster } from "../testing/mock_cluster.ts";
import { silentLogger } from "../lib/log.ts";
import { kcatRead } from "../testing/kcat.ts";
import { makeTestCerts } from "../testing/certs.ts";
import { startKafkaGateway } from "../testing/kafka_gateway.ts";

/** Suite name for `bench/main.ts --only`. */
export const name = "kcl";

const API_KEY = "bench-key-0123456789";
const PARTITIONS = 6;

function userEvent(i: number, priority: number): Record<string, unknown> {
  return { sourceSystem: "bench", sourceSystemId: "clicked", authId: i % 10_000, priority, data: sampleEvent(i) };
}

/** The value the proxy would write for an event, so the bare producer moves records of the same size. */
function recordValue(i: number): string {
  const now = new Date().toISOString();
  return JSON.stringify({
    ...userEvent(i, 10),
    createdAt: now,
    receivedAt: now,
    clientId: "BENCH",
    realm: "prod",
  });
}

function denoFlags(): string[] {
  return (Deno.env.get("KCL_BENCH_DENO_FLAGS") ?? "").split(" ").filter((f) => f !== "");
}

interface Env {
  cluster: MockKafkaCluster;
  proxy: ServerProcess;
  /** Starts another proxy on the same cluster and keys with `env` added (stop it yourself). */
  spawnProxy(env?: Record<string, string>, readyCa?: string): Promise<ServerProcess>;
  dir: string;
  topic(name: string): string;
  headers(topic: string): Record<string, string>;
}

async function startEnv(): Promise<Env> {
  const cluster = MockKafkaCluster.start({ brokers: 3 });
  const dir = await Deno.makeTempDir({ prefix: "kcl-bench-" });
  try {
    const keys = {
      keys: [{
        id: "bench",
        sha256: createHash("sha256").update(API_KEY).digest("hex"),
        clientId: "BENCH",
        realms: ["prod"],
        topics: ["bench.*"],
      }],
    };
    await Deno.writeTextFile(`${dir}/keys.json`, JSON.stringify(keys));
    const spawnProxy = (extra: Record<string, string> = {}, readyCa?: string) =>
      spawnServer({
        readyCa,
        // KCL_BENCH_DENO_FLAGS adds flags to the server's `deno run`, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
        args: ["run", "-A", ...denoFlags(), "main.ts", "kcl-proxy", "--port", "0", "--host", "127.0.0.1"],
        env: {
          KCL_BOOTSTRAP_SERVERS: cluster.bootstrapServers,
          KCL_API_KEYS_FILE: `${dir}/keys.json`,
          KCL_DEDUP_WINDOW: "10m",
          KCL_SHUTDOWN_TIMEOUT: "20s",
          ...extra,
        },
        readyLine: /"msg":"listening".*"address":"[^"]*:(\d+)"/,
        readyPath: "/ready",
      });
    const proxy = await spawnProxy();
    let n = 0;
    return {
      cluster,
      proxy,
      spawnProxy,
      dir,
      topic(prefix) {
        const t = `bench.${prefix}.${Date.now()}.${n++}`;
        cluster.createTopic(t, PARTITIONS);
        return t;
      },
      headers: (topic) => ({
        "content-type": "application/json",
        "x-api-key": API_KEY,
        "x-app-id": "BENCH",
        "x-realm": "prod",
        "kcl-topic": topic,
      }),
    };
  } catch (err) {
    cluster.close();
    throw err;
  }
}

async function metricValue(proxy: ServerProcess, pattern: RegExp, client?: Deno.HttpClient): Promise<number> {
  const text = await (await fetch(`${proxy.url}/metrics`, { client })).text();
  let sum = 0;
  for (const line of text.split("\n")) {
    if (pattern.test(line)) sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return sum;
}

const bufferedEvents = (proxy: ServerProcess, client?: Deno.HttpClient) =>
  metricValue(proxy, /^kcl_buffer_events\{/, client);

/** The bare kafkajs producer: 100-record batches from `concurrency` loops, for `durationMs`. Events/s. */
async function bareProducerCeiling(
  kafka: Kafka,
  topic: string,
  durationMs: number,
  headers?: Record<string, string>,
): Promise<number> {
  const producer = kafka.producer();
  await producer.connect();
  try {
    const values = Array.from({ length: 100 }, (_, i) => recordValue(i));
    let sent = 0;
    const start = performance.now();
    const loop = async () => {
      let i = 0;
      while (performance.now() - start < durationMs) {
        const messages = values.map((value, j) => ({ key: String((i * 100 + j) % 10_000), value, headers }));
        await producer.sendBatch({ acks: -1, topicMessages: [{ topic, messages }] });
        sent += messages.length;
        i++;
      }
    };
    await Promise.all(Array.from({ length: 8 }, loop));
    return sent / ((performance.now() - start) / 1000);
  } finally {
    await producer.disconnect();
  }
}

async function throughputRows(env: Env, quick: boolean): Promise<BenchRow[]> {
  const p = benchProfile(quick);
  const rows: BenchRow[] = [];
  const single = (i: number) => JSON.stringify(userEvent(i, 10));

  // One normal event per request vs the echo ceiling.
  const echo = await spawnBenchServer("echo");
  let ceiling;
  try {
    ceiling = await loadHttp({
      url: `${echo.url}/`,
      headers: { "content-type": "application/json" },
      body: single,
      concurrency: p.httpConcurrency,
      durationMs: p.httpDurationMs,
      maxRequests: p.httpMaxRequests,
    });
  } finally {
    await echo.stop();
  }
  const topic1 = env.topic("single");
  const one = await loadHttp({
    url: `${env.proxy.url}/events`,
    headers: env.headers(topic1),
    body: single,
    concurrency: p.httpConcurrency,
    durationMs: p.httpDurationMs,
    maxRequests: p.httpMaxRequests,
  });
  rows.push(infoRow("bare Deno.serve JSON echo (ceiling)", ceiling.rps, "req/s", formatLatency(ceiling.latency)));
  rows.push(ratioRow("kcl normal, 1 event/request", one.rps, ceiling.rps, "req/s", 0.7, {
    notes: `${formatLatency(one.latency)}; ${one.generator}; statuses ${JSON.stringify(one.statusCounts)}`,
  }));
  await waitUntil(async () => (await bufferedEvents(env.proxy)) === 0, 30_000, "normal buffers to drain");

  // Bulk of 100 normal events vs the bare producer ceiling.
  const kafka = createKafka({ brokers: env.cluster.brokers, clientId: "bench-ceiling", logger: silentLogger });
  const producerCeiling = await bareProducerCeiling(kafka, env.topic("ceiling"), p.kafkaDurationMs);
  rows.push(infoRow("bare kafkajs producer, 100-record batches (ceiling)", producerCeiling, "events/s"));
  // Not the spec's ceiling, shown for context: the same producer writing the three kcl-* headers every proxy record
  // carries (kafkajs encodes each header with its own buffers, which costs about as much as the record itself).
  const withHeaders = await bareProducerCeiling(kafka, env.topic("ceiling-headers"), p.kafkaDurationMs, {
    "kcl-client-id": "BENCH",
    "kcl-realm": "prod",
    "kcl-priority": "normal",
  });
  rows.push(infoRow("bare kafkajs producer, same with 3 kcl headers (context)", withHeaders, "events/s"));
  const plain = await bulkRate(env, env.proxy, p);
  rows.push(ratioRow("kcl bulk of 100 normal events (produced)", plain.rate, producerCeiling, "events/s", 0.8, {
    notes: plain.notes,
  }));
  // Over SASL_SSL PLAIN through the harness's TLS/SASL gateway, which runs in this process.
  {
    await using certs = await makeTestCerts();
    await using gateway = await startKafkaGateway({
      upstream: env.cluster.bootstrapServers,
      tls: { cert: certs.serverCert, key: certs.serverKey },
      sasl: { mechanisms: ["PLAIN"], users: { kcl: "bench-password" } },
    });
    const proxy = await env.spawnProxy({
      KCL_BOOTSTRAP_SERVERS: gateway.bootstrapServers,
      KCL_KAFKA_SECURITY_PROTOCOL: "SASL_SSL",
      KCL_KAFKA_SSL_CA_LOCATION: certs.caFile,
      KCL_KAFKA_SASL_MECHANISM: "PLAIN",
      KCL_KAFKA_SASL_USERNAME: "kcl",
      KCL_KAFKA_SASL_PASSWORD: "bench-password",
    });
    try {
      const secured = await bulkRate(env, proxy, p);
      rows.push(
        infoRow(
          "kcl bulk of 100 over SASL_SSL PLAIN",
          secured.rate,
          "events/s",
          `${
            (secured.rate / plain.rate).toFixed(2)
          }× the plaintext bulk row; through the harness's TLS/SASL gateway, which forwards every byte in JavaScript on ` +
            `the same 2 cores; ${secured.notes}`,
        ),
      );
    } finally {
      await proxy.stop("SIGTERM", 30_000);
    }
  }
  // Compression is paid in the producer worker; each codec's proxy runs alone, right after the plain one.
  for (const codec of ["lz4", "zstd"]) {
    const proxy = await env.spawnProxy({ KCL_KAFKA_COMPRESSION: codec });
    try {
      const packed = await bulkRate(env, proxy, p);
      rows.push(ratioRow(`kcl bulk of 100, ${codec}-compressed batches`, packed.rate, plain.rate, "events/s", 0.75, {
        notes: `ceiling: the uncompressed bulk row above; ${packed.notes}`,
      }));
    } finally {
      await proxy.stop("SIGTERM", 30_000);
    }
  }
  return rows;
}

/** Bulks of 100 normal events through `proxy` as fast as it takes them; events/s that reached Kafka. */
async function bulkRate(
  env: Env,
  proxy: ServerProcess,
  p: BenchProfile,
): Promise<{ rate: number; notes: string }> {
  const topic = env.topic("bulk");
  const bulkBodies = Array.from(
    { length: 16 },
    (_, v) => JSON.stringify(Array.from({ length: 100 }, (_, i) => userEvent(v * 100 + i, 10))),
  );
  const producedNormal = () => metricValue(proxy, /^kcl_events_total\{.*priority="normal",status="produced"/);
  const producedBefore = await producedNormal();
  // wrk runs for its whole -d even when it stopped at maxRequests earlier, so the time the last event reached Kafka
  // is taken from the produced counter, watched while the load runs, not from when wrk and the drain wait returned.
  const watch = watchCounter(producedNormal);
  const t0 = performance.now();
  const bulk = await loadHttp({
    url: `${proxy.url}/events`,
    headers: env.headers(topic),
    body: (i) => bulkBodies[i % bulkBodies.length]!,
    concurrency: Math.min(16, p.httpConcurrency),
    durationMs: p.kafkaDurationMs,
    maxRequests: Math.ceil(p.kafkaMaxEvents / 100),
    ok: (s) => s === 202,
  });
  // Count what reached Kafka, including the tail still buffered when the load stopped.
  await waitUntil(async () => (await bufferedEvents(proxy)) === 0, 60_000, "bulk buffers to drain");
  const { value, lastRiseAt } = await watch.stop();
  const produced = value - producedBefore;
  const elapsed = (lastRiseAt - t0) / 1000;
  return {
    rate: produced / elapsed,
    notes: `${formatNumber0(bulk.rps)} req/s accepted; ${formatLatency(bulk.latency)}; statuses ${
      JSON.stringify(bulk.statusCounts)
    }`,
  };
}

/**
 * Polls `read` every 25 ms until stopped; reports the final value and when it last rose (a poll's resolution, so
 * the elapsed time it gives errs on the long side).
 */
function watchCounter(read: () => Promise<number>): { stop(): Promise<{ value: number; lastRiseAt: number }> } {
  let running = true;
  let value = NaN;
  let lastRiseAt = performance.now();
  const loop = (async () => {
    while (running) {
      const v = await read();
      if (!(v <= value)) lastRiseAt = performance.now();
      value = v;
      await new Promise((r) => setTimeout(r, 25));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      const v = await read();
      if (v > value) lastRiseAt = performance.now();
      return { value: v, lastRiseAt };
    },
  };
}

function formatNumber0(n: number): string {
  return String(Math.round(n));
}

async function latencyRows(env: Env, quick: boolean): Promise<BenchRow[]> {
  const p = benchProfile(quick);
  const rows: BenchRow[] = [];
  const topic = env.topic("immediate");
  const imm = await loadHttp({
    url: `${env.proxy.url}/events`,
    headers: env.headers(topic),
    body: (i) => JSON.stringify(userEvent(i, 30)),
    concurrency: 256,
    durationMs: p.fixedRateDurationMs,
    maxRequests: p.fixedRate * p.fixedRateDurationMs / 1000,
    rate: p.fixedRate,
    ok: (s) => s === 200,
  });
  rows.push(limitRow(`kcl immediate p99 at ${p.fixedRate} req/s`, imm.latency.p99, "ms", 100, {
    notes: `goal < 20 ms; ${formatLatency(imm.latency)}; errors ${imm.errors}; ${imm.generator}`,
  }));

  // High and normal: time from receipt (value.receivedAt) to the produce call (record CreateTime), read with kcat.
  for (const [cls, priority, limit] of [["high", 25, 500], ["normal", 15, 2100]] as const) {
    const t = env.topic(cls);
    const count = quick ? 400 : 2000;
    const r = await loadHttp({
      url: `${env.proxy.url}/events`,
      headers: env.headers(t),
      body: (i) => JSON.stringify(userEvent(i, priority)),
      concurrency: 64,
      durationMs: count / 200 * 1000 + 5000,
      maxRequests: count,
      rate: 200,
      ok: (s) => s === 202,
    });
    const got = await kcatRead(env.cluster.bootstrapServers, t, { expected: r.requests - r.errors, timeoutMs: 30_000 });
    let worst = 0;
    for (const m of got) {
      const receivedAt = Date.parse(JSON.parse(m.value ?? "{}").receivedAt);
      worst = Math.max(worst, m.timestamp - receivedAt);
    }
    rows.push(limitRow(`kcl ${cls}: max request-to-Kafka at 200 req/s`, worst, "ms", limit, {
      notes: `${got.length} events; receipt to produce (record CreateTime)`,
    }));
  }
  return rows;
}

async function memoryRow(env: Env): Promise<BenchRow> {
  // With every broker down nothing leaves the buffers, so the RSS growth is what the buffered events cost.
  const topic = env.topic("memory");
  const events = 40_000;
  const body = (v: number) => JSON.stringify(Array.from({ length: 100 }, (_, i) => userEvent(v * 100 + i, 12)));
  const bodies = Array.from({ length: 8 }, (_, v) => body(v));
  env.cluster.setBrokerDown(-1);
  try {
    // Warm up allocations of the request path first.
    await new Promise((r) => setTimeout(r, 200));
    const before = env.proxy.rssBytes() ?? NaN;
    for (let i = 0; i < events / 100; i++) {
      const res = await fetch(`${env.proxy.url}/events`, {
        method: "POST",
        headers: env.headers(topic),
        body: bodies[i % bodies.length],
      });
      await res.arrayBuffer();
    }
    const buffered = await bufferedEvents(env.proxy);
    const after = env.proxy.rssBytes() ?? NaN;
    return infoRow(
      "kcl memory per buffered event (RSS growth)",
      (after - before) / buffered,
      "bytes",
      `${buffered} events buffered, ~450-byte events`,
    );
  } finally {
    env.cluster.setBrokerUp(-1);
  }
}

/** One normal event per request over HTTPS, against the same echo over HTTPS: what TLS costs the proxy. */
async function httpsRows(env: Env, quick: boolean): Promise<BenchRow[]> {
  const p = benchProfile(quick);
  const single = (i: number) => JSON.stringify(userEvent(i, 10));
  await using certs = await makeTestCerts();
  const tls = { certFile: `${certs.dir}/bench.pem`, keyFile: `${certs.dir}/bench.key`, ca: certs.ca };
  await Deno.writeTextFile(tls.certFile, certs.serverCert);
  await Deno.writeTextFile(tls.keyFile, certs.serverKey);
  const load = (url: string, headers: Record<string, string>) =>
    loadHttp({
      url,
      headers,
      body: single,
      concurrency: p.httpConcurrency,
      durationMs: p.httpDurationMs,
      maxRequests: p.httpMaxRequests,
    });
  const echo = await spawnBenchServer("echo", tls);
  let ceiling;
  try {
    ceiling = await load(`${echo.url}/`, { "content-type": "application/json" });
  } finally {
    await echo.stop();
  }
  const proxy = await env.spawnProxy({ KCL_TLS_CERT_FILE: tls.certFile, KCL_TLS_KEY_FILE: tls.keyFile }, tls.ca);
  let one;
  try {
    one = await load(`${proxy.url}/events`, env.headers(env.topic("https")));
    using client = Deno.createHttpClient({ caCerts: [tls.ca] });
    await waitUntil(async () => (await bufferedEvents(proxy, client)) === 0, 30_000, "normal buffers to drain");
  } finally {
    await proxy.stop("SIGTERM", 30_000);
  }
  return [
    infoRow("bare Deno.serve JSON echo over HTTPS (ceiling)", ceiling.rps, "req/s", formatLatency(ceiling.latency)),
    ratioRow("kcl normal over HTTPS, 1 event/request", one.rps, ceiling.rps, "req/s", 0.7, {
      notes: `${formatLatency(one.latency)}; ${one.generator}; statuses ${JSON.stringify(one.statusCounts)}`,
    }),
  ];
}

/** Runs the kcl-proxy benchmarks. */
export async function run(opts: { quick: boolean }): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const env = await startEnv();
  try {
    rows.push(
      ...await runParts([
        ["kcl throughput", () => throughputRows(env, opts.quick)],
        ["kcl over HTTPS", () => httpsRows(env, opts.quick)],
        ["kcl latency", () => latencyRows(env, opts.quick)],
        ["kcl memory", async () => [await memoryRow(env)]],
      ], "KCL_BENCH_ONLY"),
    );
  } finally {
    await env.proxy.stop("SIGTERM", 30_000);
    env.cluster.close();
    await Deno.remove(env.dir, { recursive: true });
  }
  return rows;
}

if (import.meta.main) {
  console.log(formatTable(await run({ quick: Deno.args.includes("--quick") })));
}
