/**
 * HTTPS on every listener, through the real programs: `receiver httpbroker` (`--tls-cert`, `--tls-key`), `kcl-proxy`
 * (`KCL_TLS_CERT_FILE`, `KCL_TLS_KEY_FILE`) and `mock` (`ER_TLS_CERT_FILE`, `ER_TLS_KEY_FILE`) serve a certificate
 * made by openssl for this run, checked by `fetch` trusting the test CA and by `curl --cacert`; a mismatched pair is
 * a configuration error (exit 2) naming the setting and never the key.
 * @module
 */
import assert from "node:assert/strict";
import { apiKeyEntry, apiKeysFile } from "../testing/kcl.ts";
import { Redis } from "ioredis";
import { makeTestCerts, type TestCerts } from "../testing/certs.ts";
import {
  baseEnv,
  freePort,
  spawnEventRouter,
  startKafka,
  startRedis,
  uniqueTopic,
  waitUntil,
  withTimeout,
} from "../testing/harness.ts";
import type { ServiceProcess } from "../testing/router_process.ts";

const API_KEY = "k-https-test-0123456789";

/** Writes the server certificate and key into the certs' folder; their paths. */
async function serverFiles(certs: TestCerts): Promise<{ cert: string; key: string }> {
  const cert = `${certs.dir}/listener.pem`;
  const key = `${certs.dir}/listener.key`;
  await Deno.writeTextFile(cert, certs.serverCert);
  await Deno.writeTextFile(key, certs.serverKey);
  return { cert, key };
}

/** Waits until `url` answers 200 over HTTPS trusting `ca`. */
async function waitForHttps(client: Deno.HttpClient, url: string, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  let last = "";
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, { client });
      await res.body?.cancel();
      if (res.status === 200) return;
      last = `status ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what}: ${url} not 200 within 60 s (${last})`);
}

async function curl(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const r = await new Deno.Command("curl", { args: ["-sS", "--max-time", "10", ...args] }).output();
  return { code: r.code, out: new TextDecoder().decode(r.stdout), err: new TextDecoder().decode(r.stderr) };
}

/** Checks a service over HTTPS with fetch and curl, and that plain HTTP on the same port is not served. */
async function checkHttps(service: ServiceProcess, client: Deno.HttpClient, caFile: string): Promise<void> {
  await waitForHttps(client, `${service.url}/health`, "the service over HTTPS");
  const viaCurl = await curl([
    "--cacert",
    caFile,
    "-o",
    "/dev/null",
    "-w",
    "%{http_code} %{scheme}",
    `${service.url}/health`,
  ]);
  assert.equal(viaCurl.code, 0, viaCurl.err);
  assert.equal(viaCurl.out.toLowerCase(), "200 https");
  // Without the CA the certificate is refused: it really is the test CA's certificate being served.
  const untrusted = await curl(["-o", "/dev/null", `${service.url}/health`]);
  assert.notEqual(untrusted.code, 0);
  const plain = await curl(["-o", "/dev/null", "-w", "%{http_code}", `http://127.0.0.1:${service.port}/health`]);
  assert.ok(plain.code !== 0 || plain.out !== "200", "plain HTTP is not served on the HTTPS port");
}

async function stopped(service: ServiceProcess): Promise<string> {
  service.kill("SIGTERM");
  const { code, text } = await withTimeout(service.exit(), 30_000, "the service to exit");
  assert.equal(code, 0, text.slice(-2000));
  return text;
}

