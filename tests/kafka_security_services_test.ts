/**
 * The services against a Kafka that needs TLS and SASL (the gateway in front of the mock cluster): the kcl-proxy's
 * immediate and batched classes over SASL_SSL PLAIN, on its producer worker and on the calling-thread fallback;
 * the router (`mock` and `start` configurations) over SASL_SSL SCRAM-SHA-512 and over mutual TLS, its consumer group
 * and its produces both through the gateway, read back by kcat through the gateway.
 * @module
 */
import assert from "node:assert/strict";
import type { KafkaSecurityConfig } from "../lib/kafka/security.ts";
import { ApiKeys } from "../lib/kcl/api_keys.ts";
import { startKclProxy } from "../lib/kcl/service.ts";
import { startRouter } from "../lib/router/service.ts";
import { makeTestCerts } from "../testing/certs.ts";
import { FakeHouston, routerTestConfig } from "../testing/houston.ts";
import { startKafkaGateway } from "../testing/kafka_gateway.ts";
import { apiKeyEntry, apiKeysFile, kclTestConfig, postEvents } from "../testing/kcl.ts";
import {
  kcatProduce,
  kcatRead,
  kcatSecurity,
  spawnMockRouter,
  startKafka,
  testLogger,
  uniqueTopic,
  waitForHttpOk,
  waitUntil,
  withTimeout,
} from "../testing/harness.ts";
import { startTokenEndpoint } from "../testing/oidc.ts";
import { createLogger } from "../lib/log.ts";
import { createRegistry } from "../lib/metrics.ts";

const PASSWORD = "kafka-Pa55-secret";
const API_KEY = "k-security-test-0123456789";

for (const producerThread of ["worker", "main"] as const) {
  Deno.test({
    name: `kcl-proxy produces immediate and batched events over SASL_SSL PLAIN (${producerThread} thread)`,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      using kafka = startKafka(3);
      await using certs = await makeTestCerts();
      await using gw = await startKafkaGateway({
        upstream: kafka.bootstrapServers,
        tls: { cert: certs.serverCert, key: certs.serverKey },
        sasl: { mechanisms: ["PLAIN"], users: { "api-key": PASSWORD } },
      });
      const topic = uniqueTopic("kcl-sasl");
      kafka.createTopic(topic, 3);
      const security: KafkaSecurityConfig = {
        protocol: "SASL_SSL",
        tls: { caCerts: [certs.ca], verifyHostname: true },
        sasl: { mechanism: "PLAIN", username: "api-key", password: PASSWORD },
      };
      const logger = testLogger();
      const keys = apiKeysFile(apiKeyEntry(API_KEY, { id: "sec", clientId: "SEC", topics: ["kcl-sasl-*"] }));
      const proxy = await startKclProxy(kclTestConfig(gw.brokers, { kafkaSecurity: security }), {
        logger,
        keys: ApiKeys.fromText(keys, logger),
        producerThread,
      });
      try {
        const post = (body: unknown) =>
          postEvents(proxy.handler, { apiKey: API_KEY, appId: "SEC", realm: "prod", topic }, body);
        const event = (i: number, priority: number) => ({
          sourceSystem: "app",
          sourceSystemId: "login",
          authId: i,
          priority,
          requestId: `r-${i}`,
          data: { n: i },
        });
        const immediate = await post(event(1, 30));
        assert.equal(immediate.status, 200, await immediate.clone().text());
        assert.equal((await immediate.json()).results[0].status, "produced");
        const batched = await post([event(2, 25), event(3, 10), event(4, 15)]);
        assert.equal(batched.status, 202);
        const config = kcatSecurity(certs.caFile, { username: "api-key", password: PASSWORD });
        const got = await kcatRead(gw.bootstrapServers, topic, { expected: 4, timeoutMs: 20_000, config });
        assert.deepEqual(got.map((m) => m.headers["kcl-request-id"]).sort(), ["r-1", "r-2", "r-3", "r-4"]);
        assert.ok((gw.authentications.get("PLAIN") ?? 0) >= 2);
      } finally {
        await proxy.stop();
      }
    },
  });
}

