/**
 * Turns a validated UserEvent into the Kafka record the proxy produces: key `String(authId)` for per-user order,
 * value the event plus `createdAt` (filled), `receivedAt`, `clientId`, `realm`; `kcl-*` headers.
 * @module
 */
import type { OutboundRecord } from "../kafka/delivery.ts";
import type { PriorityClass } from "./priority.ts";
import type { UserEvent } from "./user_event.ts";

/** A record whose value is the JSON text of the event (what {@link RecordBuilder} builds). */
export interface EventOutboundRecord extends OutboundRecord {
  value: string;
}

/** What is produced for one event (the record) and what a failure report needs about it. */
export interface EventRecord {
  record: EventOutboundRecord;
  clientId: string;
  priority: PriorityClass;
  requestId?: string;
}

/**
 * The produced value of a record as an object, for failure webhooks. Parsed again from the record instead of kept
 * next to it: buffered events then hold one string each rather than the request's parsed JSON tree as well.
 */
export function eventValue(rec: EventRecord): Record<string, unknown> {
  return JSON.parse(rec.record.value);
}

/**
 * Builds records; shares one header object per client, realm and class. Header values are strings: records are
 * posted to the producer worker, and a Buffer would be cloned together with its whole 8 KiB pool slab.
 */
export class RecordBuilder {
  readonly #headers = new Map<string, Record<string, string>>();

  #baseHeaders(clientId: string, realm: string, cls: PriorityClass): Record<string, string> {
    const cacheKey = `${clientId}\u0000${realm}\u0000${cls}`;
    let h = this.#headers.get(cacheKey);
    if (h === undefined) {
      h = {
        "kcl-client-id": clientId,
        "kcl-realm": realm,
        "kcl-priority": cls,
      };
      // Bounded: entries are per key/realm/class combination, but a key set can change on reload.
      if (this.#headers.size > 10_000) this.#headers.clear();
      this.#headers.set(cacheKey, h);
    }
    return h;
  }

  /** The record for `event`, received at `receivedAt` (ISO string), from `clientId` in `realm`, to `topic`. */
  build(
    event: UserEvent,
    priority: number,
    cls: PriorityClass,
    ctx: { clientId: string; realm: string; topic: string },
    receivedAt: string,
  ): EventRecord {
    const value: Record<string, unknown> = {
      sourceSystem: event.sourceSystem,
      sourceSystemId: event.sourceSystemId,
      authId: event.authId,
      priority,
      createdAt: event.createdAt ?? receivedAt,
      receivedAt,
      clientId: ctx.clientId,
      realm: ctx.realm,
      data: event.data,
    };
    const base = this.#baseHeaders(ctx.clientId, ctx.realm, cls);
    let headers: Record<string, string | Uint8Array> = base;
    if (event.requestId !== undefined) {
      value.requestId = event.requestId;
      headers = { ...base, "kcl-request-id": event.requestId };
    }
    const record: EventOutboundRecord = {
      topic: ctx.topic,
      key: String(event.authId),
      value: JSON.stringify(value),
      headers,
    };
    const out: EventRecord = { record, clientId: ctx.clientId, priority: cls };
    if (event.requestId !== undefined) out.requestId = event.requestId;
    return out;
  }
}
