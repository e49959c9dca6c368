/**
 * Messages between {@link ProducerWorker} (main thread) and its Web Worker (lib/kafka/producer_worker.ts).
 * @module
 */
import type { LogFields, LogLevel } from "../log.ts";
import type { CreateKafkaOptions } from "./client.ts";
import type { OutboundRecord } from "./producer.ts";

/** kafkajs client settings the worker applies (plain data, so it can be posted). */
export type WorkerClientSettings = Pick<CreateKafkaOptions, "connectionTimeoutMs" | "requestTimeoutMs" | "retry">;

/** Settings of one producer the worker owns (DeliveryProducerOptions without the logger). */
export interface WorkerProducerSettings {
  acks?: -1 | 0 | 1;
  idempotent?: boolean;
  timeoutMs?: number;
  retries?: number;
  compression?: "none" | "gzip";
}

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