Deno.test({
  name: "httpbroker serves HTTPS with --tls-cert/--tls-key: states posted over HTTPS reach Redis",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using certs = await makeTestCerts();
    const files = await serverFiles(certs);
    const redis = await startRedis();
    using client = Deno.createHttpClient({ caCerts: [certs.ca] });
    const port = freePort();
    const broker = spawnEventRouter(
      [
        "receiver",
        "httpbroker",
        "--port",
        `127.0.0.1:${port}`,
        "--server",
        `127.0.0.1:${redis.port}`,
        "--interval",
        "1s",
        "--tls-cert",
        files.cert,
        "--tls-key",
        files.key,
      ],
      baseEnv(),
      { port, scheme: "https" },
    );
    try {
      await checkHttps(broker, client, certs.caFile);
      const res = await fetch(`${broker.url}/state`, {
        client,
        method: "POST",
        body: JSON.stringify({ entity: "web-1", check: "http", state: "ok", summary: "fine", ttl: 60 }),
      });
      assert.equal(res.status, 200, await res.clone().text());
      assert.match(await res.text(), /^Caching state: /);
      const cached = await (await fetch(`${broker.url}/state`, { client })).json();
      assert.ok("web-1:http" in cached);
      const metrics = await (await fetch(`${broker.url}/metrics`, { client })).text();
      assert.match(metrics, /^httpbroker_build_info\{version="[^"]+",deno="[^"]+"\} 1$/m);
      assert.match(metrics, /^process_resident_memory_bytes \d+/m);
      const reader = new Redis(redis.url);
      try {
        await waitUntil(async () => (await reader.llen("events")) > 0, 20_000, "the state in Flapjack's list");
        assert.match((await reader.lindex("events", 0)) ?? "", /"entity":"web-1"/);
      } finally {
        reader.disconnect();
      }
    } finally {
      const text = await stopped(broker).finally(() => redis.stop());
      assert.ok(!text.includes("PRIVATE KEY"), "no key material in the output");
    }
  },
});

Deno.test({
  name: "kcl-proxy serves HTTPS with KCL_TLS_CERT_FILE/KCL_TLS_KEY_FILE: events over HTTPS are produced",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    using kafka = startKafka(1);
    await using certs = await makeTestCerts();
    const files = await serverFiles(certs);
    const topic = uniqueTopic("https");
    kafka.createTopic(topic, 1);
    const keysFile = `${certs.dir}/keys.json`;
    await Deno.writeTextFile(
      keysFile,
      apiKeysFile(apiKeyEntry(API_KEY, { id: "h", clientId: "H", topics: ["https-*"] })),
    );
    using client = Deno.createHttpClient({ caCerts: [certs.ca] });
    const port = freePort();
    const proxy = spawnEventRouter(["kcl-proxy"], {
      ...baseEnv(),
      KCL_BOOTSTRAP_SERVERS: kafka.bootstrapServers,
      KCL_HOST: "127.0.0.1",
      KCL_PORT: String(port),
      KCL_API_KEYS_FILE: keysFile,
      KCL_TLS_CERT_FILE: files.cert,
      KCL_TLS_KEY_FILE: files.key,
    }, { port, scheme: "https" });
    let text = "";
    try {
      await checkHttps(proxy, client, certs.caFile);
      const res = await fetch(`${proxy.url}/events`, {
        client,
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-api-key": API_KEY,
          "x-app-id": "H",
          "x-realm": "prod",
          "kcl-topic": topic,
        },
        body: JSON.stringify({ sourceSystem: "s", sourceSystemId: "i", authId: 1, priority: 30, data: {} }),
      });
      assert.equal(res.status, 200, await res.clone().text());
      assert.equal((await res.json()).results[0].status, "produced");
      const metrics = await (await fetch(`${proxy.url}/metrics`, { client })).text();
      assert.match(metrics, /^kcl_build_info\{version="[^"]+",deno="[^"]+"\} 1$/m);
      assert.match(metrics, /^process_open_fds \d+/m);
      // The immediate class is timed and counted like the batched ones.
      assert.match(metrics, /^kcl_produce_seconds_count\{priority="immediate"\} 1$/m);
      assert.match(metrics, /^kcl_batch_events_sum\{priority="immediate"\} 1$/m);
    } finally {
      text = await stopped(proxy);
    }
    assert.ok(!text.includes(API_KEY), "the API key is never logged");
    assert.ok(!text.includes("serving plain HTTP"), "no plain-HTTP warning when serving HTTPS");
    assert.match(text, /"msg":"starting kcl-proxy".*"version":"\d+\.\d+\.\d+[^"]*".*"https":true/);
  },
});

