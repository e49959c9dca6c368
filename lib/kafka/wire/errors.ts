/**
 * Kafka protocol error codes the producer can meet, with whether trying again (after a metadata refresh) can
 * succeed, and the errors the wire producer reports.
 * @module
 */

/** Error codes by name: the subset a producer or a consumer group meets (others are reported by number). */
export const ErrorCode = {
  UNKNOWN_SERVER_ERROR: -1,
  NONE: 0,
  OFFSET_OUT_OF_RANGE: 1,
  CORRUPT_MESSAGE: 2,
  UNKNOWN_TOPIC_OR_PARTITION: 3,
  INVALID_FETCH_SIZE: 4,
  LEADER_NOT_AVAILABLE: 5,
  NOT_LEADER_OR_FOLLOWER: 6,
  REQUEST_TIMED_OUT: 7,
  BROKER_NOT_AVAILABLE: 8,
  REPLICA_NOT_AVAILABLE: 9,
  MESSAGE_TOO_LARGE: 10,
  NETWORK_EXCEPTION: 13,
  COORDINATOR_LOAD_IN_PROGRESS: 14,
  COORDINATOR_NOT_AVAILABLE: 15,
  NOT_COORDINATOR: 16,
  INVALID_TOPIC_EXCEPTION: 17,
  RECORD_LIST_TOO_LARGE: 18,
  NOT_ENOUGH_REPLICAS: 19,
  NOT_ENOUGH_REPLICAS_AFTER_APPEND: 20,
  INVALID_REQUIRED_ACKS: 21,
  ILLEGAL_GENERATION: 22,
  UNKNOWN_MEMBER_ID: 25,
  REBALANCE_IN_PROGRESS: 27,
  INVALID_TIMESTAMP: 32,
  UNSUPPORTED_VERSION: 35,
  POLICY_VIOLATION: 44,
  KAFKA_STORAGE_ERROR: 56,
  TOPIC_AUTHORIZATION_FAILED: 29,
  GROUP_AUTHORIZATION_FAILED: 30,
  UNSUPPORTED_SASL_MECHANISM: 33,
  ILLEGAL_SASL_STATE: 34,
  SASL_AUTHENTICATION_FAILED: 58,
  CLUSTER_AUTHORIZATION_FAILED: 31,
  FENCED_LEADER_EPOCH: 74,
  UNKNOWN_LEADER_EPOCH: 75,
  OFFLINE_PARTITION: 76,
  INVALID_RECORD: 87,
  THROTTLING_QUOTA_EXCEEDED: 89,
} as const;

const NAMES = new Map<number, string>(Object.entries(ErrorCode).map(([name, code]) => [code, name]));

/** Codes after which the same records may succeed on another try (possibly on another leader). */
const RETRIABLE = new Set<number>([
  ErrorCode.CORRUPT_MESSAGE, // a bit flip on the way: the broker checks the CRC
  ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, // metadata lag or auto-creation in progress
  ErrorCode.LEADER_NOT_AVAILABLE,
  ErrorCode.NOT_LEADER_OR_FOLLOWER,
  ErrorCode.REQUEST_TIMED_OUT,
  ErrorCode.BROKER_NOT_AVAILABLE,
  ErrorCode.REPLICA_NOT_AVAILABLE,
  ErrorCode.NETWORK_EXCEPTION,
  ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
  ErrorCode.NOT_ENOUGH_REPLICAS,
  ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
  ErrorCode.KAFKA_STORAGE_ERROR,
  ErrorCode.FENCED_LEADER_EPOCH,
  ErrorCode.UNKNOWN_LEADER_EPOCH,
  ErrorCode.OFFLINE_PARTITION,
  ErrorCode.THROTTLING_QUOTA_EXCEEDED,
]);

/** Codes that mean our view of partition leadership is stale. */
const STALE_METADATA = new Set<number>([
  ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
  ErrorCode.LEADER_NOT_AVAILABLE,
  ErrorCode.NOT_LEADER_OR_FOLLOWER,
  ErrorCode.BROKER_NOT_AVAILABLE,
  ErrorCode.REPLICA_NOT_AVAILABLE,
  ErrorCode.KAFKA_STORAGE_ERROR,
  ErrorCode.FENCED_LEADER_EPOCH,
  ErrorCode.UNKNOWN_LEADER_EPOCH,
  ErrorCode.OFFLINE_PARTITION,
]);

/** The code's name, e.g. `NOT_ENOUGH_REPLICAS (19)`. */
export function describeErrorCode(code: number): string {
  return `${NAMES.get(code) ?? "KAFKA_ERROR"} (${code})`;
}

/** An error answered by a broker for a topic-partition or a topic. */
export class KafkaProtocolError extends Error {
  override name = "KafkaProtocolError";
  readonly code: number;
  readonly retriable: boolean;
  /** Whether partition leadership should be looked up again before another try. */
  readonly staleMetadata: boolean;

  constructor(code: number, where: string) {
    super(`${describeErrorCode(code)} ${where}`);
    this.code = code;
    this.retriable = RETRIABLE.has(code);
    this.staleMetadata = STALE_METADATA.has(code);
  }
}

/**
 * A broker could not be reached, the connection broke, or it did not answer in time: retriable, and the broker's
 * partitions may have moved, so metadata is looked up again.
 */
export class KafkaConnectionError extends Error {
  override name = "KafkaConnectionError";
  readonly retriable = true;
  readonly staleMetadata = true;
}

/**
 * The TLS handshake or SASL authentication with a broker failed. Retriable: credentials and certificates get fixed
 * on either side while the service keeps trying, and it should then recover without a restart. The message names
 * the broker, the mechanism and the broker's own words, never a secret.
 */
export class KafkaAuthenticationError extends KafkaConnectionError {
  override name = "KafkaAuthenticationError";
}

/** Whether `err` may succeed on another try. */
export function isRetriable(err: unknown): boolean {
  return (err instanceof KafkaProtocolError || err instanceof KafkaConnectionError) && err.retriable;
}
