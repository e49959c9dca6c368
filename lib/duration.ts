/**
 * Go-style durations (`10s`, `500ms`, `1m30s`, `2h`), the form the original tools' flags used.
 * @module
 */

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  "µs": 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/y;

/** Thrown for a string that is not a duration; the message says what form is expected. */
export class DurationError extends Error {
  constructor(readonly input: string) {
    super(`invalid duration "${input}": expected a number with a unit, e.g. 10s, 500ms, 1m30s, 2h`);
    this.name = "DurationError";
  }
}

/**
 * Parses a Go-style duration into milliseconds. A bare `0` is accepted, as in Go.
 *
 * @example
 * ```ts
 * parseDuration("1m30s"); // 90000
 * ```
 */
export function parseDuration(input: string): number {
  const s = input.trim();
  if (s === "0" || s === "+0" || s === "-0") return 0;
  let i = 0;
  let sign = 1;
  if (s[0] === "-" || s[0] === "+") {
    sign = s[0] === "-" ? -1 : 1;
    i = 1;
  }
  if (i >= s.length) throw new DurationError(input);
  let total = 0;
  while (i < s.length) {
    PART.lastIndex = i;
    const m = PART.exec(s);
    if (m === null) throw new DurationError(input);
    total += Number(m[1]) * (UNIT_MS[m[2] as string] ?? NaN);
    i = PART.lastIndex;
  }
  if (!Number.isFinite(total)) throw new DurationError(input);
  return sign * total;
}

/**
 * Formats milliseconds the way Go prints a `time.Duration` (`10s`, `1m30s`, `500ms`).
 *
 * @example
 * ```ts
 * formatDuration(90000); // "1m30s"
 * ```
 */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0s";
  const sign = ms < 0 ? "-" : "";
  let rest = Math.abs(ms);
  if (rest < 1000) return `${sign}${trimNum(rest)}ms`;
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const m = Math.floor(rest / 60_000);
  rest -= m * 60_000;
  const s = rest / 1000;
  let out = sign;
  if (h > 0) out += `${h}h`;
  if (h > 0 || m > 0) out += `${m}m`;
  return `${out}${trimNum(s)}s`;
}

function trimNum(n: number): string {
  return String(Math.round(n * 1000) / 1000);
}
