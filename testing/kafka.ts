/**
 * The Kafka-protocol cluster for tests: librdkafka's mock cluster in this process, plus topic naming helpers.
 * Fails with the install command when librdkafka is missing; it never skips.
 * @module
 */
import { MockKafkaCluster } from "./mock_cluster.ts";

export {
  KafkaApiKey,
  KafkaErrorCode,
  LibrdkafkaMissingError,
  MockKafkaCluster,
  MockKafkaError,
} from "./mock_cluster.ts";

/**
 * Starts a cluster of `brokers` brokers (ids 1..N) on 127.0.0.1. Close it with `close()` (or `using`) after the
 * clients that use it.
 *
 * @example
 * ```ts
 * using kafka = startKafka();
 * const topic = uniqueTopic("orders");
 * kafka.createTopic(topic, 3);
 * ```
 */
export function startKafka(brokers = 3): MockKafkaCluster {
  return MockKafkaCluster.start({ brokers });
}

let topicCounter = 0;

/** A topic (or group) name that no other test in this process uses: `<prefix>-<pid>-<n>-<random>`. */
export function uniqueTopic(prefix: string): string {
  topicCounter++;
  return `${prefix}-${Deno.pid}-${topicCounter}-${crypto.randomUUID().slice(0, 8)}`;
}