Deno.test({
  name: "mock router serves /health, /ready and /metrics over HTTPS with ER_TLS_CERT_FILE/ER_TLS_KEY_FILE",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    using kafka = startKafka(1);
    await using certs = await makeTestCerts();
    const files = await serverFiles(certs);
    const ingest = uniqueTopic("ingest");
    kafka.createTopic(ingest, 1);
    using client = Deno.createHttpClient({ caCerts: [certs.ca] });
    const port = freePort();
    const router = spawnEventRouter(["mock", `Segment:${uniqueTopic("seg")}`], {
      ...baseEnv(),
      ER_BOOTSTRAP_SERVERS: kafka.bootstrapServers,
      ER_KAFKA_GROUP_ID: uniqueTopic("group"),
      ER_KAFKA_INGESTION_TOPIC: ingest,
      ER_SERVER_PORT: String(port),
      ER_TLS_CERT_FILE: files.cert,
      ER_TLS_KEY_FILE: files.key,
    }, { port, scheme: "https" });
    try {
      await checkHttps(router, client, certs.caFile);
      await waitForHttps(client, `${router.url}/ready`, "the router ready over HTTPS");
      const metrics = await (await fetch(`${router.url}/metrics`, { client })).text();
      assert.match(metrics, /^event_router_build_info\{version="\d+\.\d+\.\d+[^"]*",deno="[^"]+"\} 1$/m);
      assert.match(metrics, /^process_resident_memory_bytes \d+/m);
      assert.match(metrics, /^process_cpu_seconds_total /m);
    } finally {
      const text = await stopped(router);
      assert.match(text, /"msg":"starting event-router","version":"[^"]+","command":"mock".*"https":true/);
    }
  },
});

Deno.test({
  name: "a certificate and key that do not match are a configuration error (exit 2) in every service",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using certs = await makeTestCerts();
    const cert = `${certs.dir}/listener.pem`;
    const otherKey = `${certs.dir}/other.key`;
    await Deno.writeTextFile(cert, certs.serverCert);
    await Deno.writeTextFile(otherKey, certs.clientKey);
    const runs: [string[], Record<string, string>, RegExp][] = [
      [
        ["receiver", "httpbroker", "--tls-cert", cert, "--tls-key", otherKey],
        {},
        /--tls-key: the key does not belong to the certificate in --tls-cert/,
      ],
      [
        ["kcl-proxy"],
        {
          KCL_BOOTSTRAP_SERVERS: "127.0.0.1:9",
          KCL_API_KEYS_FILE: "/nonexistent.json",
          KCL_TLS_CERT_FILE: cert,
          KCL_TLS_KEY_FILE: otherKey,
        },
        /KCL_TLS_KEY_FILE: the key does not belong to the certificate in KCL_TLS_CERT_FILE/,
      ],
      [
        ["mock", "Segment:seg"],
        {
          ER_BOOTSTRAP_SERVERS: "127.0.0.1:9",
          ER_KAFKA_GROUP_ID: "g",
          ER_KAFKA_INGESTION_TOPIC: "t",
          ER_TLS_KEY_FILE: otherKey,
        },
        /ER_TLS_KEY_FILE: HTTPS needs both a certificate and a key; the certificate file is not set/,
      ],
    ];
    for (const [args, env, expected] of runs) {
      const service = spawnEventRouter(args, { ...baseEnv(), ...env }, { port: 0 });
      const { code, text } = await withTimeout(service.exit(), 60_000, `${args[0]} to exit`);
      assert.equal(code, 2, text);
      assert.match(text, expected);
      assert.ok(!text.includes("PRIVATE KEY"), "the key's content is never shown");
    }
  },
});
