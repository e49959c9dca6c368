/**
 * Real servers for tests: the Kafka-protocol cluster, kcat, redis-server and s3rver, and free ports.
 * Each fails with its install command when a piece is missing; none skips.
 * @module
 */
export * from "./kafka.ts";
export * from "./kcat.ts";
export * from "./ports.ts";
export * from "./router_process.ts";
export * from "./redis.ts";
export * from "./s3.ts";
export * from "./log.ts";
export * from "./wait.ts";
