/**
 * The consumed-message shape the router works with, and how its headers are carried over unchanged to the records
 * it produces.
 * @module
 */
import type { OutboundRecord } from "../kafka/delivery.ts";

/** A consumed Kafka message (structurally what the Kafka consumer hands to its handler). */
export interface InboundMessage {
  topic: string;
  partition: number;
  offset: string;
  key: Uint8Array | null;
  value: Uint8Array | null;
  headers?: Record<string, unknown>;
  /** Broker timestamp in epoch ms, as a decimal string (kafkajs' form). */
  timestamp?: string;
}

/** Headers in the producer's form; values kafkajs cannot express singly (arrays) keep their first element. */
export function outboundHeaders(headers: Record<string, unknown> | undefined): OutboundRecord["headers"] {
  if (headers === undefined) return undefined;
  let out: Record<string, string | Uint8Array> | undefined;
  for (const name in headers) {
    let v = headers[name];
    if (Array.isArray(v)) v = v[0];
    if (typeof v === "string" || v instanceof Uint8Array) {
      out ??= {};
      out[name] = v;
    }
  }
  return out;
}

/** `<topic>-<partition>-<offset>`: the name of a message without a `messageId`. */
export function coordinates(msg: InboundMessage): string {
  return `${msg.topic}-${msg.partition}-${msg.offset}`;
}
