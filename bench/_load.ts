/**
 * HTTP load generators: `wrk` (closed loop, C, efficient) when installed, a keep-alive Deno fetch client otherwise,
 * and an open-loop Deno client for latency at a fixed request rate (wrk2 is not packaged here).
 * @module
 */
import { LatencyRecorder, TimeBudget } from "./_lib.ts";
import type { LatencySummary } from "./_lib.ts";

/** Options of {@link loadHttp}. */
export interface HttpLoadOptions {
  url: string;
  /** Default `POST` when a body is given, else `GET`. */
  method?: string;
  headers?: Record<string, string>;
  /** The request body, or a function giving the body of the i-th request (wrk cycles through `bodyVariants`). */
  body?: string | ((i: number) => string);
  /** Connections kept busy (closed loop) / maximum requests in flight (open loop). */
  concurrency: number;
  /** Wall-clock bound of the run. */
  durationMs: number;
  /** Count bound of the run. */
  maxRequests: number;
  /** Requests per second for an open-loop run (latency measured from each request's scheduled send time). */
  rate?: number;
  /** Default `auto`: wrk for closed-loop runs when installed, else the Deno client. */
  generator?: "auto" | "wrk" | "deno";
  /** Distinct bodies wrk pre-builds from a body function; default 256. */
  bodyVariants?: number;
  /** Which statuses count as success; default 2xx. */
  ok?: (status: number) => boolean;
  /** Per-request timeout; default 10 s. */
  timeoutMs?: number;
  /** wrk threads; default 1 (the server under test needs the other core). */
  wrkThreads?: number;
}

/** What a load run measured. Latencies in milliseconds. */
export interface HttpLoadResult {
  generator: "wrk" | "deno" | "deno-open-loop";
  /** Completed requests (any status). */
  requests: number;
  /** Socket errors, timeouts, skipped open-loop sends, and responses `ok` rejects. */
  errors: number;
  /** Count per HTTP status, plus `error` for requests without a response. */
  statusCounts: Record<string, number>;
  durationMs: number;
  /** Successful requests per second. */
  rps: number;
  latency: LatencySummary;
}

const defaultOk = (status: number) => status >= 200 && status < 300;

let wrkPath: string | null | undefined;

/** The path of `wrk` when installed, else null (looked up once). */
export async function findWrk(): Promise<string | null> {
  if (wrkPath !== undefined) return wrkPath;
  wrkPath = null;
  for (const dir of (Deno.env.get("PATH") ?? "/usr/bin").split(":")) {
    try {
      const candidate = `${dir}/wrk`;
      const info = await Deno.stat(candidate);
      if (info.isFile) {
        wrkPath = candidate;
        break;
      }
    } catch {
      // not in this directory
    }
  }
  return wrkPath;
}

/**
 * Runs an HTTP load and summarises it. A `rate` selects the open-loop Deno client; otherwise wrk is used when
 * present (`generator: "auto"`). Every run is bounded by both `durationMs` and `maxRequests`.
 *
 * @example
 * ```ts
 * const r = await loadHttp({
 *   url: `${server.url}/state`,
 *   headers: { "content-type": "application/json" },
 *   body: (i) => JSON.stringify({ entity: `e${i}`, check: "c", state: "ok" }),
 *   concurrency: 32, durationMs: 5_000, maxRequests: 500_000,
 * });
 * console.log(r.rps, r.latency.p99);
 * ```
 */
export async function loadHttp(opts: HttpLoadOptions): Promise<HttpLoadResult> {
  if (opts.rate !== undefined) return await openLoop(opts, opts.rate);
  const generator = opts.generator ?? "auto";
  if (generator !== "deno") {
    const wrk = await findWrk();
    if (wrk !== null) return await runWrk(wrk, opts);
    if (generator === "wrk") throw new Error("wrk is not installed (apt-get install -y wrk)");
  }
  return await closedLoop(opts);
}

function bodyOf(opts: HttpLoadOptions, i: number): string | undefined {
  const b = opts.body;
  return typeof b === "function" ? b(i) : b;
}

function methodOf(opts: HttpLoadOptions): string {
  return opts.method ?? (opts.body === undefined ? "GET" : "POST");
}

interface Tally {
  rec: LatencyRecorder;
  statusCounts: Record<string, number>;
  errors: number;
  ok: number;
}

function newTally(): Tally {
  return { rec: new LatencyRecorder(), statusCounts: {}, errors: 0, ok: 0 };
}

function count(t: Tally, key: string): void {
  t.statusCounts[key] = (t.statusCounts[key] ?? 0) + 1;
}

/** Sends request `i` and records its outcome; latency runs from `sentAt` (performance.now() time). */
async function sendOne(
  client: Deno.HttpClient,
  opts: HttpLoadOptions,
  i: number,
  sentAt: number,
  tally: Tally,
): Promise<void> {
  const ok = opts.ok ?? defaultOk;
  try {
    const res = await fetch(opts.url, {
      method: methodOf(opts),
      headers: opts.headers,
      body: bodyOf(opts, i),
      client,
      signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
    });
    // Reading the body to the end lets the connection go back to the keep-alive pool.
    await res.arrayBuffer();
    tally.rec.record(performance.now() - sentAt);
    count(tally, String(res.status));
    if (ok(res.status)) tally.ok++;
    else tally.errors++;
  } catch {
    count(tally, "error");
    tally.errors++;
  }
}

