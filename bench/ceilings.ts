/**
 * Ceilings the service benchmarks are divided by, measured in the same run: bare Deno.serve JSON echo, bare kafkajs
 * producer, bare kafkajs consume→produce pipe, pipelined LPUSH. Results are memoised per option set within a run.
 * @module
 */
import { Kafka, logLevel, Partitioners } from "kafkajs";
import type { CompressionTypes, Message } from "kafkajs";
import { registerKafkajsCodecs } from "../lib/kafka/kafkajs/codecs.ts";
import { Redis } from "ioredis";
import { startKafka, uniqueTopic } from "../testing/kafka.ts";
import type { MockKafkaCluster } from "../testing/kafka.ts";
import { startRedis } from "../testing/redis.ts";
import type { RedisServer } from "../testing/redis.ts";
import {
  benchProfile,
  failedRow,
  formatLatency,
  formatNumber,
  infoRow,
  LatencyRecorder,
  mib,
  sampleEvent,
  TimeBudget,
  withTimeout,
} from "./_lib.ts";
import type { BenchRow, LatencySummary } from "./_lib.ts";
import { loadHttp } from "./_load.ts";
import type { HttpLoadOptions, HttpLoadResult } from "./_load.ts";
import { spawnBenchServer } from "./_process.ts";

export type { RedisServer } from "../testing/redis.ts";

/** The embedded Kafka-protocol cluster a benchmark runs against. */
export interface BenchKafka {
  readonly cluster: MockKafkaCluster;
  /** `127.0.0.1:p1,127.0.0.1:p2,...` (for `ER_KAFKA_BROKERS`-style env and flags). */
  readonly bootstrap: string;
  /** The bootstrap list split, for `new Kafka({ brokers })`. */
  readonly brokers: string[];
  /** Creates a topic with a unique name (`<prefix>-...`) and `partitions` partitions (default 6); returns the name. */
  topic(prefix: string, partitions?: number): string;
  close(): void;
}

/**
 * Starts the librdkafka mock cluster in this process (3 brokers by default). Servers under test in child processes
 * reach it over TCP like any Kafka cluster.
 *
 * @example
 * ```ts
 * using kafka = startBenchKafka();
 * const input = kafka.topic("ingest", 6);
 * ```
 */
export function startBenchKafka(opts: { brokers?: number } = {}): BenchKafka & Disposable {
  const cluster = startKafka(opts.brokers ?? 3);
  const bootstrap = cluster.bootstrapServers;
  return {
    cluster,
    bootstrap,
    brokers: bootstrap.split(","),
    topic(prefix: string, partitions = 6): string {
      const name = uniqueTopic(prefix);
      cluster.createTopic(name, partitions, 1);
      return name;
    },
    close: () => cluster.close(),
    [Symbol.dispose]: () => cluster.close(),
  };
}

/**
 * Starts a redis-server on a free port (no persistence). Stop it with `await redis.stop()`.
 *
 * @example
 * ```ts
 * const redis = await startBenchRedis();
 * try { ... new Redis(redis.url) ... } finally { await redis.stop(); }
 * ```
 */
export function startBenchRedis(): Promise<RedisServer> {
  return startRedis();
}

/** A plain kafkajs client, quiet except for errors; `bare` means none of this project's wrappers. */
export function bareKafka(brokers: string[], clientId = "bench"): Kafka {
  return new Kafka({ clientId, brokers, logLevel: logLevel.ERROR });
}

// ---------------------------------------------------------------------------------------------------------------
// memoisation: a service bench asking for a ceiling with the options main.ts already used gets that measurement.

const memo = new Map<string, Promise<unknown>>();

function memoised<T>(kind: string, keyParts: unknown, fn: () => Promise<T>): Promise<T> {
  const key = `${kind}:${JSON.stringify(keyParts)}`;
  const hit = memo.get(key);
  if (hit !== undefined) return hit as Promise<T>;
  const p = fn();
  memo.set(key, p);
  // A failed measurement is not remembered: the next caller tries again.
  p.catch(() => memo.delete(key));
  return p;
}

/** Forgets every memoised ceiling (the next call measures again). */
export function clearCeilingCache(): void {
  memo.clear();
}

