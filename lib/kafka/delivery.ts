/**
 * What every producer of the product is handed and what it answers: one {@link OutboundRecord} in, one
 * {@link Delivery} out per record, so callers route each failed record to their own retry or dead-letter path.
 * @module
 */

/** One record to produce. */
export interface OutboundRecord {
  topic: string;
  key?: string | Uint8Array | null;
  value: string | Uint8Array | null;
  headers?: Record<string, string | Uint8Array>;
}

/**
 * The outcome of one {@link OutboundRecord}. `offset` is the record's own offset in its partition as a decimal
 * string, or `"-1"` when the producer does not wait for acknowledgements (`acks: 0`).
 */
export type Delivery =
  | { ok: true; topic: string; partition: number; offset: string }
  | { ok: false; topic: string; error: Error };

/** Anything that produces records with one {@link Delivery} per record, in order (a WireProducer, a batcher). */
export interface RecordSender {
  send(records: OutboundRecord[]): Promise<Delivery[]>;
}

/** The deliveries of records that all failed with `error` (a send that could not happen at all). */
export function failEvery(records: readonly OutboundRecord[], error: Error): Delivery[] {
  return records.map((r) => ({ ok: false, topic: r.topic, error }));
}
