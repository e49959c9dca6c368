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
import { createKafka } from "../lib/kafka/kafkajs/client.ts";
import { silentLogger } from "../lib/log.ts";

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

/**
 * The sum of a consumer group's committed offsets on `topic` (each partition's next offset to read): how many
 * messages the group has finished, when the topic started empty.
 */
export async function committedTotal(bootstrap: string, groupId: string, topic: string): Promise<number> {
  const kafka = createKafka({ brokers: bootstrap.split(","), clientId: "test-admin", logger: silentLogger });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return (offsets?.partitions ?? []).reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
  } finally {
    await admin.disconnect();
  }
}
