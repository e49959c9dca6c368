/**
 * What tests, benchmarks and `dev` share: test doubles (a clock that moves only when told, a silent logger), the
 * Kafka-protocol cluster (librdkafka's mock cluster through FFI) and the real-server harness (Kafka, kcat,
 * redis-server, s3rver, certificates, free ports, processes).
 * @module
 */
export { ManualClock } from "../lib/clock.ts";
export { silentLogger } from "../lib/log.ts";
export * from "./mock_cluster.ts";
export * from "./harness.ts";
