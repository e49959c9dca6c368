/**
 * Configuration of `receiver httpbroker`: the Flapjack broker's flags (plus `--queue`, `--flapjack-version`,
 * `--no-persist`, `--log-format`) parsed into a typed config, every problem reported at once.
 * @module
 */
import { z } from "zod";
import { formatDuration } from "../duration.ts";
import { VERSION } from "../version.ts";
import { boolean, duration, integer, logFormat, text, withDefault } from "./fields.ts";
import type { Env } from "./parse.ts";
import { parseFlags } from "./flags.ts";
import { parseConfig, withMoreProblems } from "./parse.ts";
import { type GivenSetting, loadServerTls, type ServerTls } from "./tls_files.ts";
import { describeRedisTarget, loadRedisTarget, type RedisTarget } from "./redis_server.ts";

/** Where the HTTP server binds. */
export interface ListenAddress {
  /** The address bound (0.0.0.0 for all). */
  hostname: string;
  /** The port (0: any free port). */
  port: number;
}

/** Typed configuration of the broker. */
export interface HttpBrokerConfig {
  /** Where the HTTP server binds (`--port`). */
  listen: ListenAddress;
  /** Flapjack's Redis: where, which database, how to log in (see lib/config/redis_server.ts). */
  redis: RedisTarget;
  /** How often every cached state is submitted (`--interval`). */
  intervalMs: number;
  /** Flapjack's events list (`--queue`). */
  queue: string;
  /** 2 also pushes `+` to `<queue>_actions` per event, as Flapjack 2's processor expects (`--flapjack-version`). */
  flapjackVersion: 1 | 2;
  /** Keep the cached states in Redis across restarts (off with `--no-persist`). */
  persist: boolean;
  /** Debug lines, and a line per HTTP request (`--debug`). */
  debug: boolean;
  /** `text` (Go log lines) or `json` (`--log-format`). */
  logFormat: "text" | "json";
  /** A request body must arrive within this (408 otherwise); 0 disables. */
  requestTimeoutMs: number;
  /** Most checks cached at once; a new check beyond it is refused with 503 (updates of cached ones go through). */
  maxStates: number;
  /** HTTPS: the certificate chain and key served (`--tls-cert`, `--tls-key`); absent: plain HTTP. */
  tls?: ServerTls;
}

/** Raw values of the flags (strings as typed, booleans for switches). */
export interface HttpBrokerRawInput {
  /** `--port`: `3090`, `:3090` or `host:port`. */
  port?: string;
  /** `--server`: `host:port`, `redis://…` or `rediss://…`. */
  server?: string;
  /** `--database`. */
  database?: string;
  /** `--interval`, a duration. */
  interval?: string;
  /** `--queue`. */
  queue?: string;
  /** `--flapjack-version`: 1 or 2. */
  flapjackVersion?: string;
  /** `--no-persist`. */
  noPersist?: boolean;
  /** `--debug`. */
  debug?: boolean;
  /** `--log-format`: text or json. */
  logFormat?: string;
  /** `--request-timeout`, a duration. */
  requestTimeout?: string;
  /** `--max-states`. */
  maxStates?: string;
  /** `--tls-cert`: a PEM file. */
  tlsCert?: string;
  /** `--tls-key`: a PEM file. */
  tlsKey?: string;
  /** `--redis-tls-ca`: a PEM file. */
  redisTlsCa?: string;
}

/** `3090`, `:3090` or `host:port` (default host 0.0.0.0, as Go's `:3090`). */
export function parseListenAddress(s: string): ListenAddress {
  const m = /^(?:(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]*):)?(\d{1,5})$/.exec(s);
  if (m === null) throw new Error("not a port, :port or host:port");
  const port = Number(m[2]);
  if (port > 65535) throw new Error("port out of range 0..65535");
  const host = m[1] === undefined || m[1] === "" ? "0.0.0.0" : m[1].replace(/^\[|\]$/g, "");
  return { hostname: host, port };
}

/** `host:port` of the Redis server. */
const positiveDuration = (s: string): number => {
  const ms = duration(s);
  if (ms <= 0) throw new Error("must be greater than zero");
  return ms;
};

/** The broker's defaults (Flapjack's): the one home for them, used by the schema and by {@link httpBrokerConfig}. */
export const HTTPBROKER_DEFAULTS = {
  listen: { hostname: "0.0.0.0", port: 3090 },
  intervalMs: 10_000,
  queue: "events",
  flapjackVersion: 2,
  persist: true,
  debug: false,
  logFormat: "text",
  requestTimeoutMs: 30_000,
  maxStates: 1_000_000,
} as const satisfies Partial<HttpBrokerConfig>;

const D = HTTPBROKER_DEFAULTS;

/**
 * A typed config for code that starts the broker itself (`dev`, tests): the defaults, then `given`. No flags or
 * environment are read.
 *
 * @example
 * ```ts
 * const config = httpBrokerConfig({ redis: { host: "127.0.0.1", port: 6379, database: 0 }, intervalMs: 1000 });
 * ```
 */
export function httpBrokerConfig(given: Pick<HttpBrokerConfig, "redis"> & Partial<HttpBrokerConfig>): HttpBrokerConfig {
  return { ...HTTPBROKER_DEFAULTS, listen: { ...D.listen }, ...given };
}