function result(generator: HttpLoadResult["generator"], tally: Tally, durationMs: number): HttpLoadResult {
  return {
    generator,
    requests: tally.rec.count,
    errors: tally.errors,
    statusCounts: tally.statusCounts,
    durationMs,
    rps: durationMs > 0 ? tally.ok / (durationMs / 1000) : 0,
    latency: tally.rec.summary(),
  };
}

/** Fixed concurrency over keep-alive connections: each worker sends its next request when the previous answered. */
async function closedLoop(opts: HttpLoadOptions): Promise<HttpLoadResult> {
  const client = Deno.createHttpClient({});
  const tally = newTally();
  const budget = new TimeBudget(opts.durationMs);
  let next = 0;
  const worker = async () => {
    while (!budget.expired) {
      const i = next++;
      if (i >= opts.maxRequests) return;
      await sendOne(client, opts, i, performance.now(), tally);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, opts.concurrency) }, worker));
  } finally {
    client.close();
  }
  return result("deno", tally, budget.elapsedMs);
}

/**
 * Sends request i at `start + i / rate` whether or not earlier ones answered (open loop), so a slow server shows
 * up as latency instead of as a lower send rate (no coordinated omission). More than `concurrency` requests in
 * flight counts the extra sends as errors (`skipped`) rather than piling up without bound.
 */
async function openLoop(opts: HttpLoadOptions, rate: number): Promise<HttpLoadResult> {
  const client = Deno.createHttpClient({});
  const tally = newTally();
  const intervalMs = 1000 / rate;
  const total = Math.min(opts.maxRequests, Math.floor((opts.durationMs / 1000) * rate));
  const inFlight = new Set<Promise<void>>();
  const start = performance.now();
  let i = 0;
  try {
    while (i < total) {
      const now = performance.now();
      const due = start + i * intervalMs;
      if (due > now) {
        await new Promise((r) => setTimeout(r, Math.max(0, due - now - 0.5)));
        continue;
      }
      // Everything due by now goes out at once; each keeps its own scheduled time.
      while (i < total && start + i * intervalMs <= now) {
        const scheduled = start + i * intervalMs;
        if (inFlight.size >= opts.concurrency) {
          count(tally, "skipped");
          tally.errors++;
        } else {
          const p: Promise<void> = sendOne(client, opts, i, scheduled, tally).finally(() => inFlight.delete(p));
          inFlight.add(p);
        }
        i++;
      }
    }
    // Requests still in flight get their own timeout; this bound only guards against a stuck fetch.
    const drainBudget = new TimeBudget((opts.timeoutMs ?? 10_000) + 1_000);
    while (inFlight.size > 0 && !drainBudget.expired) {
      await Promise.race([...inFlight, new Promise((r) => setTimeout(r, 100))]);
    }
  } finally {
    client.close();
  }
  return result("deno-open-loop", tally, performance.now() - start);
}

/** A Lua string literal for any JS string (bytes as UTF-8, everything but printable ASCII escaped as `\ddd`). */
function luaString(s: string): string {
  let out = '"';
  for (const byte of new TextEncoder().encode(s)) {
    if (byte === 0x22) out += '\\"';
    else if (byte === 0x5c) out += "\\\\";
    else if (byte >= 0x20 && byte < 0x7f) out += String.fromCharCode(byte);
    else out += `\\${byte}`;
  }
  return out + '"';
}

const WRK_MARKER = "WRKRESULT ";

/** The Lua script: pre-formatted requests (cycled), a per-thread request cap, status counts, a JSON summary line. */
function wrkScript(opts: HttpLoadOptions, perThreadLimit: number): string {
  const url = new URL(opts.url);
  const variants = typeof opts.body === "function"
    ? Math.max(1, Math.min(opts.bodyVariants ?? 256, opts.maxRequests))
    : 1;
  const bodies: string[] = [];
  for (let i = 0; i < variants; i++) {
    const b = bodyOf(opts, i);
    bodies.push(b === undefined ? "nil" : luaString(b));
  }
  const headers = Object.entries(opts.headers ?? {})
    .map(([k, v]) => `[${luaString(k)}] = ${luaString(v)}`)
    .join(", ");
  return `
local method = ${luaString(methodOf(opts))}
local path = ${luaString(url.pathname + url.search)}
local headers = { ${headers} }
local bodies = { ${bodies.join(",\n")} }
local nbodies = ${variants}
local limit = ${perThreadLimit}
local reqs = {}
local sent = 0
statuses = {}
limited = false
threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  for i = 1, nbodies do
    reqs[i] = wrk.format(method, path, headers, bodies[i])
  end
end

function request()
  sent = sent + 1
  if sent > limit then
    limited = true
    wrk.thread:stop()
  end
  return reqs[((sent - 1) % nbodies) + 1]
end

function response(status, hdrs, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local agg = {}
  local anyLimited = 0
  for _, t in ipairs(threads) do
    if t:get("limited") then anyLimited = 1 end
    local s = t:get("statuses")
    for k, v in pairs(s) do
      agg[k] = (agg[k] or 0) + v
    end
  end
  local parts = {}
  for k, v in pairs(agg) do
    table.insert(parts, string.format('"%d":%d', k, v))
  end
  local e = summary.errors
  io.write(string.format(
    '${WRK_MARKER}{"durationUs":%.0f,"requests":%.0f,"connect":%.0f,"read":%.0f,"write":%.0f,"timeout":%.0f,' ..
    '"p50":%.0f,"p90":%.0f,"p99":%.0f,"max":%.0f,"mean":%.3f,"limited":%d,"rateMean":%.3f,"statuses":{%s}}\\n',
    summary.duration, summary.requests, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
    anyLimited, requests.mean, table.concat(parts, ",")))
end
`;
}