for (
  const [transport, command] of [
    ["SASL_SSL SCRAM-SHA-512", "mock"],
    ["SASL_SSL SCRAM-SHA-512", "start"],
    ["mutual TLS", "mock"],
    ["mutual TLS", "start"],
  ] as const
) {
  Deno.test({
    name: `router (${command}) consumes and routes over ${transport}`,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      using kafka = startKafka(3);
      await using certs = await makeTestCerts();
      const scram = transport.startsWith("SASL");
      const withHouston = command === "start";
      await using gw = await startKafkaGateway({
        upstream: kafka.bootstrapServers,
        tls: { cert: certs.serverCert, key: certs.serverKey, ...(scram ? {} : { clientCa: certs.ca }) },
        // PLAIN too, for kcat: Debian's kcat cannot do SCRAM against a strict server (see kafka_gateway_test.ts).
        ...(scram
          ? { sasl: { mechanisms: ["SCRAM-SHA-512" as const, "PLAIN" as const], users: { router: PASSWORD } } }
          : {}),
      });
      const security: KafkaSecurityConfig = scram
        ? {
          protocol: "SASL_SSL",
          tls: { caCerts: [certs.ca], verifyHostname: true },
          sasl: { mechanism: "SCRAM-SHA-512", username: "router", password: PASSWORD },
        }
        : {
          protocol: "SSL",
          tls: { caCerts: [certs.ca], cert: certs.clientCert, key: certs.clientKey, verifyHostname: true },
        };
      const kcatConfig: Record<string, string> = scram
        ? kcatSecurity(certs.caFile, { username: "router", password: PASSWORD })
        : {
          ...kcatSecurity(certs.caFile),
          "ssl.certificate.location": certs.clientCertFile,
          "ssl.key.location": certs.clientKeyFile,
        };
      const ingest = uniqueTopic("ingest");
      const [seg, amp] = [uniqueTopic("seg"), uniqueTopic("amp")];
      kafka.createTopic(ingest, 3);
      kafka.createTopic(seg, 2);
      kafka.createTopic(amp, 2);
      const houston = withHouston ? await FakeHouston.start({ apiKey: "h-key" }) : undefined;
      houston?.setDefault([{ name: "Segment", topic: seg, enabled: true }, {
        name: "Amplitude",
        topic: amp,
        enabled: true,
      }]);
      try {
        const config = routerTestConfig({
          bootstrap: gw.bootstrapServers,
          ingestionTopic: ingest,
          groupId: uniqueTopic("group"),
          houston,
          integrations: withHouston ? undefined : [{ name: "Segment", topic: seg }, { name: "Amplitude", topic: amp }],
          kafkaSecurity: security,
        });
        const router = await startRouter(config, { logger: testLogger() });
        try {
          const input = Array.from({ length: 50 }, (_, i) => ({
            key: `k${i}`,
            value: JSON.stringify({ appId: `app-${i % 3}`, messageId: `m${i}` }),
          }));
          // Written straight to the cluster: only the router's own connections go through the gateway.
          await kcatProduce(kafka.bootstrapServers, ingest, input);
          for (const topic of [seg, amp]) {
            const got = await kcatRead(gw.bootstrapServers, topic, {
              expected: 50,
              timeoutMs: 30_000,
              config: kcatConfig,
            });
            assert.deepEqual(got.map((m) => m.value).sort(), input.map((e) => e.value).sort());
          }
          assert.deepEqual(router.ready(), { consumer: true, kafka: true });
          // The router's consumer (kafkajs) and producer (wire) both authenticated.
          if (scram) assert.ok((gw.authentications.get("SCRAM-SHA-512") ?? 0) >= 2);
        } finally {
          await router.stop();
        }
      } finally {
        await houston?.close();
      }
    },
  });
}

