/**
 * Shared pieces of the benchmark suite: result rows and their table, latency percentiles, peak RSS, time budgets.
 * @module
 */

/** One line of the benchmark table. `ratio` is `value / ceiling`; `pass` says whether `target` was met. */
export interface BenchRow {
  name: string;
  value: number;
  unit: string;
  ceiling?: number;
  ratio?: number;
  target?: string;
  pass?: boolean;
  notes?: string;
}

/** What `bench/main.ts` hands to every suite's `run`. */
export interface SuiteOptions {
  /** Short run (CI, `--quick`): proves the benchmark works, numbers are rough. */
  quick: boolean;
}

/** A service benchmark module (`bench/<service>.ts`). */
export interface BenchSuite {
  /** Name used by `--only` (`router`, `httpbroker`, `kcl`). */
  name: string;
  run(opts: SuiteOptions): Promise<BenchRow[]>;
}

/** p50/p99/max and friends, in milliseconds. */
export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/**
 * Collects latency samples (ms) into a growable Float64Array and answers percentiles.
 * Samples beyond `maxSamples` are dropped (counted in `dropped`) so a runaway loop cannot eat the machine's memory.
 *
 * @example
 * ```ts
 * const rec = new LatencyRecorder();
 * const t0 = performance.now();
 * await fetch(url);
 * rec.record(performance.now() - t0);
 * console.log(rec.summary().p99);
 * ```
 */
export class LatencyRecorder {
  #samples: Float64Array;
  #count = 0;
  #sorted = true;
  #dropped = 0;
  readonly #maxSamples: number;

  constructor(initialCapacity = 4096, maxSamples = 20_000_000) {
    this.#samples = new Float64Array(Math.max(16, initialCapacity));
    this.#maxSamples = maxSamples;
  }

  /** Number of samples kept. */
  get count(): number {
    return this.#count;
  }

