/**
 * Benchmark of `receiver httpbroker`: POST /state intake against a bare Deno.serve JSON echo, one submit run of
 * 100 000 cached states against a bare pipelined LPUSH of the same payloads, and memory per cached state.
 * Run alone: `deno run -A bench/httpbroker.ts [--quick]`.
 * @module
 */
import { Redis } from "ioredis";
import {
  benchProfile,
  type BenchRow,
  formatLatency,
  formatTable,
  infoRow,
  limitRow,
  ratioRow,
  runParts,
} from "./_lib.ts";
import { type HttpLoadResult, loadHttp } from "./_load.ts";
import { freePort, type ServerProcess, spawnBenchServer, spawnServer } from "./_process.ts";
import { startRedis } from "../testing/redis.ts";
import { makeTestCerts } from "../testing/certs.ts";
import { silentLogger } from "../lib/log.ts";
import { createRegistry } from "../lib/metrics.ts";
import { ManualClock } from "../lib/clock.ts";
import { parsePostedStates, type PostedState, toCachedState } from "../lib/httpbroker/check_state.ts";
import { FlapjackSink, LPUSH_CHUNK } from "../lib/httpbroker/flapjack_sink.ts";
import { createBrokerMetrics } from "../lib/httpbroker/metrics.ts";
import { StateStore } from "../lib/httpbroker/state_store.ts";
import { buildSubmission, Submitter } from "../lib/httpbroker/submitter.ts";
import { WorkerRedisLink } from "../lib/httpbroker/worker_redis.ts";

/** Suite name for `bench/main.ts --only`. */
export const name = "httpbroker";

const STATES = 100_000;

/**
 * The i-th posted event. Requests 2k and 2k+1 post the same check with different summaries, so a check's cached
 * state changes on every post (wrk cycles through 256 bodies), as monitoring summaries do: no shortcut for a re-posted
 * identical event can apply, and the row measures the full cost of each event.
 */
function event(i: number): Record<string, unknown> {
  const k = i >> 1;
  return {
    entity: `host-${k % 5000}.example.com`,
    check: `check-${k % 20}`,
    state: k % 7 === 0 ? "WARNING" : "OK",
    summary: `${3 + (i & 1)} ms round trip`,
    tags: "apps,prod",
    ttl: 300,
  };
}

function postedStates(n: number): PostedState[] {
  const items = Array.from({ length: n }, (_, i) => ({ ...event(i), entity: `host-${i}.example.com` }));
  const r = parsePostedStates(items);
  if (!r.ok) throw new Error("bench events do not validate");
  return r.states;
}

/** Extra flags for the broker's `deno run`, e.g. HTTPBROKER_BENCH_DENO_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof". */
function denoFlags(): string[] {
  return (Deno.env.get("HTTPBROKER_BENCH_DENO_FLAGS") ?? "").split(" ").filter((f) => f !== "");
}

/** A certificate for 127.0.0.1 signed by a CA made for this run, as files (for the HTTPS rows). */
type BenchTls = { certFile: string; keyFile: string; ca: string };

async function intakeRows(quick: boolean, redisPort: number, tls?: BenchTls): Promise<BenchRow[]> {
  const scheme = tls === undefined ? "http" : "https";
  const over = tls === undefined ? "" : " over HTTPS";
  const p = benchProfile(quick);
  // Echo and broker get exactly the same wrk script (same 256 bodies, headers and concurrency).
  const load = (url: string, durationMs = p.httpDurationMs) =>
    loadHttp({
      url,
      headers: { "content-type": "application/json" },
      body: (i: number) => JSON.stringify(event(i)),
      concurrency: p.httpConcurrency,
      durationMs,
      maxRequests: p.httpMaxRequests,
    });
  const port = await freePort();
  const echo = await spawnBenchServer("echo", tls);
  let broker: ServerProcess | undefined;
  const ceilings: HttpLoadResult[] = [];
  const results: HttpLoadResult[] = [];
  try {
    broker = await spawnServer({
      args: [
        "run",
        "-A",
        ...denoFlags(),
        "main.ts",
        "receiver",
        "httpbroker",
        "--port",
        `127.0.0.1:${port}`,
        "--server",
        `127.0.0.1:${redisPort}`,
        "--interval",
        "1h",
        ...(tls === undefined ? [] : ["--tls-cert", tls.certFile, "--tls-key", tls.keyFile]),
      ],
      readyUrl: `${scheme}://127.0.0.1:${port}/ready`,
      readyCa: tls?.ca,
    });
    // The same 1 s warm-up for both, so neither side pays for JIT compilation inside a measured window.
    await load(`${echo.url}/`, 1_000);
    await load(`${broker.url}/state`, 1_000);
    // The machine is shared: alternating rounds expose both servers to the same background load, and the best
    // round of each is compared (the paired ratio of every round is in the notes).
    for (let round = 0; round < (quick ? 2 : 3); round++) {
      ceilings.push(await load(`${echo.url}/`));
      results.push(await load(`${broker.url}/state`));
    }
  } finally {
    await echo.stop();
    await broker?.stop();
  }
  const best = (runs: HttpLoadResult[]) => runs.reduce((a, b) => b.rps > a.rps ? b : a);
  const ceiling = best(ceilings);
  const result = best(results);
  const paired = results.map((r, i) => (r.rps / (ceilings[i]?.rps ?? NaN)).toFixed(2)).join(", ");
  const errors = results.reduce((n, r) => n + r.errors, 0);
  return [
    infoRow(`bare Deno.serve JSON echo${over} (ceiling)`, ceiling.rps, "req/s", formatLatency(ceiling.latency)),
    ratioRow(`httpbroker POST /state${over}, 1 event/request`, result.rps, ceiling.rps, "req/s", 0.7, {
      notes: `best of ${results.length} alternating rounds (paired ratios ${paired}); ${
        formatLatency(result.latency)
      }; ${errors} errors; ${result.generator}`,
    }),
  ];
}