Deno.test({
  name: "kcl-proxy over OAUTHBEARER with 5 s tokens: a bounded 20 s load has no failed request across renewals",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    using kafka = startKafka(3);
    await using certs = await makeTestCerts();
    await using oidc = await startTokenEndpoint({ clientId: "kcl", clientSecret: PASSWORD, lifetimeS: 5 });
    // The gateway announces each session's lifetime as the token's (KIP-368) and closes sessions that outlive it.
    await using gw = await startKafkaGateway({
      upstream: kafka.bootstrapServers,
      tls: { cert: certs.serverCert, key: certs.serverKey },
      sasl: { mechanisms: ["OAUTHBEARER"], verifyToken: (token) => oidc.verify(token) },
    });
    const topic = uniqueTopic("kcl-sasl-oauth");
    kafka.createTopic(topic, 3);
    const logger = testLogger();
    const keys = JSON.stringify({
      keys: [{ id: "o", key: API_KEY, clientId: "SEC", realms: ["prod"], topics: ["kcl-sasl-*"] }],
    });
    const proxy = await startKclProxy(
      kclTestConfig(gw.brokers, {
        kafkaSecurity: {
          protocol: "SASL_SSL",
          tls: { caCerts: [certs.ca], verifyHostname: true },
          sasl: { mechanism: "OAUTHBEARER", tokenUrl: oidc.url, clientId: "kcl", clientSecret: PASSWORD },
        },
      }),
      { logger, keys: ApiKeys.fromText(keys, logger) },
    );
    const statuses = new Map<string, number>();
    let sent = 0;
    try {
      const until = Date.now() + 20_000;
      const loop = async (lane: number) => {
        for (let i = 0; Date.now() < until && i < 5_000; i++) {
          const res = await postEvents(proxy.handler, { apiKey: API_KEY, appId: "SEC", realm: "prod", topic }, {
            sourceSystem: "load",
            sourceSystemId: "x",
            authId: lane * 10_000 + i,
            priority: 30,
            data: {},
          });
          const status = (await res.json()).results?.[0]?.status ?? `http-${res.status}`;
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
          sent++;
          await new Promise((r) => setTimeout(r, 20));
        }
      };
      await Promise.all([loop(0), loop(1), loop(2), loop(3)]);
    } finally {
      await proxy.stop();
    }
    assert.deepEqual([...statuses.keys()], ["produced"], JSON.stringify(Object.fromEntries(statuses)));
    assert.ok(sent > 200, `only ${sent} requests in 20 s`);
    // Tokens were renewed (5 s each over 20 s), and connections re-authenticated with them.
    assert.ok(oidc.issued >= 4, `${oidc.issued} tokens issued`);
    assert.ok(
      (gw.authentications.get("OAUTHBEARER") ?? 0) >= 8,
      `${gw.authentications.get("OAUTHBEARER")} authentications`,
    );
    // KIP-368: every connection was replaced before its session ended; the gateway never had to cut one.
    assert.equal(gw.expiredSessions, 0);
    const got = await kcatRead(kafka.bootstrapServers, topic, { expected: sent, timeoutMs: 30_000 });
    assert.equal(got.length, sent);
  },
});

Deno.test({
  name:
    "event-router mock over SASL_SSL SCRAM-SHA-512 from the environment (password from a _FILE), no secret in its output",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    using kafka = startKafka(1);
    await using certs = await makeTestCerts();
    await using gw = await startKafkaGateway({
      upstream: kafka.bootstrapServers,
      tls: { cert: certs.serverCert, key: certs.serverKey },
      sasl: { mechanisms: ["SCRAM-SHA-512", "PLAIN"], users: { router: PASSWORD } },
    });
    const ingest = uniqueTopic("ingest");
    const seg = uniqueTopic("seg");
    kafka.createTopic(ingest, 1);
    kafka.createTopic(seg, 1);
    const passwordFile = `${certs.dir}/password`;
    await Deno.writeTextFile(passwordFile, `${PASSWORD}\n`);
    const router = spawnMockRouter(`Segment:${seg}`, {
      ER_BOOTSTRAP_SERVERS: gw.bootstrapServers,
      ER_KAFKA_GROUP_ID: uniqueTopic("group"),
      ER_KAFKA_INGESTION_TOPIC: ingest,
      ER_KAFKA_SECURITY_PROTOCOL: "SASL_SSL",
      ER_KAFKA_SASL_MECHANISM: "SCRAM-SHA-512",
      ER_KAFKA_SASL_USERNAME: "router",
      ER_KAFKA_SASL_PASSWORD_FILE: passwordFile,
      ER_KAFKA_SSL_CA_LOCATION: certs.caFile,
    });
    try {
      await waitForHttpOk(`${router.url}/ready`, 60_000, "the router to be ready over SASL_SSL");
      await kcatProduce(kafka.bootstrapServers, ingest, [{ key: "k", value: '{"appId":"a","messageId":"m1"}' }]);
      const got = await kcatRead(gw.bootstrapServers, seg, {
        expected: 1,
        timeoutMs: 20_000,
        config: kcatSecurity(certs.caFile, { username: "router", password: PASSWORD }),
      });
      assert.equal(got[0]?.value, '{"appId":"a","messageId":"m1"}');
      const metrics = await (await fetch(`${router.url}/metrics`)).text();
      assert.ok(!metrics.includes(PASSWORD));
    } finally {
      router.kill("SIGTERM");
    }
    const { code, text } = await withTimeout(router.exit(), 30_000, "the router to exit");
    assert.equal(code, 0, text.slice(-2000));
    assert.ok(!text.includes(PASSWORD), "the password never appears in the router's output");
    assert.ok((gw.authentications.get("SCRAM-SHA-512") ?? 0) >= 2);
  },
});

