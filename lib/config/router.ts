/**
 * Configuration of the clickstream router (`start` and `mock`): the seed's `ER_*` variables with the original
 * code's spellings as aliases, the command's flags, and the `mock` integrations argument, all checked at once.
 * @module
 */
import { z } from "zod";
import { type CompressionCodec, parseCompressionCodec } from "../kafka/compression/codec.ts";
import { UsageError } from "./errors.ts";
import {
  boolean,
  hostPortList,
  httpUrl,
  integer,
  logFormat,
  optional,
  port,
  required,
  text,
  withDefault,
} from "./fields.ts";
import { type GivenSetting, loadServerTls, type ServerTls } from "./tls_files.ts";
import { parseFlags } from "./flags.ts";
import { type Env, parseConfig, pickEnv, withMoreProblems } from "./parse.ts";
import { KAFKA_SECURITY_FLAGS, loadKafkaSecurity } from "./kafka_security.ts";
import { readSources, type Source } from "./sources.ts";
import type { KafkaSecurityConfig } from "../kafka/security.ts";
import type { Integration } from "../router/houston_client.ts";

/** Where integrations come from: Houston (`start`) or a fixed list (`mock`). */
export type IntegrationSourceConfig =
  | { kind: "houston"; url: string; auth: { apiKey: string } | { username: string; password: string } }
  | { kind: "static"; integrations: Integration[] };

/** S3 client settings for dead letters. */
export interface S3Config {
  /** The bucket (`ER_CLICKSTREAM_RETRY_S3_BUCKET`). */
  bucket: string;
  /** Key prefix without trailing slash, or undefined. */
  prefix: string | undefined;
  /** The bucket's region (`AWS_REGION`). */
  region: string;
  /** Custom endpoint (path-style addressing is used when set). */
  endpoint: string | undefined;
  /** Static credentials from the environment; undefined uses the SDK's default chain. */
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined;
}

/** The typed router configuration. */
export interface RouterConfig {
  /** Debug lines, and a line per HTTP request (`ER_DEBUG`, `--debug`). */
  debug: boolean;
  /** Kafka bootstrap brokers as `host:port` (`ER_BOOTSTRAP_SERVERS`). */
  bootstrapServers: string[];
  /** HTTP port of /health, /ready, /metrics, /integrations (`ER_SERVER_PORT`). */
  serverPort: number;
  /** Consumer group of the ingestion topic (`ER_KAFKA_GROUP_ID`). */
  groupId: string;
  /** The clickstream topic consumed (`ER_KAFKA_INGESTION_TOPIC`). */
  ingestionTopic: string;
  /** SSE broadcast URL, or undefined when SSE is off (`--disable-sse`, `mock`). */
  sseUrl: string | undefined;
  /** How long shutdown waits for messages in flight (`ER_KAFKA_PRODUCER_FLUSH_TIMEOUT_MS`). */
  flushTimeoutMs: number;
  /** Broker-side wait for replicas per produce request (`ER_KAFKA_PRODUCER_MESSAGE_TIMEOUT_MS`). */
  messageTimeoutMs: number;
  /** Retries before a message is dead-lettered (`ER_MAX_RETRIES`; see RetryPolicy). */
  maxRetries: number;
  /** Set with `--retry`: retry topic and S3 dead letters. */
  retry: { topic: string; s3: S3Config } | undefined;
  /** Where each app's integrations come from: Houston (`start`) or a static list (`mock`). */
  source: IntegrationSourceConfig;
  /** Cache entry lifetime in ms, or undefined when entries live until SSE replaces them. */
  cacheTtlMs: number | undefined;
  /** Codec of the record batches the router writes (integration topics and the retry lane). */
  compression: CompressionCodec;
  /** TLS and SASL of every Kafka connection (`ER_KAFKA_SECURITY_PROTOCOL` and friends). */
  kafkaSecurity: KafkaSecurityConfig;
  /** HTTPS: the certificate chain and key served (`ER_TLS_CERT_FILE`, `ER_TLS_KEY_FILE`); absent: plain HTTP. */
  tls?: ServerTls;
  /** `json` (default) or `text` log lines (`ER_LOG_FORMAT`). */
  logFormat?: "json" | "text";
  /** Whether produced-message metrics carry an `appId` label (`ER_METRICS_APP_LABELS`, default true). */
  metricsAppLabels?: boolean;
  /** Things worth a warning at start (settings that have no effect as given). */
  notices?: string[];
}

/** Kafka topic names: what the broker accepts. */
const TOPIC_PATTERN = /^[A-Za-z0-9._-]{1,249}$/;

