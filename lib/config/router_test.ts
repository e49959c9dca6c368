import assert from "node:assert/strict";
import { ConfigError, UsageError } from "./errors.ts";
import { loadRouterConfig, parseIntegrationList } from "./router.ts";

const BASE = {
  ER_BOOTSTRAP_SERVERS: "127.0.0.1:9092,127.0.0.1:9093",
  ER_KAFKA_GROUP_ID: "er",
  ER_KAFKA_INGESTION_TOPIC: "ingest",
  ER_SSE_URL: "http://houston/broadcast",
  ER_HOUSTON_API_URL: "http://houston/v1",
  ER_HOUSTON_API_KEY: "k",
};

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

Deno.test("start lists every missing variable at once", () => {
  const p = problems(() => loadRouterConfig([], {}, "start"));
  const joined = p.join("\n");
  for (
    const name of [
      "ER_BOOTSTRAP_SERVERS",
      "ER_KAFKA_GROUP_ID",
      "ER_KAFKA_INGESTION_TOPIC",
      "ER_SSE_URL",
      "ER_HOUSTON_API_URL",
      "ER_HOUSTON_USERNAME",
      "ER_HOUSTON_PASSWORD",
    ]
  ) assert.match(joined, new RegExp(name), `${name} not listed in:\n${joined}`);
  assert.equal(p.length, 7);
});

Deno.test("--retry requires the retry topic and bucket; --disable-sse drops ER_SSE_URL", () => {
  const { ER_SSE_URL: _sse, ...noSse } = BASE;
  const p = problems(() => loadRouterConfig(["--retry", "--disable-sse"], noSse, "start"));
  assert.deepEqual(p.map((x) => x.split(":")[0]), ["ER_CLICKSTREAM_RETRY_TOPIC", "ER_CLICKSTREAM_RETRY_S3_BUCKET"]);
});

Deno.test("ER_KAFKA_COMPRESSION and --kafka-compression pick the codec; a bad one is listed with the others", () => {
  assert.equal(loadRouterConfig([], BASE, "start").compression, "none");
  assert.equal(loadRouterConfig([], { ...BASE, ER_KAFKA_COMPRESSION: "snappy" }, "start").compression, "snappy");
  assert.equal(
    loadRouterConfig(["--kafka-compression", "zstd"], { ...BASE, ER_KAFKA_COMPRESSION: "gzip" }, "start").compression,
    "zstd",
  );
  const { ER_KAFKA_GROUP_ID: _group, ...noGroup } = BASE;
  const p = problems(() => loadRouterConfig([], { ...noGroup, ER_KAFKA_COMPRESSION: "lzma" }, "start"));
  assert.equal(p.length, 2, p.join("\n"));
  assert.match(p.join("\n"), /ER_KAFKA_GROUP_ID/);
  assert.match(p.join("\n"), /ER_KAFKA_COMPRESSION.*"lzma".*none, gzip, snappy, lz4, zstd/);
  const q = problems(() => loadRouterConfig(["--kafka-compression", "x"], BASE, "start"));
  assert.match(q.join("\n"), /^--kafka-compression/);
});

Deno.test("Kafka security problems are listed with the router's other configuration problems", () => {
  const { ER_KAFKA_GROUP_ID: _group, ...noGroup } = BASE;
  const p = problems(() =>
    loadRouterConfig([], { ...noGroup, ER_KAFKA_SECURITY_PROTOCOL: "SASL_SSL", ER_KAFKA_SASL_PASSWORD: "pw" }, "start")
  );
  assert.deepEqual(p.map((x) => x.split(":")[0]), ["ER_KAFKA_GROUP_ID", "ER_KAFKA_SASL_MECHANISM"]);
  const c = loadRouterConfig(["--kafka-security-protocol", "SSL"], BASE, "start");
  assert.deepEqual(c.kafkaSecurity, { protocol: "SSL", tls: { verifyHostname: true } });
});

