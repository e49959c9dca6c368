/**
 * Structured logging: one JSON object per line (or plain text for tools that must match an original's output).
 * Loggers are created and passed in; nothing writes to a global logger.
 * @module
 */
import type { Clock } from "./clock.ts";
import { systemClock } from "./clock.ts";

/** Extra fields attached to a log line. */
export type LogFields = Record<string, unknown>;

/** Levels, lowest first. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** What every component is given to log with. */
export interface Logger {
  /** Detail for diagnosis; written only with `--debug`. */
  debug(msg: string, fields?: LogFields): void;
  /** What the service does: start, stop, connections made. */
  info(msg: string, fields?: LogFields): void;
  /** Something an operator may want to act on; the service goes on. */
  warn(msg: string, fields?: LogFields): void;
  /** Something failed that an operator must look at. */
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line. */
  child(fields: LogFields): Logger;
  /** Whether debug lines are written (lets hot paths skip building fields). */
  readonly debugEnabled: boolean;
}

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** Write debug lines too. */
  debug?: boolean;
  /** Lines below this level are dropped (default: `debug` when `debug` is set, else `info`). */
  minLevel?: LogLevel;
  /** `json` (default): one object per line. `text`: `YYYY/MM/DD HH:MM:SS message` like Go's `log` package. */
  format?: "json" | "text";
  /** Where lines go; default stderr. */
  write?: (line: string) => void;
  /** The time stamped on each line; default the system clock. */
  clock?: Clock;
  /** Fields added to every line. */
  fields?: LogFields;
}

const encoder = new TextEncoder();
const stderrWrite = (line: string) => {
  Deno.stderr.writeSync(encoder.encode(line + "\n"));
};

/**
 * Creates a logger.
 *
 * @example
 * ```ts
 * const log = createLogger({ debug: true });
 * log.info("consumer joined", { groupId: "er" });
 * ```
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const write = options.write ?? stderrWrite;
  const clock = options.clock ?? systemClock;
  const format = options.format ?? "json";
  const debugEnabled = options.debug ?? false;
  const order: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };
  const min = order[options.minLevel ?? (debugEnabled ? "debug" : "info")];
  const make = (base: LogFields): Logger => {
    const emit = (level: LogLevel, msg: string, fields?: LogFields) => {
      if ((level === "debug" && !debugEnabled) || order[level] < min) return;
      const time = new Date(clock.now());
      if (format === "text") {
        const extra = { ...base, ...fields };
        const suffix = Object.keys(extra).length > 0 ? " " + safeStringify(extra) : "";
        write(`${goTimestamp(time)} ${msg}${suffix}`);
      } else {
        write(safeStringify({ time: time.toISOString(), level, msg, ...base, ...fields }));
      }
    };
    return {
      debugEnabled,
      debug: (m, f) => emit("debug", m, f),
      info: (m, f) => emit("info", m, f),
      warn: (m, f) => emit("warn", m, f),
      error: (m, f) => emit("error", m, f),
      child: (fields) => make({ ...base, ...fields }),
    };
  };
  return make(options.fields ?? {});
}

/** A logger that discards everything (for tests that do not look at logs). */
export const silentLogger: Logger = createLogger({ write: () => {} });

function pad(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

function goTimestamp(d: Date): string {
  return `${d.getFullYear()}/${pad(d.getMonth() + 1)}/${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${
    pad(d.getSeconds())
  }`;
}

function safeStringify(value: unknown): string {
  return JSON.stringify(value, (_k, v) => {
    if (v instanceof Error) return { name: v.name, message: v.message };
    if (typeof v === "bigint") return v.toString();
    return v;
  });
}

/** Turns anything thrown into a one-line message. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** Anything thrown as an Error (a thrown string or object becomes one with its text), for APIs that want an Error. */
export function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
