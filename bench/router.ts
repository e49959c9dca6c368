/**
 * Benchmark of the clickstream router against the in-process Kafka-protocol cluster: warm-cache routed messages/s
 * (3 integrations per app) against a bare kafkajs consume→produce pipe doing the same fan-out, measured in the same
 * run; consume→ack latency percentiles; and cold start with N app ids making exactly N Houston calls.
 * Run alone: `deno run -A bench/router.ts [--quick]`.
 * @module
 */
import { type BenchRow, failedRow, formatTable, infoRow, limitRow, ratioRow, sampleEvent } from "./_lib.ts";
import { bareKafka, defaultPipeOptions, fillTopic, pipeCeiling, startBenchKafka } from "./ceilings.ts";
import { CompressionTypes } from "kafkajs";
import { silentLogger } from "../lib/log.ts";
import type { Registry } from "../lib/metrics.ts";
import { startRouter } from "../lib/router/service.ts";
import { FakeHouston, metricValue, routerTestConfig } from "../testing/houston.ts";
import { makeTestCerts } from "../testing/certs.ts";
import { startKafkaGateway } from "../testing/kafka_gateway.ts";

/** Suite name for `bench/main.ts --only`. */
export const name = "router";

const PARTITIONS = 6;
const FAN_OUT = 3;

let groupSeq = 0;
function group(prefix: string): string {
  return `${prefix}-${++groupSeq}-${crypto.randomUUID().slice(0, 6)}`;
}