Deno.test("defaults, aliases and flags", () => {
  const c = loadRouterConfig([], BASE, "start");
  assert.equal(c.serverPort, 8080);
  assert.equal(c.flushTimeoutMs, 1000);
  assert.equal(c.messageTimeoutMs, 5000);
  assert.equal(c.maxRetries, 2);
  assert.equal(c.cacheTtlMs, 5 * 60_000);
  assert.equal(c.retry, undefined);
  assert.deepEqual(c.source, { kind: "houston", url: "http://houston/v1", auth: { apiKey: "k" } });
  const d = loadRouterConfig(["--retry", "--disable-cache-ttl", "--debug"], {
    ...BASE,
    ER_SERVE_PORT: "9000",
    ER_KAFKA_PRODUCER_MESSAGE_TIMEOUT_MS: "700",
    ER_CLICKSTREAM_RETRY_TOPIC: "retry",
    ER_CLICKSTREAM_RETRY_S3_BUCKET: "dead",
    ER_CLICKSTREAM_RETRY_S3_PATH_PREFIX: "/letters/",
    AWS_ENDPOINT_URL_S3: "http://127.0.0.1:4569",
  }, "start");
  assert.equal(d.serverPort, 9000);
  assert.equal(d.messageTimeoutMs, 700);
  assert.equal(d.cacheTtlMs, undefined);
  assert.equal(d.debug, true);
  assert.equal(d.retry?.topic, "retry");
  assert.equal(d.retry?.s3.prefix, "letters");
  assert.equal(d.retry?.s3.endpoint, "http://127.0.0.1:4569");
  assert.equal(d.retry?.s3.region, "us-east-1");
  // The seed's spelling wins over the alias.
  const e = loadRouterConfig([], {
    ...BASE,
    ER_SERVER_PORT: "1",
    ER_SERVE_PORT: "2",
    CLICKSTREAM_RETRY_S3_PATH_PREFIX: "p",
  }, "start");
  assert.equal(e.serverPort, 1);
});

Deno.test("invalid values are named with the expected form", () => {
  const p = problems(() =>
    loadRouterConfig(
      [],
      { ...BASE, ER_SERVER_PORT: "x", ER_MAX_RETRIES: "-1", ER_BOOTSTRAP_SERVERS: "nohost" },
      "start",
    )
  );
  assert.equal(p.length, 3);
  assert.match(p.join("\n"), /ER_SERVER_PORT: "x" is invalid/);
  assert.match(p.join("\n"), /ER_BOOTSTRAP_SERVERS/);
});

Deno.test("mock parses names with spaces and needs no Houston variables", () => {
  const c = loadRouterConfig(["S3 Event Logs:s3-event-logs,Segment:segment"], {
    ER_BOOTSTRAP_SERVERS: "127.0.0.1:9092",
    ER_KAFKA_GROUP_ID: "er",
    ER_KAFKA_INGESTION_TOPIC: "ingest",
  }, "mock");
  assert.deepEqual(c.source, {
    kind: "static",
    integrations: [{ name: "S3 Event Logs", topic: "s3-event-logs" }, { name: "Segment", topic: "segment" }],
  });
  assert.equal(c.sseUrl, undefined);
});

Deno.test("mock rejects malformed lists naming the bad pair, and a missing list", () => {
  assert.throws(() => parseIntegrationList("Segment"), /"Segment" has no ":"/);
  assert.throws(() => parseIntegrationList("Segment:segment,:topic"), /":topic" has an empty name/);
  assert.throws(() => parseIntegrationList("Segment:bad topic"), /invalid topic "bad topic"/);
  assert.throws(() => parseIntegrationList("A:a,,B:b"), /"" has no ":"/);
  const p = problems(() => loadRouterConfig(["Segment,Amp:amp"], {}, "mock"));
  assert.ok(p.some((x) => /mock integrations argument: .*"Segment" has no ":"/.test(x)), p.join("\n"));
  assert.ok(p.some((x) => x.startsWith("ER_BOOTSTRAP_SERVERS")));
  assert.throws(() => loadRouterConfig([], BASE, "mock"), UsageError);
  assert.throws(() => loadRouterConfig(["--retyr"], BASE, "start"), /Did you mean this\?\n\t--retry/);
});

Deno.test("the CLI exits 2 listing every missing variable, and names a malformed mock list", async () => {
  const { main } = await import("../../main.ts");
  let err = "";
  const io = { out: () => {}, err: (t: string) => void (err += t) };
  assert.equal(await main(["start"], {}, io), 2);
  for (const name of ["ER_BOOTSTRAP_SERVERS", "ER_KAFKA_GROUP_ID", "ER_KAFKA_INGESTION_TOPIC", "ER_HOUSTON_API_URL"]) {
    assert.match(err, new RegExp(name));
  }
  assert.match(err, /7 problems/);
  err = "";
  assert.equal(await main(["--disable-sse", "start", "--retry"], { ...BASE, ER_SSE_URL: "" }, io), 2);
  assert.match(err, /ER_CLICKSTREAM_RETRY_TOPIC/);
  assert.doesNotMatch(err, /ER_SSE_URL/);
  err = "";
  assert.equal(await main(["mock", "Segment:segment,Amplitude"], BASE, io), 2);
  assert.match(err, /"Amplitude" has no ":"/);
  err = "";
  assert.equal(await main(["mock"], BASE, io), 2);
  assert.match(err, /requires the integrations/);
});

