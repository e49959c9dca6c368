/**
 * The product's producer over TLS and SASL, through the gateway (proven with kcat and kafkajs in
 * kafka_gateway_test.ts): every mechanism and mutual TLS produce what kcat reads back; a wrong password, an
 * unsupported mechanism, an untrusted certificate and a host-name mismatch fail with a clear error logged once per
 * broker and cause, never the secret; fixing the server side lets the same producer recover without a restart.
 * @module
 */
import assert from "node:assert/strict";
import { brokerSecurity, type KafkaSecurityConfig } from "../lib/kafka/security.ts";
import { WireProducer } from "../lib/kafka/wire_producer.ts";
import { createLogger } from "../lib/log.ts";
import { makeTestCerts, type TestCerts } from "../testing/certs.ts";
import { type KafkaGatewayOptions, startKafkaGateway } from "../testing/kafka_gateway.ts";
import { kcatRead, startKafka, uniqueTopic } from "../testing/harness.ts";
import { startTokenEndpoint } from "../testing/oidc.ts";

const SECRET = "s3cret-Pa55word";

/** A producer through `gateway` with `security`, its log lines captured. */
function producerFor(brokers: string[], security: KafkaSecurityConfig) {
  const lines: string[] = [];
  const logger = createLogger({ write: (line) => lines.push(line) });
  const producer = new WireProducer({
    brokers,
    clientId: "security-test",
    logger,
    security: brokerSecurity(security),
    retry: { retries: 1, initialRetryTime: 50, maxRetryTime: 100 },
    connectionTimeoutMs: 3000,
  });
  return { producer, lines };
}

async function sendAndRead(
  kafka: { bootstrapServers: string; createTopic(t: string, p: number): void },
  producer: WireProducer,
  tag: string,
) {
  const topic = uniqueTopic(tag);
  kafka.createTopic(topic, 3);
  const records = Array.from({ length: 20 }, (_, i) => ({
    topic,
    key: `k${i}`,
    value: `${tag}-${i}`,
    headers: { h: `v${i}` },
  }));
  const deliveries = await producer.send(records);
  assert.ok(deliveries.every((d) => d.ok), JSON.stringify(deliveries.filter((d) => !d.ok)));
  const got = await kcatRead(kafka.bootstrapServers, topic, { expected: 20, timeoutMs: 15_000 });
  assert.deepEqual(got.map((m) => m.value).sort(), records.map((r) => r.value).sort());
  assert.ok(got.every((m) => m.headers.h === `v${m.key!.slice(1)}`));
}

function tlsConfig(certs: TestCerts, extra: Partial<KafkaSecurityConfig["tls"]> = {}) {
  return { caCerts: [certs.ca], verifyHostname: true, ...extra };
}

Deno.test({
  name: "WireProducer produces over SASL_SSL (PLAIN, SCRAM-SHA-256/512, OAUTHBEARER) and mutual TLS",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    using kafka = startKafka(3);
    await using certs = await makeTestCerts();
    await using oidc = await startTokenEndpoint({ clientId: "svc", clientSecret: SECRET, lifetimeS: 60 });
    const tls: KafkaGatewayOptions["tls"] = { cert: certs.serverCert, key: certs.serverKey };
    for (const mechanism of ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] as const) {
      await t.step(mechanism, async () => {
        await using gw = await startKafkaGateway({
          upstream: kafka.bootstrapServers,
          tls,
          sasl: { mechanisms: [mechanism], users: { alice: SECRET } },
        });
        const { producer, lines } = producerFor(gw.brokers, {
          protocol: "SASL_SSL",
          tls: tlsConfig(certs),
          sasl: { mechanism, username: "alice", password: SECRET },
        });
        await producer.connect();
        try {
          await sendAndRead(kafka, producer, mechanism.toLowerCase());
          assert.ok((gw.authentications.get(mechanism) ?? 0) >= 1);
          assert.ok(!lines.join("\n").includes(SECRET));
        } finally {
          await producer.disconnect();
        }
      });
    }
    await t.step("OAUTHBEARER with a client-credentials token", async () => {
      await using gw = await startKafkaGateway({
        upstream: kafka.bootstrapServers,
        tls,
        sasl: { mechanisms: ["OAUTHBEARER"], verifyToken: (token) => oidc.verify(token) },
      });
      const { producer } = producerFor(gw.brokers, {
        protocol: "SASL_SSL",
        tls: tlsConfig(certs),
        sasl: { mechanism: "OAUTHBEARER", tokenUrl: oidc.url, clientId: "svc", clientSecret: SECRET },
      });
      await producer.connect();
      try {
        await sendAndRead(kafka, producer, "oauth");
        assert.equal(oidc.issued, 1, "one token shared by every broker connection");
      } finally {
        await producer.disconnect();
      }
    });
    await t.step("mutual TLS", async () => {
      await using gw = await startKafkaGateway({
        upstream: kafka.bootstrapServers,
        tls: { ...tls, clientCa: certs.ca },
      });
      const { producer } = producerFor(gw.brokers, {
        protocol: "SSL",
        tls: tlsConfig(certs, { cert: certs.clientCert, key: certs.clientKey }),
      });
      await producer.connect();
      try {
        await sendAndRead(kafka, producer, "mtls");
      } finally {
        await producer.disconnect();
      }
      const { producer: noCert } = producerFor(gw.brokers, { protocol: "SSL", tls: tlsConfig(certs) });
      await assert.rejects(noCert.connect(), /TLS with 127\.0\.0\.1:\d+ failed: the broker sent .*CertificateRequired/);
    });
  },
});