// ---------------------------------------------------------------------------------------------------------------
// (a) HTTP: bare Deno.serve JSON echo in its own process, driven by the same generator as the services.

/** Options of {@link echoCeiling}: a load run as in {@link loadHttp}, without the URL. */
export type EchoCeilingOptions = Omit<HttpLoadOptions, "url">;

/** {@link HttpLoadResult} of the echo server, plus its peak RSS. */
export interface EchoCeilingResult extends HttpLoadResult {
  serverPeakRssBytes: number | null;
}

/**
 * Requests/s of a bare `Deno.serve` server (own process) that parses each POSTed JSON body and echoes it back, under
 * exactly the load a service row uses. Pass the service row's own body, headers, concurrency and duration.
 *
 * @example
 * ```ts
 * const p = benchProfile(quick);
 * const load = { headers: { "content-type": "application/json" }, body: (i: number) => JSON.stringify(ev(i)),
 *   concurrency: p.httpConcurrency, durationMs: p.httpDurationMs, maxRequests: p.httpMaxRequests };
 * const echo = await echoCeiling(load);
 * const svc = await loadHttp({ ...load, url: `${server.url}/events` });
 * rows.push(ratioRow("kcl normal single", svc.rps, echo.rps, "req/s", 0.7));
 * ```
 */
export function echoCeiling(opts: EchoCeilingOptions): Promise<EchoCeilingResult> {
  const bodies = typeof opts.body === "function"
    ? [0, 1, 2].map((i) => (opts.body as (i: number) => string)(i))
    : opts.body;
  const { body: _body, ok: _ok, ...rest } = opts;
  return memoised("echo", { ...rest, bodies }, async () => {
    await using server = await spawnBenchServer("echo");
    const result = await loadHttp({ ...opts, url: `${server.url}/` });
    return { ...result, serverPeakRssBytes: server.peakRssBytes() };
  });
}

/** The JSON events the default ceilings send (~300 bytes each). */
export function defaultEventBody(i: number): string {
  return JSON.stringify(sampleEvent(i, 300));
}