Deno.test({
  name:
    "router refused its password at start and while running: does not consume, one error line per cause, no secret, recovers without a restart",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    using kafka = startKafka(1);
    await using certs = await makeTestCerts();
    await using gw = await startKafkaGateway({
      upstream: kafka.bootstrapServers,
      tls: { cert: certs.serverCert, key: certs.serverKey },
      sasl: { mechanisms: ["SCRAM-SHA-512"], users: { router: "not-what-the-router-has" } },
    });
    const ingest = uniqueTopic("ingest");
    const seg = uniqueTopic("seg");
    kafka.createTopic(ingest, 1);
    kafka.createTopic(seg, 1);
    const lines: string[] = [];
    const logger = createLogger({ write: (l) => lines.push(l) });
    const config = routerTestConfig({
      bootstrap: gw.bootstrapServers,
      ingestionTopic: ingest,
      groupId: uniqueTopic("group"),
      integrations: [{ name: "Segment", topic: seg }],
      kafkaSecurity: {
        protocol: "SASL_SSL",
        tls: { caCerts: [certs.ca], verifyHostname: true },
        sasl: { mechanism: "SCRAM-SHA-512", username: "router", password: PASSWORD },
      },
    });
    const registry = createRegistry();
    const starting = startRouter(config, { logger, registry });
    let started = false;
    starting.then(() => started = true, () => {});
    await waitUntil(
      () => Promise.resolve(lines.some((l) => l.includes("cannot join the consumer group yet; retrying"))),
      60_000,
      "a retry line",
    );
    assert.equal(started, false);
    assert.ok(!lines.join("\n").includes(PASSWORD), "the password is never logged");
    gw.setPassword("router", PASSWORD);
    const router = await withTimeout(starting, 90_000, "the router to start once the password is accepted");
    try {
      await waitUntil(() => Object.values(router.ready()).every(Boolean), 20_000, "ready");
      await kcatProduce(kafka.bootstrapServers, ingest, [{ key: "k", value: '{"appId":"a","messageId":"m"}' }]);
      assert.equal((await kcatRead(kafka.bootstrapServers, seg, { expected: 1, timeoutMs: 20_000 })).length, 1);

      // While running: the password is rotated on the broker side and every connection cut.
      let crashed = false;
      router.fatal.catch(() => crashed = true);
      const mark = lines.length;
      gw.setPassword("router", "rotated-without-telling-the-router");
      gw.dropConnections();
      await waitUntil(() => Promise.resolve(!router.ready().consumer), 30_000, "the consumer to stop once refused");
      await waitUntil(() => Promise.resolve(!router.ready().kafka), 30_000, "the probe to see the refusal");
      await kcatProduce(kafka.bootstrapServers, ingest, [{ key: "k", value: '{"appId":"a","messageId":"m2"}' }]);
      await new Promise((r) => setTimeout(r, 8_000));
      const during = lines.slice(mark);
      const loud = during.filter((l) => !l.includes('"level":"debug"') && !l.includes('"level":"info"'));
      // Once per cause: the consumer's stop and the probe's verdict (naming the broker, the mechanism and the broker's
      // message); kafkajs' own lines about it, several per attempt, stay at debug.
      assert.equal(loud.length, 2, loud.join("\n"));
      assert.ok(loud.every((l) => l.includes('"level":"error"')), loud.join("\n"));
      assert.ok(loud.some((l) => l.includes("refused the consumer's credentials")), loud.join("\n"));
      assert.match(loud.join("\n"), /SCRAM-SHA-512 authentication with 127\.0\.0\.1:\d+ failed/);
      assert.equal(crashed, false, "the router keeps running (and retrying) while refused");
      assert.equal(
        (await kcatRead(kafka.bootstrapServers, seg, { timeoutMs: 20_000 })).length,
        1,
        "nothing is consumed while refused",
      );

      gw.setPassword("router", PASSWORD);
      await waitUntil(() => Object.values(router.ready()).every(Boolean), 60_000, "ready again without a restart");
      const after = await kcatRead(kafka.bootstrapServers, seg, { expected: 2, timeoutMs: 30_000 });
      assert.deepEqual(after.map((m) => JSON.parse(m.value ?? "{}").messageId), ["m", "m2"]);
      assert.equal(crashed, false);
      assert.ok(!lines.join("\n").includes(PASSWORD));
    } finally {
      await router.stop();
    }
  },
});
