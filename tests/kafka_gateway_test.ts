/**
 * The TLS/SASL gateway proven with independent clients before any test relies on it: kcat (librdkafka) over SSL,
 * mutual TLS and SASL_SSL with PLAIN; kafkajs over SASL_SSL with SCRAM-SHA-512 (Debian's kcat sends a SCRAM final
 * message a strict server rejects, so kafkajs is the SCRAM witness), including a consumer group, which needs the
 * gateway's FindCoordinator rewriting. Wrong credentials and missing client certificates are refused.
 * @module
 */
import assert from "node:assert/strict";
import { Kafka, logLevel } from "kafkajs";
import { makeTestCerts } from "../testing/certs.ts";
import { startKafkaGateway } from "../testing/kafka_gateway.ts";
import { kcatProduce, kcatRead, startKafka, uniqueTopic, withTimeout } from "../testing/harness.ts";

const messages = (n: number, tag: string) =>
  Array.from({ length: n }, (_, i) => ({ key: `k${i}`, value: `${tag}-${i}` }));

Deno.test({
  name: "kcat produces and consumes through the gateway over SSL, mutual TLS and SASL_SSL PLAIN",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    using kafka = startKafka(3);
    await using certs = await makeTestCerts();

    await t.step("SSL: server certificate checked against the test CA", async () => {
      await using gw = await startKafkaGateway({
        upstream: kafka.bootstrapServers,
        tls: { cert: certs.serverCert, key: certs.serverKey },
      });
      const topic = uniqueTopic("gw-ssl");
      kafka.createTopic(topic, 3);
      const config = { "security.protocol": "SSL", "ssl.ca.location": certs.caFile };
      await kcatProduce(gw.bootstrapServers, topic, messages(20, "ssl"), { config });
      const got = await kcatRead(gw.bootstrapServers, topic, { expected: 20, timeoutMs: 20_000, config });
      assert.deepEqual(got.map((m) => m.value).sort(), messages(20, "ssl").map((m) => m.value).sort());
    });

    await t.step("mutual TLS: a client certificate is required and accepted", async () => {
      await using gw = await startKafkaGateway({
        upstream: kafka.bootstrapServers,
        tls: { cert: certs.serverCert, key: certs.serverKey, clientCa: certs.ca },
      });
      const topic = uniqueTopic("gw-mtls");
      kafka.createTopic(topic, 1);
      const config = {
        "security.protocol": "SSL",
        "ssl.ca.location": certs.caFile,
        "ssl.certificate.location": certs.clientCertFile,
        "ssl.key.location": certs.clientKeyFile,
      };
      await kcatProduce(gw.bootstrapServers, topic, messages(5, "mtls"), { config });
      assert.equal((await kcatRead(gw.bootstrapServers, topic, { expected: 5, timeoutMs: 20_000, config })).length, 5);
      const withoutCert = { "security.protocol": "SSL", "ssl.ca.location": certs.caFile };
      await assert.rejects(
        kcatProduce(gw.bootstrapServers, topic, messages(1, "x"), { config: withoutCert, timeoutMs: 3000 }),
      );
    });

    await t.step("SASL_SSL PLAIN: the right password works, a wrong one is refused", async () => {
      await using gw = await startKafkaGateway({
        upstream: kafka.bootstrapServers,
        tls: { cert: certs.serverCert, key: certs.serverKey },
        sasl: { mechanisms: ["PLAIN"], users: { alice: "alice-secret" } },
      });
      const topic = uniqueTopic("gw-plain");
      kafka.createTopic(topic, 3);
      const config = {
        "security.protocol": "SASL_SSL",
        "ssl.ca.location": certs.caFile,
        "sasl.mechanisms": "PLAIN",
        "sasl.username": "alice",
        "sasl.password": "alice-secret",
      };
      await kcatProduce(gw.bootstrapServers, topic, messages(30, "plain"), { config });
      const got = await kcatRead(gw.bootstrapServers, topic, { expected: 30, timeoutMs: 20_000, config });
      assert.equal(got.length, 30);
      assert.ok((gw.authentications.get("PLAIN") ?? 0) >= 2);
      const before = gw.authentications.get("PLAIN");
      await assert.rejects(
        kcatProduce(gw.bootstrapServers, topic, messages(1, "x"), {
          config: { ...config, "sasl.password": "wrong" },
          timeoutMs: 3000,
        }),
        /brokers are down|Authentication/,
      );
      assert.equal(gw.authentications.get("PLAIN"), before, "the wrong password never authenticated");
    });
  },
});

Deno.test({
  name: "kafkajs produces and consumes in a group through the gateway over SASL_SSL SCRAM-SHA-512",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    using kafka = startKafka(3);
    await using certs = await makeTestCerts();
    await using gw = await startKafkaGateway({
      upstream: kafka.bootstrapServers,
      tls: { cert: certs.serverCert, key: certs.serverKey },
      sasl: { mechanisms: ["SCRAM-SHA-512", "SCRAM-SHA-256"], users: { bob: "bob-secret" } },
    });
    const topic = uniqueTopic("gw-scram");
    kafka.createTopic(topic, 3);
    const client = (password: string) =>
      new Kafka({
        clientId: "gateway-witness",
        brokers: gw.brokers,
        ssl: { ca: [certs.ca] },
        sasl: { mechanism: "scram-sha-512", username: "bob", password },
        logLevel: logLevel.NOTHING,
        retry: { retries: 1, initialRetryTime: 100 },
      });
    const producer = client("bob-secret").producer();
    await producer.connect();
    await producer.send({ topic, messages: messages(40, "scram") });
    await producer.disconnect();

    const consumer = client("bob-secret").consumer({ groupId: uniqueTopic("gw-group"), maxWaitTimeInMs: 200 });
    const seen: string[] = [];
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ eachMessage: ({ message }) => Promise.resolve(void seen.push(String(message.value))) });
    try {
      await withTimeout(
        (async () => {
          while (seen.length < 40) await new Promise((r) => setTimeout(r, 100));
        })(),
        30_000,
        "kafkajs to consume 40 messages through the gateway",
      );
    } finally {
      await consumer.disconnect();
    }
    assert.deepEqual(seen.sort(), messages(40, "scram").map((m) => m.value).sort());
    assert.ok((gw.authentications.get("SCRAM-SHA-512") ?? 0) >= 2);
    // Everything kafkajs wrote is on the real cluster, as an unauthenticated kcat sees it there.
    assert.equal((await kcatRead(kafka.bootstrapServers, topic, { expected: 40, timeoutMs: 15_000 })).length, 40);

    const wrong = client("not-bob's").producer();
    await assert.rejects(wrong.connect(), /SASL SCRAM SHA512 authentication failed|Authentication failed/i);
    await wrong.disconnect().catch(() => {});
  },
});
