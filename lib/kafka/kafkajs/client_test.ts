/**
 * Unit tests of the kafkajs client factory: the mapping of kafkajs log levels.
 * @module
 */
import assert from "node:assert/strict";
import { createKafka } from "./client.ts";
import { createLogger } from "../../log.ts";
import { ManualClock } from "../../clock.ts";

Deno.test("createKafka sends kafkajs log lines through our logger at mapped levels", () => {
  const lines: { level: string; msg: string; component?: string; namespace?: string }[] = [];
  const logger = createLogger({ debug: true, write: (line) => lines.push(JSON.parse(line)) });
  const kafka = createKafka({ brokers: ["127.0.0.1:9"], clientId: "log-test", logger });
  const log = kafka.logger().namespace("Producer");
  log.info("info line");
  log.debug("debug line");
  log.warn("warn line");
  log.error("error line");
  log.error("retried line", { retryCount: 1 });
  kafka.logger().namespace("Connection").error("connection line");
  assert.deepEqual(lines.map((l) => [l.level, l.msg]), [
    ["debug", "info line"],
    ["debug", "debug line"],
    ["warn", "warn line"],
    ["error", "error line"],
    ["warn", "retried line"],
    ["warn", "connection line"],
  ]);
  assert.equal(lines[0]!.component, "kafkajs");
  assert.equal(lines[0]!.namespace, "Producer");
});

Deno.test("createKafka drops kafkajs debug lines when our logger has debug off", () => {
  const lines: string[] = [];
  const kafka = createKafka({
    brokers: ["127.0.0.1:9"],
    clientId: "log-test",
    logger: createLogger({ write: (line) => lines.push(line) }),
  });
  kafka.logger().info("info line");
  kafka.logger().warn("warn line");
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /warn line/);
});

Deno.test("createKafka shows a repeated kafkajs line once per 5 minutes, authentication failures and stacks at debug", () => {
  const lines: { level: string; msg: string; stack?: string }[] = [];
  const clock = new ManualClock(0);
  const logger = createLogger({ debug: true, write: (line) => lines.push(JSON.parse(line)) });
  const kafka = createKafka({ brokers: ["127.0.0.1:9"], clientId: "log-test", logger, clock });
  const log = kafka.logger().namespace("Connection");
  log.warn("Connection error: unknown issuer", { broker: "b1:9093" });
  log.warn("Connection error: unknown issuer", { broker: "b1:9093" });
  log.warn("Connection error: unknown issuer", { broker: "b2:9093" });
  clock.advance(5 * 60_000);
  log.warn("Connection error: unknown issuer", { broker: "b1:9093" });
  kafka.logger().namespace("SaslAuthenticator").error("SASL PLAIN authentication failed: bad password");
  kafka.logger().namespace("Consumer").error("Crash: something", { stack: "at kafkajs/src/x.js:1" });
  assert.deepEqual(lines.map((l) => [l.level, l.msg]), [
    ["warn", "Connection error: unknown issuer"],
    ["debug", "Connection error: unknown issuer"],
    ["warn", "Connection error: unknown issuer"],
    ["warn", "Connection error: unknown issuer"],
    ["debug", "SASL PLAIN authentication failed: bad password"],
    ["error", "Crash: something"],
  ]);
  assert.equal(lines.at(-1)!.stack, undefined, "no kafkajs stack trace above debug");
});
