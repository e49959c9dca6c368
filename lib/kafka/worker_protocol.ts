/**
 * Messages between {@link ProducerWorker} (main thread) and its Web Worker (lib/kafka/producer_worker_entry.ts),
 * carried by lib/worker_rpc.ts.
 * @module
 */
import type { LogFields, LogLevel } from "../log.ts";
import type { OutboundRecord } from "./delivery.ts";
import type { WireProducerOptions } from "./wire_producer.ts";
import type { KafkaSecurityConfig } from "./security.ts";

/** Connection settings the worker's producers share (plain data, so it can be posted). */
export type WorkerClientSettings =
  & Pick<WireProducerOptions, "connectionTimeoutMs" | "requestTimeoutMs" | "retry">
  & { security?: KafkaSecurityConfig };

/** Settings of one producer the worker owns. */
export type WorkerProducerSettings = Pick<WireProducerOptions, "acks" | "timeoutMs" | "retries" | "compression">;

/** Main thread to worker: calls of lib/worker_rpc.ts (it adds the call id). */
export type WorkerRequest =
  | {
    t: "init";
    brokers: string[];
    clientId: string;
    debug: boolean;
    client: WorkerClientSettings;
    producers: WorkerProducerSettings[];
    /** Connect before answering (else on first send). */
    connect: boolean;
  }
  /** One batch for producer #p; records should carry string headers (Buffers would be cloned with their pool). */
  | { t: "send"; p: number; records: OutboundRecord[] }
  | { t: "close" };

/** The answer to `send`, per record: partition (-1 when failed), offset, and the error of failed records. */
export interface SentAnswer {
  partitions: Int32Array;
  offsets: string[];
  errors?: (string | null)[];
}

/** What the worker sends on its own: its producers' log lines, for the service's logger. */
export type WorkerEvent = { t: "log"; level: LogLevel; msg: string; fields: LogFields };
