/**
 * Benchmark of the clickstream router against the in-process Kafka-protocol cluster: warm-cache routed messages/s
 * (3 integrations per app) against a bare kafkajs consume→produce pipe doing the same fan-out, measured in the same
 * run; consume→ack latency percentiles; and cold start with N app ids making exactly N Houston calls.
 * Run alone: `deno run -A bench/router.ts [--quick]`.
 * @module
 */
import type { Kafka } from "kafkajs";
import {
  benchProfile,
  type BenchRow,
  failedRow,
  formatTable,
  infoRow,
  limitRow,
  ratioRow,
  sampleEvent,
} from "./_lib.ts";
import { createKafka } from "../lib/kafka/client.ts";
import { MockKafkaCluster } from "../lib/kafka/mock_cluster.ts";
import { silentLogger } from "../lib/log.ts";
import type { Registry } from "../lib/metrics.ts";
import { startRouter } from "../lib/router/service.ts";
import { FakeHouston, metricValue, routerTestConfig } from "../tests/_harness/houston.ts";

/** Suite name for `bench/main.ts --only`. */
export const name = "router";

const PARTITIONS = 6;
const APPS = 100;
const FAN_OUT = 3;

let topicSeq = 0;
function topic(prefix: string): string {
  return `${prefix}-${++topicSeq}-${crypto.randomUUID().slice(0, 6)}`;
}

/** Writes `count` sample events to `input` in large batches. */
async function preload(kafka: Kafka, input: string, count: number, appIds: (i: number) => string): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  try {
    const batch = 2000;
    for (let from = 0; from < count; from += batch) {
      const messages = [];
      for (let i = from; i < Math.min(count, from + batch); i++) {
        messages.push({ key: `user-${i % 1000}`, value: JSON.stringify({ ...sampleEvent(i), appId: appIds(i) }) });
      }
      await producer.send({ topic: input, messages });
    }
  } finally {
    await producer.disconnect();
  }
}

/**
 * The ceiling: a kafkajs consumer whose eachBatch produces every message of the batch to the same three topics
 * in one sendBatch and commits after the acknowledgement. Resolves to messages/s from first fetch to last commit.
 */
async function barePipe(kafka: Kafka, input: string, outputs: string[], count: number): Promise<number> {
  const producer = kafka.producer();
  await producer.connect();
  const consumer = kafka.consumer({ groupId: topic("pipe"), maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic: input, fromBeginning: true });
  let done = 0;
  let first = 0;
  const finished = Promise.withResolvers<number>();
  await consumer.run({
    autoCommit: false,
    partitionsConsumedConcurrently: 8,
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch, resolveOffset, commitOffsetsIfNecessary }) => {
      if (first === 0) first = performance.now();
      const messages = batch.messages.map((m) => ({ key: m.key, value: m.value, headers: m.headers }));
      await producer.sendBatch({ topicMessages: outputs.map((t) => ({ topic: t, messages })) });
      const last = batch.messages[batch.messages.length - 1];
      if (last !== undefined) {
        resolveOffset(last.offset);
        await commitOffsetsIfNecessary({
          topics: [{
            topic: batch.topic,
            partitions: [{ partition: batch.partition, offset: String(Number(last.offset) + 1) }],
          }],
        });
      }
      done += batch.messages.length;
      if (done >= count) finished.resolve(performance.now());
    },
  });
  const end = await finished.promise;
  await consumer.disconnect();
  await producer.disconnect();
  return count / ((end - first) / 1000);
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

