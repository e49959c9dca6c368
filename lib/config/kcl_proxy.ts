/**
 * Configuration of `event-router kcl-proxy`: every `KCL_*` variable with its flag of the same meaning (flags win),
 * parsed at once so every problem is reported together (exit 2).
 * @module
 */
import { z } from "zod";
import type { Env } from "./parse.ts";
import { parseConfig, pickEnv, withMoreProblems } from "./parse.ts";
import { KAFKA_SECURITY_FLAGS, loadKafkaSecurity } from "./kafka_security.ts";
import { type GivenSetting, loadServerTls, type ServerTls } from "./tls_files.ts";
import type { KafkaSecurityConfig } from "../kafka/security.ts";
import {
  boolean,
  duration,
  hostPortList,
  integer,
  logFormat,
  optional,
  port,
  required,
  text,
  withDefault,
} from "./fields.ts";
import { parseFlags } from "./flags.ts";
import { parseApiKeysFile } from "../kcl/api_keys.ts";
import { type CompressionCodec, parseCompressionCodec } from "../kafka/compression/codec.ts";
import { flagsOf, readSources, type Source } from "./sources.ts";

/** Typed configuration of the proxy. */
export interface KclProxyConfig {
  /** Kafka bootstrap brokers as `host:port` (`KCL_BOOTSTRAP_SERVERS`). */
  bootstrapServers: string[];
  /** HTTP port (`KCL_PORT`). */
  port: number;
  /** Listen address (`KCL_HOST`). */
  hostname: string;
  /** The API keys file (`KCL_API_KEYS_FILE`), re-read on SIGHUP. */
  apiKeysFile: string;
  /** Largest request body (`KCL_MAX_BODY_BYTES`). */
  maxBodyBytes: number;
  /** 0 disables de-duplication. */
  dedupWindowMs: number;
  /** Allowed webhook hosts (`host` or `host:port`, lower case); undefined allows any http(s) host. */
  webhookAllowedHosts?: string[];
  /** Time to flush buffers on SIGTERM (`KCL_SHUTDOWN_TIMEOUT`). */
  shutdownTimeoutMs: number;
  /** Debug lines, and a line per HTTP request (`KCL_DEBUG`). */
  debug: boolean;
  /** Capacity of the low priority buffer. */
  lowBuffer: number;
  /** Capacity of the normal (and high) priority buffer. */
  normalBuffer: number;
  /** Codec of the record batches the proxy writes. */
  compression: CompressionCodec;
  /** TLS and SASL towards Kafka (`KCL_KAFKA_SECURITY_PROTOCOL` and friends). */
  kafkaSecurity: KafkaSecurityConfig;
  /** A request body must arrive within this (408 otherwise). */
  requestTimeoutMs: number;
  /** `json` (default) or `text` log lines. */
  logFormat: "json" | "text";
  /** HTTPS: the certificate chain and key served (`KCL_TLS_CERT_FILE`, `KCL_TLS_KEY_FILE`); absent: plain HTTP. */
  tls?: ServerTls;
}

const hostList = (s: string): string[] => {
  const hosts = s.split(",").map((h) => h.trim().toLowerCase()).filter((h) => h !== "");
  if (hosts.length === 0) throw new Error("empty list");
  for (const h of hosts) if (!/^[a-z0-9.\-\[\]:]+$/.test(h)) throw new Error(`bad host ${JSON.stringify(h)}`);
  return hosts;
};

/** The proxy's defaults (the spec's): the one home for them, used by the schema and by {@link kclProxyConfig}. */
export const KCL_PROXY_DEFAULTS = {
  port: 8080,
  hostname: "0.0.0.0",
  maxBodyBytes: 1_048_576,
  dedupWindowMs: 600_000,
  shutdownTimeoutMs: 10_000,
  debug: false,
  lowBuffer: 10_000,
  normalBuffer: 50_000,
  compression: "none",
  requestTimeoutMs: 30_000,
  logFormat: "json",
  kafkaSecurity: { protocol: "PLAINTEXT" },
} as const satisfies Partial<KclProxyConfig>;

const D = KCL_PROXY_DEFAULTS;
const schema = z.object({
  bootstrapServers: required("comma-separated host:port list", hostPortList),
  port: withDefault("TCP port 0-65535", port, D.port),
  hostname: withDefault("listen address", text, D.hostname),
  apiKeysFile: required("path of the API keys JSON file", text),
  maxBodyBytes: withDefault("bytes, integer ≥ 1", integer(1, 1 << 30), D.maxBodyBytes),
  dedupWindowMs: withDefault("duration like 10m, 0 disables", duration, D.dedupWindowMs),
  webhookAllowedHosts: optional("comma-separated host names", hostList),
  shutdownTimeoutMs: withDefault("duration like 10s", duration, D.shutdownTimeoutMs),
  debug: withDefault("true or false", boolean, D.debug),
  lowBuffer: withDefault("events, integer ≥ 1", integer(1, 10_000_000), D.lowBuffer),
  normalBuffer: withDefault("events, integer ≥ 1", integer(1, 10_000_000), D.normalBuffer),
  compression: withDefault("none, gzip, snappy, lz4 or zstd", parseCompressionCodec, D.compression as CompressionCodec),
  requestTimeoutMs: withDefault("duration like 30s, 0 disables", duration, D.requestTimeoutMs),
  logFormat: withDefault("text or json", logFormat, D.logFormat as "json" | "text"),
});

