/**
 * The kcl-proxy's `/ready` tells the truth about Kafka: it starts while no broker answers (503, and it does not exit),
 * turns 200 once one does, 503 within 10 s of a full outage, 200 again after; and against a cluster that refuses its
 * password it logs the reason once, answers 503, never shows the secret, and recovers once the server accepts it.
 * @module
 */
import assert from "node:assert/strict";
import { ApiKeys } from "../lib/kcl/api_keys.ts";
import { startKclProxy } from "../lib/kcl/service.ts";
import { createLogger } from "../lib/log.ts";
import { makeTestCerts } from "../testing/certs.ts";
import { startKafkaGateway } from "../testing/kafka_gateway.ts";
import { kclTestConfig, postEvents } from "../testing/kcl.ts";
import { startKafka, testLogger, uniqueTopic, waitUntil } from "../testing/harness.ts";

const API_KEY = "k-ready-test-0123456789";
const KEYS = JSON.stringify({
  keys: [{ id: "r", key: API_KEY, clientId: "R", realms: ["prod"], topics: ["ready-*"] }],
});

async function readyBody(handler: (req: Request) => Promise<Response>) {
  const res = await handler(new Request("http://proxy/ready"));
  return { status: res.status, body: await res.json() };
}

Deno.test({
  name: "kcl-proxy starts while Kafka is down and /ready follows the cluster: 503, 200, 503 within 10 s, 200",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    using kafka = startKafka(3);
    kafka.setBrokerDown(-1);
    const logger = testLogger();
    const proxy = await startKclProxy(kclTestConfig(kafka.brokers), { logger, keys: ApiKeys.fromText(KEYS, logger) });
    try {
      const down = await readyBody(proxy.handler);
      assert.equal(down.status, 503);
      assert.equal(down.body.checks.kafka, false);
      kafka.setBrokerUp(-1);
      await waitUntil(
        async () => (await readyBody(proxy.handler)).status === 200,
        15_000,
        "/ready 200 once Kafka answers",
      );
      kafka.setBrokerDown(-1);
      const cut = Date.now();
      await waitUntil(
        async () => (await readyBody(proxy.handler)).status === 503,
        12_000,
        "/ready 503 after the outage",
      );
      assert.ok(Date.now() - cut <= 10_000, `503 after ${Date.now() - cut} ms`);
      kafka.setBrokerUp(-1);
      await waitUntil(async () => (await readyBody(proxy.handler)).status === 200, 15_000, "/ready 200 after recovery");
    } finally {
      kafka.setBrokerUp(-1);
      await proxy.stop();
    }
  },
});

Deno.test({
  name: "kcl-proxy against a cluster that refuses its password: one error line, /ready 503, no secret, then recovery",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    using kafka = startKafka(1);
    await using certs = await makeTestCerts();
    const secret = "the-Right-passw0rd";
    await using gw = await startKafkaGateway({
      upstream: kafka.bootstrapServers,
      tls: { cert: certs.serverCert, key: certs.serverKey },
      sasl: { mechanisms: ["SCRAM-SHA-256"], users: { kcl: "something-else" } },
    });
    const topic = uniqueTopic("ready");
    kafka.createTopic(topic, 1);
    const lines: string[] = [];
    const logger = createLogger({ write: (l) => lines.push(l) });
    const proxy = await startKclProxy(
      kclTestConfig(gw.brokers, {
        kafkaSecurity: {
          protocol: "SASL_SSL",
          tls: { caCerts: [certs.ca], verifyHostname: true },
          sasl: { mechanism: "SCRAM-SHA-256", username: "kcl", password: secret },
        },
      }),
      { logger, keys: ApiKeys.fromText(KEYS, logger), kafkaProbeIntervalMs: 500, producerRetries: 1 },
    );
    const post = () =>
      postEvents(proxy.handler, { apiKey: API_KEY, appId: "R", realm: "prod", topic }, {
        sourceSystem: "s",
        sourceSystemId: "i",
        authId: 1,
        priority: 30,
        data: {},
      });
    try {
      await waitUntil(
        () => Promise.resolve(lines.some((l) => l.includes("waiting for Kafka"))),
        10_000,
        "a retry line",
      );
      const refused = await readyBody(proxy.handler);
      assert.equal(refused.status, 503);
      const failed = await post();
      assert.equal((await failed.json()).results[0].status, "failed");
      const text = lines.join("\n");
      assert.match(text, /SASL SCRAM-SHA-256 authentication with 127\.0\.0\.1:\d+ failed: SASL_AUTHENTICATION_FAILED/);
      assert.ok(!text.includes(secret), "the password is never logged");
      // Retried every 500 ms meanwhile, yet the producer's error line for this broker and cause appears once.
      const errors = lines.filter((l) => l.includes('"level":"error"'));
      assert.equal(errors.length, 1, errors.join("\n"));
      const metrics = await (await proxy.handler(new Request("http://proxy/metrics"))).text();
      assert.ok(!metrics.includes(secret));

      gw.setPassword("kcl", secret);
      await waitUntil(async () => (await readyBody(proxy.handler)).status === 200, 15_000, "/ready 200 after the fix");
      const ok = await post();
      assert.equal((await ok.json()).results[0].status, "produced");
    } finally {
      await proxy.stop();
    }
  },
});

