/**
 * Unit tests of the mock cluster's own API (argument checks, errors, lifecycle); its Kafka behaviour is tested in
 * tests/kafka_*_test.ts.
 * @module
 */
import assert from "node:assert/strict";
import { LibrdkafkaMissingError, MockKafkaCluster, MockKafkaError } from "./mock_cluster.ts";

Deno.test("LibrdkafkaMissingError gives the install command", () => {
  assert.match(new LibrdkafkaMissingError("not found").message, /apt-get install -y librdkafka1/);
});

Deno.test("MockKafkaCluster lifecycle and errors", () => {
  assert.throws(() => MockKafkaCluster.start({ brokers: 0 }), RangeError);
  const cluster = MockKafkaCluster.start({ brokers: 2 });
  try {
    assert.equal(cluster.brokerCount, 2);
    assert.equal(cluster.brokers.length, 2);
    cluster.createTopic("t", 2);
    assert.throws(() => cluster.createTopic("t", 2), (e: unknown) => e instanceof MockKafkaError && e.code === 36);
    assert.throws(() => cluster.setBrokerDown(9), /BROKER_NOT_AVAILABLE/);
    cluster.setBrokerDown(2);
    cluster.setBrokerUp(2);
    cluster.setRtt(-1, 0);
    cluster.pushRequestErrors(0, []);
  } finally {
    cluster.close();
  }
  assert.equal(cluster.closed, true);
  cluster.close();
  assert.throws(() => cluster.createTopic("u"), /closed/);
});