async function submitRows(redisPort: number): Promise<BenchRow[]> {
  const clock = new ManualClock(Date.now());
  const receivedAt = Math.floor(clock.now() / 1000);
  const store = new StateStore();
  for (const s of postedStates(STATES)) store.put(toCachedState(s, receivedAt));
  store.takeDirty();

  // Ceiling: the same payload strings, already built, written with the same MULTI + variadic LPUSH by bare ioredis.
  const payloads = buildSubmission(store.values(), receivedAt, silentLogger).payloads;
  const bare = new Redis({ host: "127.0.0.1", port: redisPort });
  let ceilingMs: number;
  try {
    // Two runs, the second measured, as for the broker below.
    ceilingMs = NaN;
    for (let run = 0; run < 2; run++) {
      await bare.del("ceiling", "ceiling_actions");
      const t0 = performance.now();
      const tx = bare.multi();
      for (let i = 0; i < payloads.length; i += LPUSH_CHUNK) {
        tx.lpush("ceiling", ...payloads.slice(i, i + LPUSH_CHUNK));
      }
      for (let i = 0; i < payloads.length; i += LPUSH_CHUNK) {
        tx.lpush("ceiling_actions", ...new Array<string>(Math.min(LPUSH_CHUNK, payloads.length - i)).fill("+"));
      }
      await tx.exec();
      ceilingMs = performance.now() - t0;
    }
    await bare.del("ceiling", "ceiling_actions");
  } finally {
    bare.disconnect();
  }

  // The broker's own thread layout: the Redis client in its worker, payloads posted to it.
  const redisOptions = { host: "127.0.0.1", port: redisPort, database: 0 };
  const sink = new FlapjackSink({
    link: await WorkerRedisLink.start(redisOptions, { logger: silentLogger }),
    server: `127.0.0.1:${redisPort}`,
    queue: "bench_events",
    flapjackVersion: 2,
    logger: silentLogger,
  });
  sink.start();
  let runMs = NaN;
  try {
    if (!(await sink.waitReady(5000))) throw new Error("redis not reachable");
    const submitter = new Submitter({
      store,
      sink,
      clock,
      logger: silentLogger,
      metrics: createBrokerMetrics(createRegistry(), () => store.size),
    });
    // Two runs, the second measured (the first pays for JIT warm-up); stale ones exercise the UNKNOWN path too.
    for (let run = 0; run < 2; run++) {
      await sink.redis.command(["del", "bench_events", "bench_events_actions"]);
      const t0 = performance.now();
      const outcome = await submitter.run();
      runMs = performance.now() - t0;
      if (outcome !== "submitted") throw new Error(`submit run ${outcome}`);
    }
    const pushed = await sink.redis.command(["llen", "bench_events"]);
    if (pushed !== STATES) throw new Error(`expected ${STATES} events, found ${pushed}`);
    await sink.redis.command(["del", "bench_events", "bench_events_actions"]);
  } finally {
    await sink.close();
  }
  return [
    infoRow("bare pipelined MULTI/LPUSH of 100 000 prebuilt events (ceiling)", ceilingMs, "ms"),
    limitRow("httpbroker submit run, 100 000 states", runMs, "ms", 1000, { ceiling: ceilingMs }),
  ];
}

function memoryRow(): BenchRow {
  const gc = (globalThis as { gc?: () => void }).gc;
  // Without a forced collection the heap difference is whatever the collector happened to leave (it came out
  // negative once the submit row's worker changed the timing), so no number rather than a wrong one.
  if (gc === undefined) {
    return infoRow("httpbroker memory per cached state (JS heap)", NaN, "bytes", "needs --v8-flags=--expose-gc");
  }
  const posted = postedStates(STATES);
  const receivedAt = Math.floor(Date.now() / 1000);
  gc();
  const before = Deno.memoryUsage().heapUsed;
  const store = new StateStore();
  for (const s of posted) store.put(toCachedState(s, receivedAt));
  store.takeDirty();
  gc();
  const after = Deno.memoryUsage().heapUsed;
  const perState = (after - before) / store.size;
  return infoRow(
    "httpbroker memory per cached state (JS heap)",
    perState,
    "bytes",
    "after gc",
  );
}

/** Runs the httpbroker benchmarks. */
export async function run(opts: { quick: boolean }): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const redis = await startRedis();
  await using certs = await makeTestCerts();
  const tls = { certFile: `${certs.dir}/bench.pem`, keyFile: `${certs.dir}/bench.key`, ca: certs.ca };
  await Deno.writeTextFile(tls.certFile, certs.serverCert);
  await Deno.writeTextFile(tls.keyFile, certs.serverKey);
  try {
    rows.push(
      ...await runParts([
        ["httpbroker POST /state", () => intakeRows(opts.quick, redis.port)],
        ["httpbroker POST /state over HTTPS", () => intakeRows(opts.quick, redis.port, tls)],
        ["httpbroker submit run", () => submitRows(redis.port)],
        ["httpbroker memory per state", () => Promise.resolve([memoryRow()])],
      ], "HTTPBROKER_BENCH_ONLY"),
    );
  } finally {
    await redis.stop();
  }
  return rows;
}

if (import.meta.main) {
  console.log(formatTable(await run({ quick: Deno.args.includes("--quick") })));
}