Deno.test("retry settings without --retry are a notice; ER_METRICS_APP_LABELS switches the appId label off", () => {
  const base = { ER_BOOTSTRAP_SERVERS: "k:9092", ER_KAFKA_GROUP_ID: "g", ER_KAFKA_INGESTION_TOPIC: "t" };
  const without = loadRouterConfig(["Segment:seg"], {
    ...base,
    ER_CLICKSTREAM_RETRY_TOPIC: "retry",
    ER_CLICKSTREAM_RETRY_S3_BUCKET: "b",
  }, "mock");
  assert.equal(without.notices?.length, 1);
  assert.match(
    without.notices![0]!,
    /ER_CLICKSTREAM_RETRY_TOPIC and ER_CLICKSTREAM_RETRY_S3_BUCKET are set but --retry/,
  );
  assert.deepEqual(loadRouterConfig(["Segment:seg"], base, "mock").notices, []);
  const withRetry = loadRouterConfig(["--retry", "Segment:seg"], {
    ...base,
    ER_CLICKSTREAM_RETRY_TOPIC: "retry",
    ER_CLICKSTREAM_RETRY_S3_BUCKET: "b",
  }, "mock");
  assert.deepEqual(withRetry.notices, []);
  assert.equal(loadRouterConfig(["Segment:seg"], base, "mock").metricsAppLabels, true);
  assert.equal(
    loadRouterConfig(["Segment:seg"], { ...base, ER_METRICS_APP_LABELS: "false" }, "mock").metricsAppLabels,
    false,
  );
  assert.throws(
    () => loadRouterConfig(["Segment:seg"], { ...base, ER_METRICS_APP_LABELS: "nope" }, "mock"),
    /ER_METRICS_APP_LABELS: /,
  );
});

Deno.test("ER_LOG_FORMAT picks json or text log lines; another value is a configuration problem", () => {
  const base = { ER_BOOTSTRAP_SERVERS: "k:9092", ER_KAFKA_GROUP_ID: "g", ER_KAFKA_INGESTION_TOPIC: "t" };
  assert.equal(loadRouterConfig(["S:s"], base, "mock").logFormat, "json");
  assert.equal(loadRouterConfig(["S:s"], { ...base, ER_LOG_FORMAT: "text" }, "mock").logFormat, "text");
  assert.match(
    problems(() => loadRouterConfig(["S:s"], { ...base, ER_LOG_FORMAT: "xml" }, "mock")).join(),
    /ER_LOG_FORMAT/,
  );
});

Deno.test("the S3 settings are checked with the others: a credential without its pair, a bad endpoint", () => {
  const p = problems(() =>
    loadRouterConfig(["--retry"], {
      ...BASE,
      ER_MAX_RETRIES: "many",
      ER_CLICKSTREAM_RETRY_TOPIC: "retry",
      ER_CLICKSTREAM_RETRY_S3_BUCKET: "dead",
      AWS_ACCESS_KEY_ID: "AKIA-only",
      AWS_ENDPOINT_URL: "minio:9000",
    }, "start")
  ).join("\n");
  assert.match(p, /ER_MAX_RETRIES: /);
  assert.match(p, /AWS_SECRET_ACCESS_KEY: set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or neither/);
  assert.match(p, /AWS_ENDPOINT_URL: .*http\(s\) URL/);
  assert.doesNotMatch(p, /AKIA-only/, "a credential is never echoed");
  const ok = loadRouterConfig(["--retry"], {
    ...BASE,
    ER_CLICKSTREAM_RETRY_TOPIC: "retry",
    ER_CLICKSTREAM_RETRY_S3_BUCKET: "dead",
    AWS_ACCESS_KEY_ID: "id",
    AWS_SECRET_ACCESS_KEY: "secret",
    AWS_DEFAULT_REGION: "eu-west-1",
  }, "start");
  assert.deepEqual(ok.retry?.s3.credentials, { accessKeyId: "id", secretAccessKey: "secret" });
  assert.equal(ok.retry?.s3.region, "eu-west-1");
});
