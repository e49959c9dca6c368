/**
 * Messages between {@link ProducerWorker} (main thread) and its Web Worker (lib/kafka/producer_worker_entry.ts).
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

/** Main thread to worker. */
export type WorkerRequest =
  | {
    t: "init";
    id: number;
    brokers: string[];
    clientId: string;
    debug: boolean;
    client: WorkerClientSettings;
    producers: WorkerProducerSettings[];
    /** Connect before answering (else on first send). */
    connect: boolean;
  }
  /** One batch for producer #p; records should carry string headers (Buffers would be cloned with their pool). */
  | { t: "send"; id: number; p: number; records: OutboundRecord[] }
  | { t: "close"; id: number };

/** Worker to main thread. */
export type WorkerReply =
  | { t: "done"; id: number; error?: string }
  /** Per record: partition (-1 when failed), offset, and the error message of failed records. */
  | { t: "sent"; id: number; partitions: Int32Array; offsets: string[]; errors?: (string | null)[] }
  | { t: "log"; level: LogLevel; msg: string; fields: LogFields };