interface WrkSummary {
  durationUs: number;
  requests: number;
  connect: number;
  read: number;
  write: number;
  timeout: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
  /** 1 when a thread stopped at its request cap (wrk then still reports the full duration). */
  limited: number;
  /** Mean requests/s of one thread over wrk's 100 ms samples. */
  rateMean: number;
  statuses: Record<string, number>;
}

function isWrkSummary(v: unknown): v is WrkSummary {
  if (typeof v !== "object" || v === null) return false;
  const o = v as Record<string, unknown>;
  return ["durationUs", "requests", "connect", "read", "write", "timeout", "p50", "p99", "max", "limited", "rateMean"]
    .every((k) => typeof o[k] === "number") && typeof o.statuses === "object" && o.statuses !== null;
}

/** Closed-loop load with wrk (one Lua script per run, written to a temp file). */
async function runWrk(wrk: string, opts: HttpLoadOptions): Promise<HttpLoadResult> {
  const concurrency = Math.max(1, opts.concurrency);
  const threads = Math.max(1, Math.min(opts.wrkThreads ?? 1, concurrency));
  const script = await Deno.makeTempFile({ prefix: "bench-wrk-", suffix: ".lua" });
  const seconds = Math.max(1, Math.round(opts.durationMs / 1000));
  const timeoutS = Math.max(1, Math.ceil((opts.timeoutMs ?? 10_000) / 1000));
  try {
    await Deno.writeTextFile(script, wrkScript(opts, Math.ceil(opts.maxRequests / threads)));
    const cmd = new Deno.Command(wrk, {
      args: [
        `-t${threads}`,
        `-c${concurrency}`,
        `-d${seconds}s`,
        `--timeout`,
        `${timeoutS}s`,
        "-s",
        script,
        opts.url,
      ],
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(seconds * 1000 + timeoutS * 1000 + 10_000),
    });
    const out = await cmd.output();
    const stdout = new TextDecoder().decode(out.stdout);
    const line = stdout.split("\n").find((l) => l.startsWith(WRK_MARKER));
    if (!out.success || line === undefined) {
      throw new Error(
        `wrk failed (exit ${out.code}): ${new TextDecoder().decode(out.stderr).trim()} ${stdout.trim()}`.trim(),
      );
    }
    const parsed: unknown = JSON.parse(line.slice(WRK_MARKER.length));
    if (!isWrkSummary(parsed)) throw new Error(`unexpected wrk summary: ${line}`);
    const ok = opts.ok ?? defaultOk;
    let okCount = 0;
    let badStatus = 0;
    const statusCounts: Record<string, number> = { ...parsed.statuses };
    for (const [status, n] of Object.entries(parsed.statuses)) {
      if (ok(Number(status))) okCount += n;
      else badStatus += n;
    }
    const socketErrors = parsed.connect + parsed.read + parsed.write + parsed.timeout;
    if (socketErrors > 0) statusCounts.error = socketErrors;
    let durationMs = parsed.durationUs / 1000;
    if (parsed.limited === 1 && parsed.requests > 0) {
      // Stopped at maxRequests before the time bound: wrk's duration is the full -d, so estimate the time actually
      // spent from its rate samples, or by Little's law when the run was shorter than one 100 ms sample.
      durationMs = parsed.rateMean > 0
        ? (parsed.requests / (parsed.rateMean * threads)) * 1000
        : (parsed.requests * (parsed.mean / 1000)) / concurrency;
    }
    return {
      generator: "wrk",
      requests: parsed.requests,
      errors: badStatus + socketErrors,
      statusCounts,
      durationMs,
      rps: durationMs > 0 ? okCount / (durationMs / 1000) : 0,
      latency: {
        count: parsed.requests,
        p50: parsed.p50 / 1000,
        p90: parsed.p90 / 1000,
        p99: parsed.p99 / 1000,
        max: parsed.max / 1000,
        mean: parsed.mean / 1000,
      },
    };
  } finally {
    await Deno.remove(script).catch(() => {});
  }
}