/**
 * A typed config for code that starts the proxy itself (`dev`, tests): the defaults, then `given`. No flags or
 * environment are read and nothing is re-checked: the values are the caller's own.
 *
 * @example
 * ```ts
 * const config = kclProxyConfig({ bootstrapServers: ["127.0.0.1:9092"], apiKeysFile: "(inline)", port: 0 });
 * ```
 */
export function kclProxyConfig(
  given: Pick<KclProxyConfig, "bootstrapServers" | "apiKeysFile"> & Partial<KclProxyConfig>,
): KclProxyConfig {
  return { ...KCL_PROXY_DEFAULTS, kafkaSecurity: { protocol: "PLAINTEXT" }, ...given };
}

/** Env variable and flag of each field. */
const SOURCES: Record<Exclude<keyof KclProxyConfig, "kafkaSecurity" | "tls">, Source & { env: string; flag: string }> =
  {
    bootstrapServers: { env: "KCL_BOOTSTRAP_SERVERS", flag: "bootstrap-servers" },
    port: { env: "KCL_PORT", flag: "port" },
    hostname: { env: "KCL_HOST", flag: "host" },
    apiKeysFile: { env: "KCL_API_KEYS_FILE", flag: "api-keys" },
    maxBodyBytes: { env: "KCL_MAX_BODY_BYTES", flag: "max-body-bytes" },
    dedupWindowMs: { env: "KCL_DEDUP_WINDOW", flag: "dedup-window" },
    webhookAllowedHosts: { env: "KCL_WEBHOOK_ALLOWED_HOSTS", flag: "webhook-allowed-hosts" },
    shutdownTimeoutMs: { env: "KCL_SHUTDOWN_TIMEOUT", flag: "shutdown-timeout" },
    debug: { env: "KCL_DEBUG", flag: "debug", boolean: true },
    lowBuffer: { env: "KCL_LOW_BUFFER", flag: "low-buffer" },
    normalBuffer: { env: "KCL_NORMAL_BUFFER", flag: "normal-buffer" },
    compression: { env: "KCL_KAFKA_COMPRESSION", flag: "kafka-compression" },
    requestTimeoutMs: { env: "KCL_REQUEST_TIMEOUT", flag: "request-timeout" },
    logFormat: { env: "KCL_LOG_FORMAT", flag: "log-format" },
  };

/** The HTTPS files: not in the schema, as they are read and checked as a pair. */
const TLS_SOURCES = {
  cert: { env: "KCL_TLS_CERT_FILE", flag: "tls-cert-file" },
  key: { env: "KCL_TLS_KEY_FILE", flag: "tls-key-file" },
} as const;

/** The flag definitions, for parseFlags and the help text. */
export const KCL_PROXY_FLAGS = {
  ...flagsOf(SOURCES),
  [TLS_SOURCES.cert.flag]: { type: "string" as const },
  [TLS_SOURCES.key.flag]: { type: "string" as const },
  ...KAFKA_SECURITY_FLAGS,
};

/**
 * Parses flags and env into a {@link KclProxyConfig}. Throws UsageError for unknown flags and ConfigError listing
 * every invalid or missing value.
 *
 * @example
 * ```ts
 * const config = parseKclProxyConfig(["--port", "9000"], { KCL_BOOTSTRAP_SERVERS: "k:9092", KCL_API_KEYS_FILE: "k.json" });
 * ```
 */
export function parseKclProxyConfig(
  args: string[],
  env: Env,
  readFile: (path: string) => string = Deno.readTextFileSync,
): KclProxyConfig {
  const { values } = parseFlags(args, KCL_PROXY_FLAGS, "kcl-proxy");
  const { raw, labels } = readSources(SOURCES, values, env, { mentionFlag: true });
  const security = loadKafkaSecurity("KCL_", env, values);
  const given = (src: { env: string; flag: string }): GivenSetting | undefined => {
    const flagValue = values[src.flag];
    if (typeof flagValue === "string" && flagValue !== "") return { value: flagValue, label: `--${src.flag}` };
    const envValue = pickEnv(env, src.env);
    return envValue === undefined ? undefined : { value: envValue, label: src.env };
  };
  const tls = loadServerTls(given(TLS_SOURCES.cert), given(TLS_SOURCES.key));
  const keysFile = typeof raw["apiKeysFile"] === "string" && raw["apiKeysFile"] !== "" ? raw["apiKeysFile"] : undefined;
  const keys = keysFile === undefined ? [] : apiKeysFileProblems(keysFile, labels.apiKeysFile, readFile);
  const base = withMoreProblems(
    [...security.problems, ...tls.problems, ...keys],
    () => parseConfig(schema, raw, labels),
  );
  return { ...base, kafkaSecurity: security.config!, ...(tls.config ? { tls: tls.config } : {}) } as KclProxyConfig;
}

/** The API keys file checked like every other setting, so a bad one is listed with the rest (exit 2). */
function apiKeysFileProblems(path: string, label: string, readFile: (path: string) => string): string[] {
  let text: string;
  try {
    text = readFile(path);
  } catch (err) {
    return [`${label}: cannot read ${JSON.stringify(path)}: ${(err as Error).message}`];
  }
  try {
    // Warnings (a key stored in plain text) are the service's to log when it loads the file.
    parseApiKeysFile(path, text, () => {});
    return [];
  } catch (err) {
    return [`${label}: ${(err as Error).message}`];
  }
}