async function warmRouter(cluster: MockKafkaCluster, count: number): Promise<BenchRow[]> {
  const bootstrap = cluster.bootstrapServers;
  const kafka = createKafka({ brokers: bootstrap.split(","), clientId: "bench", logger: silentLogger });
  const pipeInput = topic("pipe-in");
  const routerInput = topic("router-in");
  const pipeOut = Array.from({ length: FAN_OUT }, () => topic("pipe-out"));
  const routerOut = Array.from({ length: FAN_OUT }, () => topic("router-out"));
  for (const t of [pipeInput, routerInput, ...pipeOut, ...routerOut]) cluster.createTopic(t, PARTITIONS);
  const appOf = (i: number) => `app-${i % APPS}`;
  await preload(kafka, pipeInput, count, appOf);
  const ceiling = await barePipe(kafka, pipeInput, pipeOut, count);

  const houston = await FakeHouston.start({ apiKey: "bench" });
  houston.setDefault(routerOut.map((t, i) => ({ name: `Integration ${i}`, topic: t, enabled: true })));
  const config = routerTestConfig({
    bootstrap,
    ingestionTopic: routerInput,
    groupId: topic("router"),
    houston,
    cacheTtlMs: 3600_000,
  });
  const router = await startRouter(config, { logger: silentLogger });
  try {
    // Warm the cache before the measured messages exist.
    await Promise.all(Array.from({ length: APPS }, (_, i) => router.cache.get(`app-${i}`)));
    await preload(kafka, routerInput, count, appOf);
    const start = performance.now();
    // The router's first fetch follows the preload; measure from when it starts consuming.
    let first = 0;
    while (first === 0) {
      if ((await metricValue(router.registry, "event_router_messages_consumed")) > 0) first = performance.now();
      else if (performance.now() - start > 60_000) throw new Error("router consumed nothing");
      else await new Promise((r) => setTimeout(r, 2));
    }
    const end = await whenProduced(router.registry, count * FAN_OUT, 300_000);
    const rate = count / ((end - first) / 1000);
    const p50 = await histogramPercentile(router.registry, 0.5);
    const p99 = await histogramPercentile(router.registry, 0.99);
    return [
      infoRow(
        "kafkajs consume→produce pipe (fan-out 3)",
        ceiling,
        "msg/s",
        `${count} messages, ${PARTITIONS} partitions`,
      ),
      ratioRow("router warm cache, 3 integrations/app", rate, ceiling, "msg/s", 0.5, {
        notes: `${count} messages, ${houston.lookups} Houston lookups (pre-warmed ${APPS} apps)`,
      }),
      infoRow("router consume→ack p50", p50, "ms", "upper bound of event_router_route_seconds bucket"),
      infoRow("router consume→ack p99", p99, "ms", "upper bound of event_router_route_seconds bucket"),
    ];
  } finally {
    await router.stop();
    await houston.close();
  }
}

async function coldStart(cluster: MockKafkaCluster, apps: number, perApp: number): Promise<BenchRow> {
  const bootstrap = cluster.bootstrapServers;
  const kafka = createKafka({ brokers: bootstrap.split(","), clientId: "bench-cold", logger: silentLogger });
  const input = topic("cold-in");
  const out = topic("cold-out");
  cluster.createTopic(input, PARTITIONS);
  cluster.createTopic(out, PARTITIONS);
  const count = apps * perApp;
  await preload(kafka, input, count, (i) => `cold-${i % apps}`);
  const houston = await FakeHouston.start({ apiKey: "bench" });
  houston.setDefault([{ name: "Out", topic: out, enabled: true }]);
  houston.lookupDelayMs = 20;
  const router = await startRouter(
    routerTestConfig({ bootstrap, ingestionTopic: input, groupId: topic("cold"), houston }),
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
  const profile = benchProfile(opts.quick);
  const cluster = MockKafkaCluster.start({ brokers: 3 });
  const rows: BenchRow[] = [];
  try {
    try {
      rows.push(...await warmRouter(cluster, profile.pipeMessages));
    } catch (err) {
      rows.push(failedRow("router warm cache", err));
    }
    try {
      const apps = opts.quick ? 200 : 1000;
      rows.push(await coldStart(cluster, apps, 5));
    } catch (err) {
      rows.push(failedRow("router cold cache", err));
    }
  } finally {
    cluster.close();
  }
  return rows;
}

if (import.meta.main) {
  const rows = await run({ quick: Deno.args.includes("--quick") });
  console.log(formatTable(rows));
}