Deno.test({
  name: "authentication and TLS failures are clear, logged once per broker and cause, never show the secret",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    using kafka = startKafka(1);
    await using certs = await makeTestCerts();
    await t.step(
      "a wrong password fails every record, then the producer recovers once the server accepts it",
      async () => {
        await using gw = await startKafkaGateway({
          upstream: kafka.bootstrapServers,
          tls: { cert: certs.serverCert, key: certs.serverKey },
          sasl: { mechanisms: ["SCRAM-SHA-512"], users: { alice: "the-old-password" } },
        });
        const { producer, lines } = producerFor(gw.brokers, {
          protocol: "SASL_SSL",
          tls: tlsConfig(certs),
          sasl: { mechanism: "SCRAM-SHA-512", username: "alice", password: SECRET },
        });
        await assert.rejects(producer.connect(), (e: Error) => {
          assert.match(
            e.message,
            /SASL SCRAM-SHA-512 authentication with 127\.0\.0\.1:\d+ failed: SASL_AUTHENTICATION_FAILED/,
          );
          assert.ok(!e.message.includes(SECRET));
          return true;
        });
        const topic = uniqueTopic("recover");
        kafka.createTopic(topic, 1);
        for (let i = 0; i < 3; i++) {
          const [d] = await producer.send([{ topic, value: `try-${i}` }]);
          assert.equal(d?.ok, false);
        }
        const errors = lines.filter((l) => l.includes('"level":"error"'));
        assert.equal(errors.length, 1, errors.join("\n"));
        assert.match(errors[0]!, /cannot authenticate with a Kafka broker.*"broker":"127\.0\.0\.1:\d+".*SCRAM-SHA-512/);
        assert.ok(!lines.join("\n").includes(SECRET));

        gw.setPassword("alice", SECRET);
        const [ok] = await producer.send([{ topic, value: "after-fix" }]);
        assert.equal(ok?.ok, true, JSON.stringify(ok));
        assert.ok(lines.some((l) => l.includes("broker accepts us again")));
        await producer.disconnect();
      },
    );

    await t.step("an unsupported mechanism names what the broker enables", async () => {
      await using gw = await startKafkaGateway({
        upstream: kafka.bootstrapServers,
        tls: { cert: certs.serverCert, key: certs.serverKey },
        sasl: { mechanisms: ["SCRAM-SHA-256"], users: { alice: SECRET } },
      });
      const { producer } = producerFor(gw.brokers, {
        protocol: "SASL_SSL",
        tls: tlsConfig(certs),
        sasl: { mechanism: "PLAIN", username: "alice", password: SECRET },
      });
      await assert.rejects(producer.connect(), /does not enable PLAIN \(it enables SCRAM-SHA-256\)/);
      await producer.disconnect();
    });

    for (
      const [name, cert, key, reason] of [
        ["an untrusted certificate", certs.untrustedCert, certs.untrustedKey, /UnknownIssuer|unknown issuer/i],
        ["a host-name mismatch", certs.wrongHostCert, certs.wrongHostKey, /NotValidForName|not valid for/i],
      ] as const
    ) {
      await t.step(`${name} fails the TLS handshake with the reason`, async () => {
        await using gw = await startKafkaGateway({ upstream: kafka.bootstrapServers, tls: { cert, key } });
        const { producer } = producerFor(gw.brokers, { protocol: "SSL", tls: tlsConfig(certs) });
        await assert.rejects(producer.connect(), (e: Error) => {
          assert.match(e.message, /TLS handshake with 127\.0\.0\.1:\d+ failed/);
          assert.match(e.message, reason);
          return true;
        });
        await producer.disconnect();
      });
    }

    await t.step(
      "endpoint identification none: the wrong host name is accepted, an untrusted chain still is not",
      async () => {
        await using gw = await startKafkaGateway({
          upstream: kafka.bootstrapServers,
          tls: { cert: certs.wrongHostCert, key: certs.wrongHostKey },
        });
        const { producer } = producerFor(gw.brokers, {
          protocol: "SSL",
          tls: tlsConfig(certs, { verifyHostname: false }),
        });
        await producer.connect();
        try {
          await sendAndRead(kafka, producer, "no-hostname-check");
        } finally {
          await producer.disconnect();
        }
        await using untrusted = await startKafkaGateway({
          upstream: kafka.bootstrapServers,
          tls: { cert: certs.untrustedCert, key: certs.untrustedKey },
        });
        const { producer: other } = producerFor(untrusted.brokers, {
          protocol: "SSL",
          tls: tlsConfig(certs, { verifyHostname: false }),
        });
        await assert.rejects(other.connect(), /UnknownIssuer|unknown issuer/i);
        await other.disconnect();
      },
    );
  },
});