/** Polls until `produced` reaches `target`; returns the time it did. */
async function whenProduced(registry: Registry, target: number, timeoutMs: number): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if ((await metricValue(registry, "event_router_messages_produced")) >= target) return performance.now();
    if (performance.now() > deadline) throw new Error(`router produced fewer than ${target} records in time`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Percentile estimate from the route histogram's cumulative buckets (upper bound of the bucket reached), in ms. */
async function histogramPercentile(registry: Registry, q: number): Promise<number> {
  const metric = registry.getSingleMetric("event_router_route_seconds");
  if (metric === undefined) return NaN;
  const { values } = await metric.get();
  const buckets = values
    .filter((v) => (v as { metricName?: string }).metricName === "event_router_route_seconds_bucket")
    .map((v) => ({ le: Number((v.labels as { le?: string | number }).le), count: v.value }))
    .sort((a, b) => a.le - b.le);
  const total = buckets[buckets.length - 1]?.count ?? 0;
  const want = total * q;
  for (const b of buckets) if (b.count >= want) return b.le * 1000;
  return NaN;
}

async function warmRouter(quick: boolean): Promise<BenchRow[]> {
  // The same options main.ts uses, so a full run measures the pipe once and shares it.
  const pipeOptions = defaultPipeOptions(quick);
  const pipe = await pipeCeiling(pipeOptions);
  const plain = await routerRate(pipeOptions, "none");
  // Snappy input, and the router writing snappy too: what a pipeline of compressing producers gets.
  const snappy = await routerRate(pipeOptions, "snappy");
  // Every router connection through the test harness's TLS + SCRAM gateway (a JavaScript hop in this process).
  const secured = await routerRate(pipeOptions, "none", true);
  const librdkafka = await kcatPipeRate(pipeOptions).catch((err) => ({ error: String(err) }));
  return [
    ratioRow("router warm cache, 3 integrations/app", plain.rate, pipe.perSecond, "msg/s", 0.5, {
      notes: `${plain.count} messages; ceiling: kafkajs consume→produce pipe, fan-out 3; ` +
        `cache warmed by the first message of each of ${plain.lookups} apps (one lookup each)`,
    }),
    infoRow(
      "router consume→ack p50 / p99",
      plain.p50,
      "ms",
      `p99 ${plain.p99} ms (event_router_route_seconds bucket bounds); pipe p50 ${pipe.latency.p50.toFixed(1)} / p99 ${
        pipe.latency.p99.toFixed(1)
      } ms`,
    ),
    ratioRow("router warm cache, snappy in and out", snappy.rate, plain.rate, "msg/s", 0.75, {
      notes: `ceiling: the uncompressed router row above; input written by kafkajs with snappy batches, ` +
        `ER_KAFKA_COMPRESSION=snappy; p50 ${snappy.p50} ms, p99 ${snappy.p99} ms`,
    }),
    "error" in librdkafka ? failedRow("context: kcat consume→produce pipe", librdkafka.error) : infoRow(
      "context: kcat (librdkafka) consume→produce pipe, fan-out 3",
      librdkafka.rate,
      "msg/s",
      `what the original Go router's client library does with the same input: one kcat consumer piped into three ` +
        `kcat producers; ${(plain.rate / librdkafka.rate).toFixed(2)}× of it for the router row`,
    ),
    infoRow(
      "router warm cache over SASL_SSL SCRAM-SHA-512",
      secured.rate,
      "msg/s",
      `${
        (secured.rate / plain.rate).toFixed(2)
      }× the plaintext router row; consumer and producer through the harness's TLS/SASL gateway, which forwards ` +
        `every byte in JavaScript on the same 2 cores; p50 ${secured.p50} ms, p99 ${secured.p99} ms`,
    ),
  ];
}

/**
 * librdkafka as a reference: `kcat -C` reads the filled topic to its end and `tee` hands every message to three
 * `kcat -P` producers (the router's fan-out), each waiting for its acknowledgements before it exits.
 */
async function kcatPipeRate(pipeOptions: ReturnType<typeof defaultPipeOptions>): Promise<{ rate: number }> {
  const count = pipeOptions.messages;
  using kafka = startBenchKafka();
  const input = kafka.topic("kcat-in", pipeOptions.partitions ?? PARTITIONS);
  const outputs = Array.from({ length: FAN_OUT }, () => kafka.topic("kcat-out", pipeOptions.partitions));
  await fillTopic(kafka, input, count, { valueBytes: pipeOptions.valueBytes ?? 300 });
  const b = kafka.bootstrap;
  const produce = (topic: string) => `kcat -b ${b} -P -t ${topic} -K $'\\x1f' -D $'\\x1e' -q -X linger.ms=5`;
  const script = `kcat -b ${b} -C -t ${input} -o beginning -e -q -K $'\\x1f' -D $'\\x1e' | ` +
    `tee >(${produce(outputs[0]!)}) >(${produce(outputs[1]!)}) | ${produce(outputs[2]!)}; wait`;
  const started = performance.now();
  const out = await new Deno.Command("bash", { args: ["-c", script], stdout: "null", stderr: "piped" }).output();
  if (!out.success) throw new Error(`kcat pipe failed: ${new TextDecoder().decode(out.stderr).slice(0, 300)}`);
  // Process substitutions may outlive bash: wait until every output topic holds every message.
  for (const topic of outputs) {
    for (const deadline = performance.now() + 120_000;;) {
      const offsets = await endOffsets(kafka.brokers, topic);
      if (offsets >= count) break;
      if (performance.now() > deadline) throw new Error(`kcat pipe wrote ${offsets} of ${count} to ${topic}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  return { rate: count / ((performance.now() - started) / 1000) };
}

/** The sum of `topic`'s partition end offsets. */
async function endOffsets(brokers: string[], topic: string): Promise<number> {
  const admin = bareKafka(brokers, "bench-offsets").admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high), 0);
  } finally {
    await admin.disconnect();
  }
}

interface RouterRun {
  count: number;
  rate: number;
  p50: number;
  p99: number;
  lookups: number;
}

/** Routes a pre-filled topic with a warm cache; messages/s from the first consumed to the last produced. */
async function routerRate(
  pipeOptions: ReturnType<typeof defaultPipeOptions>,
  compression: "none" | "snappy",
  secured = false,
): Promise<RouterRun> {
  const count = pipeOptions.messages;
  using kafka = startBenchKafka();
  await using certs = secured ? await makeTestCerts() : undefined;
  await using gateway = certs === undefined ? undefined : await startKafkaGateway({
    upstream: kafka.bootstrap,
    tls: { cert: certs.serverCert, key: certs.serverKey },
    sasl: { mechanisms: ["SCRAM-SHA-512"], users: { router: "bench-password" } },
  });
  const routerInput = kafka.topic("router-in", pipeOptions.partitions ?? PARTITIONS);
  const routerOut = Array.from({ length: FAN_OUT }, () => kafka.topic("router-out", pipeOptions.partitions));
  const houston = await FakeHouston.start({ apiKey: "bench" });
  houston.setDefault(routerOut.map((t, i) => ({ name: `Integration ${i}`, topic: t, enabled: true })));
  // The topic is filled before the router starts, as the pipe's is: both are timed from their first fetch.
  await fillTopic(kafka, routerInput, count, {
    valueBytes: pipeOptions.valueBytes ?? 300,
    compression: compression === "snappy" ? CompressionTypes.Snappy : CompressionTypes.None,
  });
  const config = routerTestConfig({
    bootstrap: gateway?.bootstrapServers ?? kafka.bootstrap,
    ingestionTopic: routerInput,
    groupId: group("router"),
    houston,
    cacheTtlMs: 3600_000,
    compression,
    kafkaSecurity: certs === undefined ? undefined : {
      protocol: "SASL_SSL",
      tls: { caCerts: [certs.ca], verifyHostname: true },
      sasl: { mechanism: "SCRAM-SHA-512", username: "router", password: "bench-password" },
    },
  });
  const router = await startRouter(config, { logger: silentLogger });
  try {
    let first = 0;
    const start = performance.now();
    while (first === 0) {
      if ((await metricValue(router.registry, "event_router_messages_consumed")) > 0) first = performance.now();
      else if (performance.now() - start > 60_000) throw new Error("router consumed nothing");
      else await new Promise((r) => setTimeout(r, 1));
    }
    const end = await whenProduced(router.registry, count * FAN_OUT, 300_000);
    const rate = count / ((end - first) / 1000);
    const p50 = await histogramPercentile(router.registry, 0.5);
    const p99 = await histogramPercentile(router.registry, 0.99);
    return { count, rate, p50, p99, lookups: houston.lookups };
  } finally {
    await router.stop();
    await houston.close();
  }
}

async function coldStart(apps: number, perApp: number): Promise<BenchRow> {
  using kafka = startBenchKafka();
  const bootstrap = kafka.bootstrap;
  const input = kafka.topic("cold-in", PARTITIONS);
  const out = kafka.topic("cold-out", PARTITIONS);
  const count = apps * perApp;
  await fillTopic(kafka, input, count, {
    value: (i) => JSON.stringify({ ...sampleEvent(i), appId: `cold-${i % apps}` }),
  });
  const houston = await FakeHouston.start({ apiKey: "bench" });
  houston.setDefault([{ name: "Out", topic: out, enabled: true }]);
  houston.lookupDelayMs = 20;
  const router = await startRouter(
    routerTestConfig({ bootstrap, ingestionTopic: input, groupId: group("cold"), houston }),
    { logger: silentLogger },
  );
  try {
    const t0 = performance.now();
    await whenProduced(router.registry, count, 120_000);
    return limitRow(`cold cache: Houston calls for ${apps} new app ids`, houston.lookups, "calls", apps + 1, {
      notes: `${count} messages routed in ${Math.round(performance.now() - t0)} ms; target exactly ${apps}`,
    });
  } finally {
    await router.stop();
    await houston.close();
  }
}

/** Runs the router benchmark. */
export async function run(opts: { quick: boolean }): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  try {
    rows.push(...await warmRouter(opts.quick));
  } catch (err) {
    rows.push(failedRow("router warm cache", err));
  }
  try {
    rows.push(await coldStart(opts.quick ? 200 : 1000, 5));
  } catch (err) {
    rows.push(failedRow("router cold cache", err));
  }
  return rows;
}

if (import.meta.main) {
  const rows = await run({ quick: Deno.args.includes("--quick") });
  console.log(formatTable(rows));
}