for (
  const [name, broken, reason] of [
    ["an unsupported mechanism", "mechanism", /does not enable SCRAM-SHA-256 \(it enables PLAIN\)/],
    ["an untrusted certificate", "untrusted", /TLS handshake with 127\.0\.0\.1:\d+ failed: .*UnknownIssuer/],
    [
      "a host-name mismatch",
      "wrong-host",
      /TLS handshake with 127\.0\.0\.1:\d+ failed: .*(NotValidForName|not valid for)/i,
    ],
  ] as const
) {
  Deno.test({
    name: `kcl-proxy against ${name}: the error line, /ready 503, and recovery once the cluster accepts it`,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      using kafka = startKafka(1);
      await using certs = await makeTestCerts();
      const secret = "another-Secret-pw";
      const good = {
        tls: { cert: certs.serverCert, key: certs.serverKey },
        sasl: { mechanisms: ["SCRAM-SHA-256" as const], users: { kcl: secret } },
      };
      const bad = broken === "mechanism"
        ? { ...good, sasl: { ...good.sasl, mechanisms: ["PLAIN" as const] } }
        : broken === "untrusted"
        ? { ...good, tls: { cert: certs.untrustedCert, key: certs.untrustedKey } }
        : { ...good, tls: { cert: certs.wrongHostCert, key: certs.wrongHostKey } };
      const first = await startKafkaGateway({ upstream: kafka.bootstrapServers, ...bad });
      const lines: string[] = [];
      const logger = createLogger({ write: (l) => lines.push(l) });
      const proxy = await startKclProxy(
        kclTestConfig(first.brokers, {
          kafkaSecurity: {
            protocol: "SASL_SSL",
            tls: { caCerts: [certs.ca], verifyHostname: true },
            sasl: { mechanism: "SCRAM-SHA-256", username: "kcl", password: secret },
          },
        }),
        { logger, keys: ApiKeys.fromText(KEYS, logger), kafkaProbeIntervalMs: 300 },
      );
      let second: Awaited<ReturnType<typeof startKafkaGateway>> | undefined;
      try {
        await waitUntil(() => Promise.resolve(lines.some((l) => reason.test(l))), 10_000, "the error line");
        assert.equal((await readyBody(proxy.handler)).status, 503);
        assert.ok(!lines.join("\n").includes(secret));
        // The operator fixes the cluster side: the same address now accepts the proxy.
        const ports = first.brokers.map((b) => Number(b.split(":")[1]));
        await first.close();
        second = await startKafkaGateway({ upstream: kafka.bootstrapServers, ports, ...good });
        await waitUntil(
          async () => (await readyBody(proxy.handler)).status === 200,
          15_000,
          "/ready 200 after the fix",
        );
      } finally {
        await proxy.stop();
        await first.close();
        await second?.close();
      }
    },
  });
}