/**
 * Parses `mock`'s integration list: `Name:topic` pairs separated by commas, names may contain spaces (the topic is
 * after the last colon because topic names cannot contain one). Throws an Error naming every bad pair.
 *
 * @example
 * ```ts
 * parseIntegrationList("S3 Event Logs:s3-event-logs,Segment:segment");
 * // [{ name: "S3 Event Logs", topic: "s3-event-logs" }, { name: "Segment", topic: "segment" }]
 * ```
 */
export function parseIntegrationList(list: string): Integration[] {
  const problems: string[] = [];
  const result: Integration[] = [];
  const pairs = list.split(",");
  for (const raw of pairs) {
    const pair = raw.trim();
    const colon = pair.lastIndexOf(":");
    if (colon === -1) {
      problems.push(`${JSON.stringify(pair)} has no ":" (expected Name:topic)`);
      continue;
    }
    const name = pair.slice(0, colon).trim();
    const topic = pair.slice(colon + 1).trim();
    if (name === "") problems.push(`${JSON.stringify(pair)} has an empty name (expected Name:topic)`);
    else if (!TOPIC_PATTERN.test(topic)) {
      problems.push(`${JSON.stringify(pair)} has an invalid topic ${JSON.stringify(topic)} (letters, digits, . _ -)`);
    } else if (result.some((r) => r.name === name)) problems.push(`${JSON.stringify(name)} is listed twice`);
    else result.push({ name, topic });
  }
  if (problems.length > 0) throw new Error(problems.join("; "));
  return result;
}

const topicName = (s: string): string => {
  if (!TOPIC_PATTERN.test(s)) throw new Error("not a Kafka topic name (letters, digits, . _ -, at most 249)");
  return s;
};