  /** Samples not kept because `maxSamples` was reached. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Adds one latency in milliseconds. */
  record(ms: number): void {
    if (this.#count === this.#samples.length) {
      if (this.#count >= this.#maxSamples) {
        this.#dropped++;
        return;
      }
      const grown = new Float64Array(Math.min(this.#maxSamples, this.#samples.length * 2));
      grown.set(this.#samples);
      this.#samples = grown;
    }
    this.#samples[this.#count++] = ms;
    this.#sorted = false;
  }

  /** Adds the same latency `n` times (a batch whose messages were all acknowledged together). */
  recordMany(ms: number, n: number): void {
    for (let i = 0; i < n; i++) this.record(ms);
  }

  /** The `p`-th percentile (0..100, nearest rank); NaN without samples. */
  percentile(p: number): number {
    if (this.#count === 0) return NaN;
    this.#sort();
    const rank = Math.ceil((Math.min(100, Math.max(0, p)) / 100) * this.#count);
    return this.#samples[Math.min(this.#count - 1, Math.max(0, rank - 1))]!;
  }

  /** Largest sample; NaN without samples. */
  max(): number {
    if (this.#count === 0) return NaN;
    this.#sort();
    return this.#samples[this.#count - 1]!;
  }

  /** Mean of the samples; NaN without samples. */
  mean(): number {
    if (this.#count === 0) return NaN;
    let sum = 0;
    for (let i = 0; i < this.#count; i++) sum += this.#samples[i]!;
    return sum / this.#count;
  }

  summary(): LatencySummary {
    return {
      count: this.#count,
      p50: this.percentile(50),
      p90: this.percentile(90),
      p99: this.percentile(99),
      max: this.max(),
      mean: this.mean(),
    };
  }

  #sort(): void {
    if (this.#sorted) return;
    // A typed array sorts numerically in place, without boxing.
    this.#samples.subarray(0, this.#count).sort();
    this.#sorted = true;
  }
}

/** A running peak-RSS sampler; see {@link peakRss}. */
export interface RssSampler {
  /** Highest RSS seen so far, bytes. */
  readonly peakBytes: number;
  /** Stops sampling (takes one last sample) and returns the peak in bytes. */
  stop(): number;
}

/**
 * Samples this process's resident set size (`Deno.memoryUsage().rss`) every `intervalMs` until stopped.
 * For a server running in a child process use {@link processPeakRss} instead.
 *
 * @example
 * ```ts
 * const rss = peakRss();
 * await runLoad();
 * const peakBytes = rss.stop();
 * ```
 */
export function peakRss(intervalMs = 50): RssSampler {
  let peak = Deno.memoryUsage().rss;
  const sample = () => {
    const rss = Deno.memoryUsage().rss;
    if (rss > peak) peak = rss;
  };
  const timer = setInterval(sample, intervalMs);
  let stopped = false;
  return {
    get peakBytes() {
      return peak;
    },
    stop() {
      if (!stopped) {
        stopped = true;
        clearInterval(timer);
        sample();
      }
      return peak;
    },
  };
}

/** Reads a `kB` line (`VmRSS`, `VmHWM`) of `/proc/<pid>/status`; null when the process is gone or not Linux. */
function procStatusBytes(pid: number, field: "VmRSS" | "VmHWM"): number | null {
  let text: string;
  try {
    text = Deno.readTextFileSync(`/proc/${pid}/status`);
  } catch {
    return null;
  }
  const match = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, "m").exec(text);
  return match ? Number(match[1]) * 1024 : null;
}

/** Current resident set size of another process (Linux `/proc/<pid>/status` VmRSS), bytes; null if unavailable. */
export function processRss(pid: number): number | null {
  return procStatusBytes(pid, "VmRSS");
}

/**
 * Peak resident set size of another process since it started (the kernel's high-water mark, VmHWM), bytes; null if
 * unavailable. Read it before the process exits.
 */
export function processPeakRss(pid: number): number | null {
  return procStatusBytes(pid, "VmHWM");
}

/** Bytes as MiB, for `value` cells. */
export function mib(bytes: number): number {
  return bytes / (1024 * 1024);
}

/** Options of {@link ratioRow}. */
export interface RatioRowOptions {
  /** Default true: the value must reach `minRatio × ceiling`. False: it must stay at or below it (times, bytes). */
  higherIsBetter?: boolean;
  notes?: string;
}

/**
 * A row compared with its ceiling: `ratio = value / ceiling`, `pass = ratio >= minRatio` (or `<=` when lower is
 * better), `target` like `≥ 0.7 × ceiling`.
 *
 * @example
 * ```ts
 * ratioRow("httpbroker POST /state", load.rps, echo.rps, "req/s", 0.7, { notes: `p99 ${load.latency.p99} ms` });
 * ```
 */
export function ratioRow(
  name: string,
  value: number,
  ceiling: number,
  unit: string,
  minRatio: number,
  opts: RatioRowOptions = {},
): BenchRow {
  const higher = opts.higherIsBetter ?? true;
  const ratio = ceiling > 0 && Number.isFinite(ceiling) ? value / ceiling : NaN;
  const pass = Number.isNaN(ratio) ? false : higher ? ratio >= minRatio : ratio <= minRatio;
  const row: BenchRow = {
    name,
    value,
    unit,
    ceiling,
    ratio,
    target: `${higher ? "≥" : "≤"} ${minRatio} × ceiling`,
    pass,
  };
  if (opts.notes !== undefined) row.notes = opts.notes;
  return row;
}

/** Options of {@link limitRow}. */
export interface LimitRowOptions {
  /** A ceiling to print beside the value (its ratio is shown, the pass/fail is decided by the limit). */
  ceiling?: number;
  /** Default false: the value must stay below `limit` (latency, time). True: it must reach `limit` (a rate). */
  higherIsBetter?: boolean;
  notes?: string;
}

/**
 * A row with an absolute target, e.g. "100 000-state submit run < 1000 ms" or "immediate p99 < 100 ms".
 *
 * @example
 * ```ts
 * limitRow("submit 100 000 states", elapsedMs, "ms", 1000, { ceiling: lpush.elapsedMs });
 * ```
 */
export function limitRow(
  name: string,
  value: number,
  unit: string,
  limit: number,
  opts: LimitRowOptions = {},
): BenchRow {
  const higher = opts.higherIsBetter ?? false;
  const row: BenchRow = {
    name,
    value,
    unit,
    target: `${higher ? "≥" : "<"} ${formatNumber(limit)} ${unit}`,
    pass: higher ? value >= limit : value < limit,
  };
  if (opts.ceiling !== undefined) {
    row.ceiling = opts.ceiling;
    row.ratio = opts.ceiling > 0 ? value / opts.ceiling : NaN;
  }
  if (opts.notes !== undefined) row.notes = opts.notes;
  return row;
}

/** A row without a target (ceilings, memory per state, latency printed for information). */
export function infoRow(name: string, value: number, unit: string, notes?: string): BenchRow {
  return notes === undefined ? { name, value, unit } : { name, value, unit, notes };
}

/** A row for a benchmark that could not run; `pass: false` so it is not mistaken for a result. */
export function failedRow(name: string, err: unknown): BenchRow {
  const message = err instanceof Error ? err.message : String(err);
  return { name, value: NaN, unit: "", pass: false, notes: `FAILED: ${message.split("\n")[0]}` };
}

/** `12 345`, `1 234 567`, `45.6`, `0.123`: integers above 100, three significant digits below. */
export function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return Number.isNaN(n) ? "–" : String(n);
  const abs = Math.abs(n);
  if (abs >= 100) return Math.round(n).toLocaleString("en-US").replaceAll(",", " ");
  if (abs === 0) return "0";
  return Number(n.toPrecision(3)).toString();
}

/** Latency triple for a notes cell: `p50 1.2 / p99 8.4 / max 31 ms`. */
export function formatLatency(l: Pick<LatencySummary, "p50" | "p99" | "max">): string {
  return `p50 ${formatNumber(l.p50)} / p99 ${formatNumber(l.p99)} / max ${formatNumber(l.max)} ms`;
}

function cell(s: string): string {
  return s.replaceAll("|", "\\|").replaceAll("\n", " ");
}

/**
 * Renders rows as a markdown table with the columns benchmark, value, ceiling, ratio, target, pass and (unless
 * `notes: false`) notes.
 *
 * @example
 * ```ts
 * console.log(formatTable([infoRow("echo ceiling", 21000, "req/s")]));
 * ```
 */
export function formatTable(rows: BenchRow[], opts: { notes?: boolean } = {}): string {
  const notes = opts.notes ?? true;
  const header = `| benchmark | value | ceiling | ratio | target | pass |${notes ? " notes |" : ""}`;
  const rule = `|---|---:|---:|---:|---|:---:|${notes ? "---|" : ""}`;
  const lines = rows.map((r) => {
    const value = Number.isNaN(r.value) ? "–" : `${formatNumber(r.value)} ${r.unit}`.trim();
    const ceiling = r.ceiling === undefined ? "" : `${formatNumber(r.ceiling)} ${r.unit}`.trim();
    const ratio = r.ratio === undefined ? "" : Number.isNaN(r.ratio) ? "–" : r.ratio.toFixed(2);
    const pass = r.pass === undefined ? "" : r.pass ? "yes" : "**no**";
    const row = `| ${cell(r.name)} | ${value} | ${ceiling} | ${ratio} | ${cell(r.target ?? "")} | ${pass} |`;
    return notes ? `${row} ${cell(r.notes ?? "")} |` : row;
  });
  return [header, rule, ...lines].join("\n");
}

/**
 * A wall-clock allowance: every load loop checks both a count bound and one of these, so a slow or stuck system
 * under test ends the benchmark instead of hanging it.
 *
 * @example
 * ```ts
 * const budget = new TimeBudget(5_000);
 * for (let i = 0; i < maxRequests && !budget.expired; i++) await send(i);
 * ```
 */
export class TimeBudget {
  readonly startedAt = performance.now();
  readonly #ms: number;

  constructor(ms: number) {
    this.#ms = ms;
  }

  get elapsedMs(): number {
    return performance.now() - this.startedAt;
  }

  get remainingMs(): number {
    return Math.max(0, this.#ms - this.elapsedMs);
  }

  get expired(): boolean {
    return this.elapsedMs >= this.#ms;
  }

  /** An AbortSignal that aborts when the budget runs out (for fetch and sleeps). */
  signal(): AbortSignal {
    return AbortSignal.timeout(Math.max(1, Math.ceil(this.remainingMs)));
  }
}

// Bounded waits are the test harness's: the same semantics, one implementation.
export { waitUntil, withTimeout } from "../testing/wait.ts";

/**
 * Durations and sizes every suite and ceiling share, so a service row and the ceiling it is divided by are
 * measured with identical settings.
 */
export interface BenchProfile {
  /** Length of one HTTP load run. */
  httpDurationMs: number;
  /** Open connections of the closed-loop HTTP generator. */
  httpConcurrency: number;
  /** Upper bound of requests in one HTTP load run (the time bound usually ends it first). */
  httpMaxRequests: number;
  /** Length of one Kafka throughput run. */
  kafkaDurationMs: number;
  /** Upper bound of events in one Kafka throughput run. */
  kafkaMaxEvents: number;
  /**
   * Messages the consume→produce pipe and the router bench move. The mock cluster keeps only about 5 MiB per
   * partition (older records are dropped), so messages × size / partitions must stay below that.
   */
  pipeMessages: number;
  /** Items of the pipelined LPUSH ceiling and the httpbroker submit run. */
  lpushItems: number;
  /** Fixed request rate of open-loop latency rows. */
  fixedRate: number;
  /** Length of a fixed-rate run. */
  fixedRateDurationMs: number;
}

/** The shared settings for a quick (CI, under a minute in total) or a full run. */
export function benchProfile(quick: boolean): BenchProfile {
  return quick
    ? {
      httpDurationMs: 2_000,
      httpConcurrency: 32,
      httpMaxRequests: 200_000,
      kafkaDurationMs: 2_000,
      kafkaMaxEvents: 200_000,
      pipeMessages: 20_000,
      lpushItems: 100_000,
      fixedRate: 1_000,
      fixedRateDurationMs: 2_000,
    }
    : {
      httpDurationMs: 10_000,
      httpConcurrency: 64,
      httpMaxRequests: 2_000_000,
      kafkaDurationMs: 10_000,
      kafkaMaxEvents: 2_000_000,
      pipeMessages: 60_000,
      lpushItems: 100_000,
      fixedRate: 1_000,
      fixedRateDurationMs: 10_000,
    };
}

/**
 * A JSON event of roughly `bytes` bytes (a clickstream-like object with a padded `properties.text`), varied by `i`
 * so no layer can cache a single body.
 */
export function sampleEvent(i: number, bytes = 300): Record<string, unknown> {
  const base = {
    messageId: `m-${i}`,
    appId: `app-${i % 100}`,
    type: "track",
    event: "Clicked",
    userId: `user-${i % 1000}`,
    timestamp: "2024-05-01T12:00:00.000Z",
    properties: { text: "" },
  };
  const pad = Math.max(0, bytes - JSON.stringify(base).length);
  base.properties.text = "x".repeat(pad);
  return base;
}

/**
 * Runs a suite's parts in order, each failure becoming a FAILED row instead of ending the suite. When the
 * environment variable `onlyVar` names a part, only that one runs (profiling, quick iterations).
 *
 * @example
 * ```ts
 * return await runParts([["kcl latency", () => latencyRows(env)]], "KCL_BENCH_ONLY");
 * ```
 */
export async function runParts(
  parts: readonly (readonly [string, () => Promise<BenchRow[]>])[],
  onlyVar: string,
): Promise<BenchRow[]> {
  const only = Deno.env.get(onlyVar);
  const rows: BenchRow[] = [];
  for (const [label, part] of parts) {
    if (only !== undefined && only !== label) continue;
    try {
      rows.push(...await part());
    } catch (err) {
      rows.push(failedRow(label, err));
    }
  }
  return rows;
}