/** The echo load used by main.ts's ceiling row for this profile (services get its memoised result by reusing it). */
export function defaultEchoOptions(quick: boolean): EchoCeilingOptions {
  const p = benchProfile(quick);
  return {
    headers: { "content-type": "application/json" },
    body: defaultEventBody,
    concurrency: p.httpConcurrency,
    durationMs: p.httpDurationMs,
    maxRequests: p.httpMaxRequests,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// (b) bare kafkajs producer

/** Options of {@link producerCeiling}. */
export interface ProducerCeilingOptions {
  /** Cluster to use; default a fresh 3-broker cluster for this measurement. */
  kafka?: BenchKafka;
  /** Events per `send`; default 100. */
  batchSize?: number;
  /** Approximate JSON size of each value; default 300. */
  valueBytes?: number;
  /** `send` calls in flight at once; default 4. */
  concurrency?: number;
  /** kafkajs acks; default -1 (all in-sync replicas, kafkajs' default). */
  acks?: -1 | 0 | 1;
  /** Partitions of the topic; default 6. */
  partitions?: number;
  durationMs: number;
  maxEvents: number;
}

/** A throughput measurement. */
export interface ThroughputResult {
  /** Events (messages) that completed. */
  events: number;
  durationMs: number;
  /** events / second */
  perSecond: number;
  /** Per send (producer) or per message (pipe: batch handed over → its produces acknowledged), ms. */
  latency: LatencySummary;
}

/**
 * Events/s of a plain kafkajs producer sending batches (`producer.send({ topic, messages })`, keyed JSON values)
 * with `concurrency` sends in flight, against the embedded cluster. One warm-up send is not timed.
 *
 * @example
 * ```ts
 * const p = benchProfile(quick);
 * const ceiling = await producerCeiling({ durationMs: p.kafkaDurationMs, maxEvents: p.kafkaMaxEvents });
 * rows.push(ratioRow("kcl bulk-100", eventsPerSec, ceiling.perSecond, "events/s", 0.8));
 * ```
 */
export function producerCeiling(opts: ProducerCeilingOptions): Promise<ThroughputResult> {
  const { kafka: _kafka, ...key } = opts;
  return memoised("producer", key, () => withOwnKafka(opts.kafka, (k) => measureProducer(k, opts)));
}

/** The producer ceiling's options in main.ts for this profile. */
export function defaultProducerOptions(quick: boolean): ProducerCeilingOptions {
  const p = benchProfile(quick);
  return {
    batchSize: 100,
    valueBytes: 300,
    concurrency: 4,
    durationMs: p.kafkaDurationMs,
    maxEvents: p.kafkaMaxEvents,
  };
}

async function withOwnKafka<T>(given: BenchKafka | undefined, fn: (k: BenchKafka) => Promise<T>): Promise<T> {
  if (given !== undefined) return await fn(given);
  using kafka = startBenchKafka();
  return await fn(kafka);
}

function valuePool(valueBytes: number, n = 256): string[] {
  return Array.from({ length: n }, (_, i) => JSON.stringify(sampleEvent(i, valueBytes)));
}

async function measureProducer(kafka: BenchKafka, opts: ProducerCeilingOptions): Promise<ThroughputResult> {
  const batchSize = opts.batchSize ?? 100;
  const topic = kafka.topic("bench-produce", opts.partitions ?? 6);
  const values = valuePool(opts.valueBytes ?? 300);
  const producer = bareKafka(kafka.brokers, "bench-producer-ceiling").producer({
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  const acks = opts.acks ?? -1;
  const batch = (from: number): Message[] => {
    const messages = new Array<Message>(batchSize);
    for (let j = 0; j < batchSize; j++) {
      const i = from + j;
      messages[j] = { key: `user-${i % 1000}`, value: values[i % values.length]! };
    }
    return messages;
  };
  await producer.connect();
  try {
    // Connection set-up and metadata are not what the ceiling is about.
    await producer.send({ topic, acks, messages: batch(0) });
    const rec = new LatencyRecorder();
    const budget = new TimeBudget(opts.durationMs);
    let next = 0;
    let done = 0;
    const worker = async () => {
      while (!budget.expired && next < opts.maxEvents) {
        const from = next;
        next += batchSize;
        const t0 = performance.now();
        await producer.send({ topic, acks, messages: batch(from) });
        rec.record(performance.now() - t0);
        done += batchSize;
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, opts.concurrency ?? 4) }, worker));
    const durationMs = budget.elapsedMs;
    return { events: done, durationMs, perSecond: done / (durationMs / 1000), latency: rec.summary() };
  } finally {
    await producer.disconnect();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// (c) bare kafkajs consume → produce pipe

/** Options of {@link pipeCeiling}. */
export interface PipeCeilingOptions {
  kafka?: BenchKafka;
  /** Messages pre-produced to the input topic and then piped; the run ends when all are through. */
  messages: number;
  /** Output topics every message is produced to; default 3 (the router's 3 integrations per app). */
  fanout?: number;
  /** Partitions of the input and output topics; default 6. */
  partitions?: number;
  valueBytes?: number;
  /** kafkajs `partitionsConsumedConcurrently`; default 1 (kafkajs' default). */
  partitionsConsumedConcurrently?: number;
  /** Time bound of the piping phase (start-up and group join excluded); default 60 s. */
  timeoutMs?: number;
}

/**
 * Messages/s of a plain kafkajs pipe: a consumer group reads `messages` pre-produced JSON messages (`eachBatch`) and
 * produces each unchanged to `fanout` topics with one `sendBatch` per batch; offsets are committed by kafkajs after
 * each batch. The clock starts at the first batch (group join excluded). Latency per message: batch handed to
 * `eachBatch` → its `sendBatch` acknowledged — the router's consume→ack latency should be measured the same way.
 *
 * @example
 * ```ts
 * const pipe = await pipeCeiling({ messages: benchProfile(quick).pipeMessages });
 * rows.push(ratioRow("router warm cache", routed.perSecond, pipe.perSecond, "msgs/s", 0.5));
 * ```
 */
export function pipeCeiling(opts: PipeCeilingOptions): Promise<ThroughputResult> {
  const { kafka: _kafka, ...key } = opts;
  return memoised("pipe", key, () => withOwnKafka(opts.kafka, (k) => measurePipe(k, opts)));
}

/** The pipe ceiling's options in main.ts for this profile. */
export function defaultPipeOptions(quick: boolean): PipeCeilingOptions {
  return { messages: benchProfile(quick).pipeMessages, fanout: 3, partitions: 6, valueBytes: 300 };
}

/**
 * Pre-produces `count` JSON messages (keyed `app-<n>`, ~`valueBytes` each, built by `value(i)` when given) to
 * `topic` with a plain kafkajs producer, in large batches. For benches that need a filled input topic.
 */
export async function fillTopic(
  kafka: BenchKafka,
  topic: string,
  count: number,
  opts: {
    valueBytes?: number;
    value?: (i: number) => string;
    key?: (i: number) => string;
    /** Batch codec of the filled topic (default none). */
    compression?: CompressionTypes;
  } = {},
): Promise<void> {
  // kafkajs writes snappy, lz4 and zstd only through the codecs the project registers.
  registerKafkajsCodecs();
  const values = opts.value === undefined ? valuePool(opts.valueBytes ?? 300) : null;
  const producer = bareKafka(kafka.brokers, "bench-fill").producer({
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  try {
    const chunk = 2_000;
    const inFlight: Promise<unknown>[] = [];
    for (let from = 0; from < count; from += chunk) {
      const messages: Message[] = [];
      for (let i = from; i < Math.min(count, from + chunk); i++) {
        messages.push({
          key: opts.key ? opts.key(i) : `app-${i % 100}`,
          value: opts.value ? opts.value(i) : values![i % values!.length]!,
        });
      }
      inFlight.push(producer.send({ topic, acks: -1, messages, compression: opts.compression }));
      if (inFlight.length >= 4) await inFlight.shift();
    }
    await Promise.all(inFlight);
  } finally {
    await producer.disconnect();
  }
  await assertNothingTrimmed(kafka, topic);
}

/**
 * librdkafka's mock cluster keeps only about 5 MiB per partition and drops the oldest records beyond that; a bench
 * that then waits for every record would only time out, so fail at once with the reason.
 */
async function assertNothingTrimmed(kafka: BenchKafka, topic: string): Promise<void> {
  const admin = bareKafka(kafka.brokers, "bench-fill-check").admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    const trimmed = offsets.filter((o) => o.low !== "0");
    if (trimmed.length > 0) {
      const lost = trimmed.reduce((n, o) => n + Number(o.low), 0);
      throw new Error(
        `the mock cluster dropped the oldest ${lost} records of ${topic} (it keeps ~5 MiB per partition): ` +
          "use fewer or smaller messages, or more partitions",
      );
    }
  } finally {
    await admin.disconnect();
  }
}

async function measurePipe(kafka: BenchKafka, opts: PipeCeilingOptions): Promise<ThroughputResult> {
  const partitions = opts.partitions ?? 6;
  const input = kafka.topic("bench-pipe-in", partitions);
  const outputs = Array.from({ length: opts.fanout ?? 3 }, (_, i) => kafka.topic(`bench-pipe-out${i}`, partitions));
  await fillTopic(kafka, input, opts.messages, { valueBytes: opts.valueBytes ?? 300 });

  const client = bareKafka(kafka.brokers, "bench-pipe-ceiling");
  const producer = client.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  const consumer = client.consumer({ groupId: uniqueTopic("bench-pipe-group") });
  const rec = new LatencyRecorder(opts.messages);
  let processed = 0;
  let firstBatchAt: number | null = null;
  let lastAckAt = 0;
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => finish = resolve);

  await producer.connect();
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: input, fromBeginning: true });
    await consumer.run({
      partitionsConsumedConcurrently: opts.partitionsConsumedConcurrently ?? 1,
      eachBatch: async ({ batch }) => {
        const t0 = performance.now();
        firstBatchAt ??= t0;
        const messages: Message[] = batch.messages.map((m) => ({ key: m.key, value: m.value, headers: m.headers }));
        await producer.sendBatch({ acks: -1, topicMessages: outputs.map((topic) => ({ topic, messages })) });
        const t1 = performance.now();
        rec.recordMany(t1 - t0, messages.length);
        processed += messages.length;
        lastAckAt = t1;
        if (processed >= opts.messages) finish();
      },
    });
    // The group join is not part of the pipe's throughput, so its wait is bounded separately.
    await withTimeout(
      new Promise<void>((resolve) => {
        const poll = () => (firstBatchAt !== null || processed > 0 ? resolve() : setTimeout(poll, 20));
        poll();
      }),
      30_000,
      "pipe ceiling: first batch (consumer group join)",
    );
    const timeoutMs = opts.timeoutMs ?? 60_000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([finished, new Promise<void>((r) => timer = setTimeout(r, timeoutMs))]);
    clearTimeout(timer);
  } finally {
    await consumer.disconnect();
    await producer.disconnect();
  }
  const durationMs = lastAckAt - (firstBatchAt ?? lastAckAt);
  return {
    events: processed,
    durationMs,
    perSecond: durationMs > 0 ? processed / (durationMs / 1000) : 0,
    latency: rec.summary(),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// (d) pipelined LPUSH into a local redis-server

/** Options of {@link lpushCeiling}. */
export interface LpushCeilingOptions {
  /** A running redis-server; default one started (and stopped) for this measurement. */
  redis?: RedisServer;
  /** Default 100 000. */
  items?: number;
  /** Approximate size of each pushed JSON value; default 250 (a Flapjack event). */
  valueBytes?: number;
  /**
   * Default false. True: each item is `MULTI; LPUSH events <json>; LPUSH events_actions +; EXEC` like Flapjack 2's
   * broker writes, still in one pipeline.
   */
  withActions?: boolean;
}

/** Result of {@link lpushCeiling}. */
export interface LpushCeilingResult {
  items: number;
  /** Building the pipeline + EXEC round trip, ms. */
  elapsedMs: number;
  itemsPerSec: number;
  /** `redis-benchmark -t lpush -P 100` requests/s on the same server, when redis-benchmark is installed. */
  redisBenchmarkRps: number | null;
}

/**
 * Time for `items` LPUSHes of JSON values sent as one ioredis pipeline (building included) to a local redis-server;
 * the reference for the httpbroker's 100 000-state submit run.
 *
 * @example
 * ```ts
 * const lpush = await lpushCeiling({ items: 100_000, withActions: true });
 * rows.push(limitRow("submit run 100 000 states", submitMs, "ms", 1000, { ceiling: lpush.elapsedMs }));
 * ```
 */
export function lpushCeiling(opts: LpushCeilingOptions = {}): Promise<LpushCeilingResult> {
  const { redis: _redis, ...key } = opts;
  return memoised("lpush", key, async () => {
    if (opts.redis !== undefined) return await measureLpush(opts.redis, opts);
    const redis = await startBenchRedis();
    try {
      return await measureLpush(redis, opts);
    } finally {
      await redis.stop();
    }
  });
}

async function measureLpush(server: RedisServer, opts: LpushCeilingOptions): Promise<LpushCeilingResult> {
  const items = opts.items ?? 100_000;
  const values = valuePool(opts.valueBytes ?? 250);
  const key = `bench-lpush-${crypto.randomUUID().slice(0, 8)}`;
  const client = new Redis(server.url, { maxRetriesPerRequest: 1, lazyConnect: true });
  await client.connect();
  let elapsedMs: number;
  try {
    await client.ping();
    const t0 = performance.now();
    const pipeline = client.pipeline();
    for (let i = 0; i < items; i++) {
      if (opts.withActions) {
        pipeline.call("MULTI");
        pipeline.lpush(key, values[i % values.length]!);
        pipeline.lpush(`${key}_actions`, "+");
        pipeline.call("EXEC");
      } else {
        pipeline.lpush(key, values[i % values.length]!);
      }
    }
    const results = await pipeline.exec();
    elapsedMs = performance.now() - t0;
    const failed = results?.find(([err]) => err !== null);
    if (failed) throw failed[0];
    const length = await client.llen(key);
    if (length !== items) throw new Error(`lpush ceiling: expected ${items} items in the list, found ${length}`);
    await client.del(key, `${key}_actions`);
  } finally {
    client.disconnect();
  }
  return {
    items,
    elapsedMs,
    itemsPerSec: items / (elapsedMs / 1000),
    redisBenchmarkRps: await redisBenchmarkLpush(server.port, items, opts.valueBytes ?? 250),
  };
}

/** `redis-benchmark -t lpush -P 100 --csv`, or null when it is not installed or fails. */
async function redisBenchmarkLpush(port: number, n: number, valueBytes: number): Promise<number | null> {
  try {
    const out = await new Deno.Command("redis-benchmark", {
      args: [
        "-h",
        "127.0.0.1",
        "-p",
        String(port),
        "-t",
        "lpush",
        "-n",
        String(n),
        "-P",
        "100",
        "-d",
        String(valueBytes),
        "--csv",
      ],
      stdout: "piped",
      stderr: "null",
      signal: AbortSignal.timeout(30_000),
    }).output();
    if (!out.success) return null;
    const line = new TextDecoder().decode(out.stdout).split("\n").find((l) => l.startsWith('"LPUSH"'));
    const rps = line === undefined ? NaN : Number(line.split(",")[1]?.replaceAll('"', ""));
    return Number.isFinite(rps) ? rps : null;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// rows for main.ts

/** Which ceilings a set of suites needs. */
export type CeilingKind = "echo" | "producer" | "pipe" | "lpush";

/** Measures the default ceilings (memoised, so suites asking with the same options reuse them) as table rows. */
export async function ceilingRows(
  quick: boolean,
  kinds: ReadonlySet<CeilingKind>,
  progress?: (msg: string) => void,
): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const attempt = async (name: string, fn: () => Promise<BenchRow>) => {
    const t0 = performance.now();
    try {
      rows.push(await fn());
    } catch (err) {
      rows.push(failedRow(name, err));
    }
    progress?.(`${name}: ${formatNumber((performance.now() - t0) / 1000)} s`);
  };
  if (kinds.has("echo")) {
    const o = defaultEchoOptions(quick);
    await attempt("ceiling: Deno.serve JSON echo", async () => {
      const r = await echoCeiling(o);
      const rss = r.serverPeakRssBytes === null
        ? ""
        : `, server peak RSS ${formatNumber(mib(r.serverPeakRssBytes))} MiB`;
      return infoRow(
        "ceiling: Deno.serve JSON echo",
        r.rps,
        "req/s",
        `${r.generator} c=${o.concurrency}, ~300 B bodies; ${formatLatency(r.latency)}; errors ${r.errors}${rss}`,
      );
    });
  }
  if (kinds.has("producer")) {
    const o = defaultProducerOptions(quick);
    await attempt("ceiling: kafkajs producer", async () => {
      const r = await producerCeiling(o);
      return infoRow(
        "ceiling: kafkajs producer",
        r.perSecond,
        "events/s",
        `batches of ${o.batchSize} × ~${o.valueBytes} B, ${o.concurrency} in flight, acks -1, 6 partitions; per send ${
          formatLatency(r.latency)
        }`,
      );
    });
  }
  if (kinds.has("pipe")) {
    const o = defaultPipeOptions(quick);
    await attempt("ceiling: kafkajs consume→produce pipe", async () => {
      const r = await pipeCeiling(o);
      return infoRow(
        "ceiling: kafkajs consume→produce pipe",
        r.perSecond,
        "msgs/s",
        `${r.events} msgs → ${o.fanout} topics, eachBatch + sendBatch; consume→ack ${formatLatency(r.latency)}`,
      );
    });
  }
  if (kinds.has("lpush")) {
    for (const withActions of [false, true]) {
      const name = withActions ? "ceiling: pipelined MULTI/LPUSH×2/EXEC" : "ceiling: pipelined LPUSH";
      await attempt(name, async () => {
        const r = await lpushCeiling({ items: benchProfile(quick).lpushItems, withActions });
        const rb = r.redisBenchmarkRps === null
          ? ""
          : `; redis-benchmark -P 100: ${formatNumber(r.redisBenchmarkRps)} req/s`;
        return infoRow(
          name,
          r.elapsedMs,
          "ms",
          `${formatNumber(r.items)} items via one ioredis pipeline: ${formatNumber(r.itemsPerSec)} items/s${
            withActions ? "" : rb
          }`,
        );
      });
    }
  }
  return rows;
}