/** Where each router setting comes from: environment variables (aliases after the name) and flags. */
const SOURCES = {
  debug: { env: "ER_DEBUG", flag: "debug", boolean: true },
  bootstrapServers: { env: "ER_BOOTSTRAP_SERVERS" },
  serverPort: { env: ["ER_SERVER_PORT", "ER_SERVE_PORT"] },
  groupId: { env: "ER_KAFKA_GROUP_ID" },
  ingestionTopic: { env: "ER_KAFKA_INGESTION_TOPIC" },
  sseUrl: { env: "ER_SSE_URL" },
  flushTimeoutMs: { env: "ER_KAFKA_PRODUCER_FLUSH_TIMEOUT_MS" },
  // The seed's own spelling first, the corrected one as an alias.
  messageTimeoutMs: { env: ["ER_KAFKA_PRODUCER_MESSAGE_TIMOUT_MS", "ER_KAFKA_PRODUCER_MESSAGE_TIMEOUT_MS"] },
  maxRetries: { env: "ER_MAX_RETRIES" },
  retryTopic: { env: "ER_CLICKSTREAM_RETRY_TOPIC" },
  retryBucket: { env: "ER_CLICKSTREAM_RETRY_S3_BUCKET" },
  retryPrefix: { env: ["CLICKSTREAM_RETRY_S3_PATH_PREFIX", "ER_CLICKSTREAM_RETRY_S3_PATH_PREFIX"] },
  awsRegion: { env: ["AWS_REGION", "AWS_DEFAULT_REGION"] },
  awsEndpoint: { env: ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"] },
  awsAccessKeyId: { env: "AWS_ACCESS_KEY_ID" },
  awsSecretAccessKey: { env: "AWS_SECRET_ACCESS_KEY" },
  awsSessionToken: { env: "AWS_SESSION_TOKEN" },
  houstonUrl: { env: "ER_HOUSTON_API_URL" },
  apiKey: { env: "ER_HOUSTON_API_KEY" },
  username: { env: "ER_HOUSTON_USERNAME" },
  password: { env: "ER_HOUSTON_PASSWORD" },
  cacheTtlMin: { env: "ER_CACHE_TTL_MIN" },
  disableCacheTtl: { env: "ER_DISABLE_CACHE_TTL", flag: "disable-cache-ttl", boolean: true },
  compression: { env: "ER_KAFKA_COMPRESSION", flag: "kafka-compression" },
  metricsAppLabels: { env: "ER_METRICS_APP_LABELS" },
  logFormat: { env: "ER_LOG_FORMAT" },
} as const satisfies Record<string, Source>;

/** The router's defaults (the spec's): the one home for them, used by the schema and by {@link routerConfig}. */
export const ROUTER_DEFAULTS = {
  debug: false,
  serverPort: 8080,
  flushTimeoutMs: 1000,
  messageTimeoutMs: 5000,
  maxRetries: 2,
  cacheTtlMs: 5 * 60_000,
  compression: "none",
  metricsAppLabels: true,
  logFormat: "json",
} as const satisfies Partial<RouterConfig>;

const D = ROUTER_DEFAULTS;

/**
 * A typed config for code that starts the router itself (`dev`, tests): the defaults (no SSE, no retry lane,
 * PLAINTEXT Kafka), then `given`. No flags or environment are read.
 *
 * @example
 * ```ts
 * const config = routerConfig({
 *   bootstrapServers: ["127.0.0.1:9092"], groupId: "g", ingestionTopic: "clicks",
 *   source: { kind: "static", integrations: parseIntegrationList("Segment:segment") },
 * });
 * ```
 */
export function routerConfig(
  given: Pick<RouterConfig, "bootstrapServers" | "groupId" | "ingestionTopic" | "source"> & Partial<RouterConfig>,
): RouterConfig {
  return {
    ...ROUTER_DEFAULTS,
    sseUrl: undefined,
    retry: undefined,
    kafkaSecurity: { protocol: "PLAINTEXT" },
    ...given,
  };
}

/** Flags of `start` and `mock`. */
export const ROUTER_FLAGS = {
  // --disable-sse is a persistent flag (lib/config/flags.ts): every command's parser accepts it.
  "retry": { type: "boolean" },
  "disable-cache-ttl": { type: "boolean" },
  "debug": { type: "boolean" },
  "kafka-compression": { type: "string" },
  ...KAFKA_SECURITY_FLAGS,
} as const;

/**
 * Loads the router configuration from command-line args and env. `mode` decides whether Houston and SSE variables
 * are required (`start`) or the first positional argument is the integration list (`mock`).
 * Throws {@link UsageError} for bad flags and {@link ConfigError} listing every bad or missing value.
 *
 * @example
 * ```ts
 * const config = loadRouterConfig(["--retry"], Deno.env.toObject(), "start");
 * ```
 */
export function loadRouterConfig(args: string[], env: Env, mode: "start" | "mock"): RouterConfig {
  const command = mode;
  const { values, positionals } = parseFlags(args, ROUTER_FLAGS, command, { allowPositionals: mode === "mock" });
  if (mode === "mock") {
    if (positionals.length === 0) {
      throw new UsageError(
        `"event-router mock" requires the integrations to enable, e.g. "S3 Event Logs:s3-event-logs,Segment:segment"`,
        "Run 'event-router mock --help' for usage.",
      );
    }
    if (positionals.length > 1) {
      throw new UsageError(
        `"event-router mock" takes one integrations argument, got ${positionals.length}: quote the list`,
        "Run 'event-router mock --help' for usage.",
      );
    }
  }
  const retry = values["retry"] === true;
  const disableSse = values["disable-sse"] === true || mode === "mock";
  const houston = mode === "start";
  const hasApiKey = pickEnv(env, "ER_HOUSTON_API_KEY") !== undefined;
  const nonNegative = integer(0);
  const ignored = z.unknown().transform(() => undefined);

  const security = loadKafkaSecurity("ER_", env, values);
  const given = (name: string): GivenSetting | undefined => {
    const value = pickEnv(env, name);
    return value === undefined ? undefined : { value, label: name };
  };
  const tls = loadServerTls(given("ER_TLS_CERT_FILE"), given("ER_TLS_KEY_FILE"));
  const schema = z.object({
    debug: withDefault("true or false", boolean, D.debug),
    bootstrapServers: required("host:port,host:port", hostPortList),
    serverPort: withDefault("a port number 0-65535", port, D.serverPort),
    groupId: required("a consumer group id", text),
    ingestionTopic: required("a Kafka topic name", topicName),
    sseUrl: disableSse ? z.unknown().transform(() => undefined) : required("an http(s) URL", httpUrl),
    flushTimeoutMs: withDefault("milliseconds", nonNegative, D.flushTimeoutMs),
    messageTimeoutMs: withDefault("milliseconds", integer(1), D.messageTimeoutMs),
    maxRetries: withDefault("a count", nonNegative, D.maxRetries),
    retryTopic: retry ? required("a Kafka topic name, needed with --retry", topicName) : optional("a topic", topicName),
    retryBucket: retry ? required("an S3 bucket name, needed with --retry", text) : optional("a bucket", text),
    retryPrefix: optional("an S3 key prefix", text),
    // The S3 client's settings matter only with --retry; without it they are not read (other tools may use them).
    awsRegion: retry ? withDefault("an AWS region such as eu-west-1", text, "us-east-1") : ignored,
    // Checked as a URL, kept as written: the SDK takes the endpoint as given.
    awsEndpoint: retry ? optional("an http(s) URL", (v) => (httpUrl(v), v)) : ignored,
    awsAccessKeyId: retry ? optional("an access key id", text) : ignored,
    awsSecretAccessKey: retry ? optional("a secret access key", text) : ignored,
    awsSessionToken: retry ? optional("a session token", text) : ignored,
    houstonUrl: houston ? required("an http(s) URL", httpUrl) : z.unknown().transform(() => undefined),
    apiKey: optional("a Houston API key", text),
    username: houston && !hasApiKey
      ? required("a Houston user name (or set ER_HOUSTON_API_KEY)", text)
      : optional("a user name", text),
    password: houston && !hasApiKey
      ? required("a Houston password (or set ER_HOUSTON_API_KEY)", text)
      : optional("a password", text),
    cacheTtlMin: withDefault("whole minutes > 0", integer(1), D.cacheTtlMs / 60_000),
    disableCacheTtl: withDefault("true or false", boolean, false),
    integrations: mode === "mock"
      ? required("Name:topic,Other Name:other", parseIntegrationList)
      : z.unknown().transform(() => undefined),
    compression: withDefault(
      "none, gzip, snappy, lz4 or zstd",
      parseCompressionCodec,
      D.compression as CompressionCodec,
    ),
    metricsAppLabels: withDefault("true or false", boolean, D.metricsAppLabels),
    logFormat: withDefault("text or json", logFormat, D.logFormat as "json" | "text"),
  });
  const { raw, labels } = readSources(SOURCES, values, env);
  // S3 credentials come as a pair or not at all (then the SDK's own chain: instance role, profile).
  const credentials = retry && (raw.awsAccessKeyId === undefined) !== (raw.awsSecretAccessKey === undefined)
    ? [
      `${raw.awsAccessKeyId === undefined ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY"}: set both ` +
      "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or neither (the SDK's default chain)",
    ]
    : [];
  const c = withMoreProblems(
    [...security.problems, ...tls.problems, ...credentials],
    () =>
      parseConfig(schema, { ...raw, integrations: positionals[0] }, {
        ...labels,
        integrations: "mock integrations argument",
      }),
  );

  let source: IntegrationSourceConfig;
  if (mode === "mock") {
    source = { kind: "static", integrations: c.integrations as Integration[] };
  } else {
    const auth = c.apiKey !== undefined
      ? { apiKey: c.apiKey }
      : { username: c.username as string, password: c.password as string };
    source = { kind: "houston", url: c.houstonUrl as string, auth };
  }
  let retryConfig: RouterConfig["retry"];
  if (retry) {
    const prefix = c.retryPrefix?.replace(/^\/+|\/+$/g, "");
    const { awsAccessKeyId: accessKeyId, awsSecretAccessKey: secretAccessKey, awsSessionToken: sessionToken } = c;
    retryConfig = {
      topic: c.retryTopic as string,
      s3: {
        bucket: c.retryBucket as string,
        prefix: prefix === "" ? undefined : prefix,
        region: c.awsRegion ?? "us-east-1",
        endpoint: c.awsEndpoint,
        credentials: accessKeyId !== undefined && secretAccessKey !== undefined
          ? { accessKeyId, secretAccessKey, ...(sessionToken !== undefined ? { sessionToken } : {}) }
          : undefined,
      },
    };
  }
  // The fields the schema reads as they are go straight through; the rest become retry, source and cacheTtlMs.
  const {
    retryTopic: _topic,
    retryBucket: _bucket,
    retryPrefix: _prefix,
    awsRegion: _region,
    awsEndpoint: _endpoint,
    awsAccessKeyId: _id,
    awsSecretAccessKey: _secret,
    awsSessionToken: _token,
    houstonUrl: _url,
    apiKey: _apiKey,
    username: _username,
    password: _password,
    cacheTtlMin,
    disableCacheTtl,
    integrations: _integrations,
    ...direct
  } = c;
  return {
    ...direct,
    retry: retryConfig,
    source,
    cacheTtlMs: disableCacheTtl ? undefined : cacheTtlMin * 60_000,
    kafkaSecurity: security.config!,
    ...(tls.config ? { tls: tls.config } : {}),
    notices: retry ? [] : retrySettingsWithoutRetry(env),
  };
}

/** A warning when the retry lane is configured but not switched on (`--retry`): its settings then do nothing. */
function retrySettingsWithoutRetry(env: Env): string[] {
  const set = ["ER_CLICKSTREAM_RETRY_TOPIC", "ER_CLICKSTREAM_RETRY_S3_BUCKET"].filter((n) =>
    pickEnv(env, n) !== undefined
  );
  if (set.length === 0) return [];
  return [
    `${set.join(" and ")} ${set.length === 1 ? "is" : "are"} set but --retry is not: retries and S3 dead letters ` +
    "are off: a message whose produce keeps failing is retried in place, holding its partition back, until it succeeds",
  ];
}
