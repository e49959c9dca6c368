/**
 * The shared Kafka security settings: defaults, every mechanism, *_FILE secrets, flags, and each refused
 * combination listed at once, never with a secret's value.
 * @module
 */
import assert from "node:assert/strict";
import { loadKafkaSecurity } from "./kafka_security.ts";

const CERT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
const KEY = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n";
const files: Record<string, string> = {
  "/ca.pem": CERT,
  "/client.pem": CERT,
  "/client.key": KEY,
  "/notpem.txt": "hello",
  "/secret": "from-file-secret\n",
};
const readFile = (path: string) => {
  const text = files[path];
  if (text === undefined) throw new Error("No such file or directory (os error 2)");
  return text;
};
const load = (env: Record<string, string>, flags: Record<string, unknown> = {}) =>
  loadKafkaSecurity("KCL_", env, flags, readFile);

Deno.test("no settings mean PLAINTEXT", () => {
  assert.deepEqual(load({}), { config: { protocol: "PLAINTEXT" }, problems: [] });
});

Deno.test("SASL_SSL with each mechanism, CA and client certificate, and endpoint identification", () => {
  const scram = load({
    KCL_KAFKA_SECURITY_PROTOCOL: "sasl_ssl",
    KCL_KAFKA_SASL_MECHANISM: "SCRAM-SHA-512",
    KCL_KAFKA_SASL_USERNAME: "alice",
    KCL_KAFKA_SASL_PASSWORD: "pw",
    KCL_KAFKA_SSL_CA_LOCATION: "/ca.pem",
    KCL_KAFKA_SSL_CERTIFICATE_LOCATION: "/client.pem",
    KCL_KAFKA_SSL_KEY_LOCATION: "/client.key",
    KCL_KAFKA_SSL_ENDPOINT_IDENTIFICATION_ALGORITHM: "none",
  });
  assert.deepEqual(scram, {
    config: {
      protocol: "SASL_SSL",
      tls: { verifyHostname: false, caCerts: [CERT], cert: CERT, key: KEY },
      sasl: { mechanism: "SCRAM-SHA-512", username: "alice", password: "pw" },
    },
    problems: [],
  });
  const oauth = load({
    KCL_KAFKA_SECURITY_PROTOCOL: "SASL_PLAINTEXT",
    KCL_KAFKA_SASL_MECHANISM: "OAUTHBEARER",
    KCL_KAFKA_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL: "https://idp.example/token",
    KCL_KAFKA_SASL_OAUTHBEARER_CLIENT_ID: "svc",
    KCL_KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET_FILE: "/secret",
    KCL_KAFKA_SASL_OAUTHBEARER_SCOPE: "kafka",
  });
  assert.deepEqual(oauth.config?.sasl, {
    mechanism: "OAUTHBEARER",
    tokenUrl: "https://idp.example/token",
    clientId: "svc",
    clientSecret: "from-file-secret",
    scope: "kafka",
  });
});

Deno.test("flags win over the environment; secrets come from --...-file flags", () => {
  const r = load(
    { KCL_KAFKA_SECURITY_PROTOCOL: "SSL" },
    {
      "kafka-security-protocol": "SASL_PLAINTEXT",
      "kafka-sasl-mechanism": "PLAIN",
      "kafka-sasl-username": "u",
      "kafka-sasl-password-file": "/secret",
    },
  );
  assert.deepEqual(r.config, {
    protocol: "SASL_PLAINTEXT",
    sasl: { mechanism: "PLAIN", username: "u", password: "from-file-secret" },
  });
});

Deno.test("every refused combination is listed at once, naming the setting, never the secret", () => {
  const r = load({
    KCL_KAFKA_SECURITY_PROTOCOL: "SSL",
    KCL_KAFKA_SASL_MECHANISM: "PLAIN",
    KCL_KAFKA_SASL_PASSWORD: "hunter2-secret",
    KCL_KAFKA_SASL_PASSWORD_FILE: "/secret",
    KCL_KAFKA_SSL_CA_LOCATION: "/missing.pem",
    KCL_KAFKA_SSL_KEY_LOCATION: "/client.key",
    KCL_KAFKA_SSL_ENDPOINT_IDENTIFICATION_ALGORITHM: "sometimes",
  });
  assert.equal(r.config, undefined);
  const text = r.problems.join("\n");
  assert.match(
    text,
    /KCL_KAFKA_SASL_MECHANISM: needs KCL_KAFKA_SECURITY_PROTOCOL SASL_SSL or SASL_PLAINTEXT \(it is SSL\)/,
  );
  assert.match(text, /KCL_KAFKA_SASL_PASSWORD and KCL_KAFKA_SASL_PASSWORD_FILE: both are set/);
  assert.match(text, /KCL_KAFKA_SSL_CA_LOCATION: cannot read "\/missing.pem"/);
  assert.match(text, /KCL_KAFKA_SSL_KEY_LOCATION: a client key needs its certificate/);
  assert.match(text, /KCL_KAFKA_SSL_ENDPOINT_IDENTIFICATION_ALGORITHM: "sometimes" is invalid/);
  assert.ok(!text.includes("hunter2-secret"));

  const sasl = load({ KCL_KAFKA_SECURITY_PROTOCOL: "SASL_SSL", KCL_KAFKA_SSL_CA_LOCATION: "/notpem.txt" });
  assert.deepEqual(sasl.problems, [
    "KCL_KAFKA_SASL_MECHANISM: is required with SASL_SSL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER)",
    'KCL_KAFKA_SSL_CA_LOCATION: "/notpem.txt" holds no PEM certificate',
  ]);
  const creds = load({ KCL_KAFKA_SECURITY_PROTOCOL: "SASL_SSL", KCL_KAFKA_SASL_MECHANISM: "SCRAM-SHA-256" });
  assert.deepEqual(creds.problems, [
    "KCL_KAFKA_SASL_USERNAME: is required with SASL mechanism SCRAM-SHA-256",
    "KCL_KAFKA_SASL_PASSWORD: is required with SASL mechanism SCRAM-SHA-256",
  ]);
  assert.match(load({ KCL_KAFKA_SECURITY_PROTOCOL: "TLS" }).problems[0]!, /"TLS" is invalid \(expected PLAINTEXT, SSL/);
});