const schema = z.object({
  port: withDefault("a port: 3090, :3090 or host:port", parseListenAddress, { ...D.listen }),
  interval: withDefault("a duration such as 10s, 500ms, 1m", positiveDuration, D.intervalMs),
  queue: withDefault("a Redis key name", text, D.queue),
  flapjackVersion: withDefault("1 or 2", (s): 1 | 2 => {
    if (s !== "1" && s !== "2") throw new Error("must be 1 or 2");
    return s === "1" ? 1 : 2;
  }, D.flapjackVersion as 1 | 2),
  noPersist: withDefault("true or false", boolean, !D.persist),
  debug: withDefault("true or false", boolean, D.debug),
  logFormat: withDefault("text or json", logFormat, D.logFormat as "text" | "json"),
  requestTimeout: withDefault("a duration such as 30s, 0 disables", duration, D.requestTimeoutMs),
  maxStates: withDefault("a count ≥ 1", integer(1, 1_000_000_000), D.maxStates),
});

const LABELS: Record<string, string> = {
  port: "--port",
  interval: "--interval",
  queue: "--queue",
  flapjackVersion: "--flapjack-version",
  noPersist: "--no-persist",
  debug: "--debug",
  logFormat: "--log-format",
  requestTimeout: "--request-timeout",
  maxStates: "--max-states",
};

/**
 * Parses the broker's flags; `PORT` from the environment is used when `--port` is not given. Throws
 * {@link ConfigError} listing every invalid value.
 *
 * @example
 * ```ts
 * const cfg = loadHttpBrokerConfig({ port: ":3091", interval: "5s" }, {});
 * ```
 */
export function loadHttpBrokerConfig(raw: HttpBrokerRawInput, env: Env): HttpBrokerConfig {
  const { server, database, redisTlsCa, ...rest } = raw;
  const input = { ...rest, port: raw.port ?? env.PORT };
  const redis = loadRedisTarget({ server, database, tlsCa: redisTlsCa }, env);
  const given = (value: string | undefined, label: string): GivenSetting | undefined =>
    value === undefined || value === "" ? undefined : { value, label };
  const tls = loadServerTls(given(raw.tlsCert, "--tls-cert"), given(raw.tlsKey, "--tls-key"));
  // An empty value is a mistake (an unset shell variable), not a request for the default list.
  const queue = raw.queue === "" ? ["--queue: must not be empty (the Redis list Flapjack reads; default events)"] : [];
  const c = withMoreProblems(
    [...redis.problems, ...tls.problems, ...queue],
    () => parseConfig(schema, { ...input, queue: raw.queue === "" ? undefined : raw.queue }, LABELS),
  );
  return {
    listen: c.port,
    redis: redis.target!,
    intervalMs: c.interval,
    queue: c.queue,
    flapjackVersion: c.flapjackVersion,
    persist: !c.noPersist,
    debug: c.debug,
    logFormat: c.logFormat,
    requestTimeoutMs: c.requestTimeout,
    maxStates: c.maxStates,
    ...(tls.config ? { tls: tls.config } : {}),
  };
}

/** The config the way the original printed it (`Booting with config: {Port::3090 Server:... }`, Go's `%+v`). */
export function describeHttpBrokerConfig(c: HttpBrokerConfig): string {
  const port = c.listen.hostname === "0.0.0.0" ? `:${c.listen.port}` : `${c.listen.hostname}:${c.listen.port}`;
  // The original printed Server as host:port; a URL (never its password) says the rest.
  const r = c.redis;
  const server = r.tls || r.username !== undefined ? describeRedisTarget(r) : `${r.host}:${r.port}`;
  return `{Port:${port} Server:${server} Database:${r.database} Interval:${formatDuration(c.intervalMs)} ` +
    `Queue:${c.queue} FlapjackVersion:${c.flapjackVersion} Persist:${c.persist} Debug:${c.debug} Version:${VERSION}}`;
}

/** The broker's flags (Flapjack's, plus HTTPS, Redis security and limits). */
export const HTTPBROKER_FLAGS = {
  port: { type: "string" },
  server: { type: "string" },
  database: { type: "string" },
  interval: { type: "string" },
  queue: { type: "string" },
  "flapjack-version": { type: "string" },
  "no-persist": { type: "boolean" },
  "log-format": { type: "string" },
  "redis-tls-ca": { type: "string" },
  "tls-cert": { type: "string" },
  "tls-key": { type: "string" },
  "request-timeout": { type: "string" },
  "max-states": { type: "string" },
  debug: { type: "boolean" },
  version: { type: "boolean" },
} as const;

/** Parses the command line into the broker's config (throws UsageError / ConfigError, exit 2). */
export function parseHttpBrokerArgs(args: string[], env: Env): HttpBrokerConfig | "version" {
  const { values } = parseFlags(args, HTTPBROKER_FLAGS, "receiver httpbroker");
  if (values.version === true) return "version";
  const str = (v: unknown) => typeof v === "string" ? v : undefined;
  return loadHttpBrokerConfig({
    port: str(values.port),
    server: str(values.server),
    database: str(values.database),
    interval: str(values.interval),
    queue: str(values.queue),
    flapjackVersion: str(values["flapjack-version"]),
    noPersist: values["no-persist"] === true,
    debug: values.debug === true,
    logFormat: str(values["log-format"]),
    redisTlsCa: str(values["redis-tls-ca"]),
    tlsCert: str(values["tls-cert"]),
    tlsKey: str(values["tls-key"]),
    requestTimeout: str(values["request-timeout"]),
    maxStates: str(values["max-states"]),
  }, env);
}
