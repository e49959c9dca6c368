import assert from "node:assert/strict";
import { kafkaCheck } from "./diagnosis.ts";

Deno.test("kafkaCheck tells each failure apart, in the wire client's words and in kafkajs's", () => {
  const cases: Array<[cause: string, advice: RegExp]> = [
    ["cannot connect to 127.0.0.1:9092: Connection refused (os error 111)", /^nothing accepts connections there/],
    ["Connection error: connect ECONNREFUSED 127.0.0.1:9092", /^nothing accepts connections there/],
    ["getaddrinfo ENOTFOUND kafka.internal", /^a broker host name does not resolve/],
    ["cannot connect to kafka.internal:9092: failed to lookup address information", /does not resolve/],
    ["connection to 127.0.0.1:9092 lost: impossible response size 1213486160", /a Kafka listener \(not an HTTP/],
    ["connection to 127.0.0.1:9092 lost: no response within 3000 ms", /^no Kafka answer in time/],
    ["connecting to 10.0.0.1:9092 timed out after 3000 ms", /^no Kafka answer in time/],
    ["Request Metadata(key: 3, version: 6) timed out", /^no Kafka answer in time/],
    ["TLS handshake with 127.0.0.1:9093 failed: invalid peer certificate: UnknownIssuer", /^TLS failed/],
    ["self-signed certificate in certificate chain", /^TLS failed/],
    ["SASL SCRAM-SHA-512 authentication with 127.0.0.1:9094 failed: Authentication failed", /refused our credentials/],
    ["SASL PLAIN authentication failed: Authentication failed during authentication", /refused our credentials/],
    ["something nobody foresaw", /^check the addresses in X, that Kafka is running/],
  ];
  for (const [cause, advice] of cases) assert.match(kafkaCheck(cause, "X"), advice, cause);
  assert.match(kafkaCheck("Connection refused"), /check the addresses in the broker list/);
});
