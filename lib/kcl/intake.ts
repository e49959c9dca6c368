/**
 * Routes the validated events of one request to their priority class (buffer, immediate producer, or drop),
 * applies requestId de-duplication and back-pressure, and computes each event's result.
 * @module
 */
import type { Delivery } from "../kafka/delivery.ts";
import { errorMessage } from "../log.ts";
import type { RequestContext } from "./auth.ts";
import type { DedupWindow } from "./dedup.ts";
import type { RecordSender } from "../kafka/delivery.ts";
import type { EventCounter } from "./event_counter.ts";
import type { BufferedEvent, PriorityBatcher } from "./priority_batcher.ts";
import { type PriorityClass, priorityClass } from "./priority.ts";
import type { EventRecord, RecordBuilder } from "./record.ts";
import { DEFAULT_PRIORITY, type EventError, type ParsedItem } from "./user_event.ts";

/** Outcome of one event. */
export type EventStatus = "produced" | "accepted" | "dropped" | "duplicate" | "invalid" | "failed";

/** One entry of the response's `results`. */
export interface EventResult {
  index: number;
  requestId?: string;
  status: EventStatus;
  priority?: PriorityClass;
  partition?: number;
  offset?: string;
  errors?: EventError[];
  error?: string;
}

/**
 * What a request led to: per-event results; a refusal because a never-drop buffer is full; or a refusal because an
 * event holds U+FFFD, which is what invalid UTF-8 in the body decodes to (see `readJsonBodyFast`).
 */
export type IntakeOutcome =
  | { kind: "results"; results: EventResult[] }
  | { kind: "overloaded"; priority: PriorityClass; retryAfterSeconds: number }
  | { kind: "replacement-char" };

/** Dependencies of {@link EventIntake}. */
export interface EventIntakeDeps {
  batcher: PriorityBatcher;
  /** The immediate class: produced before the answer (a CoalescingSender). */
  immediate: RecordSender;
  dedup: DedupWindow;
  records: RecordBuilder;
  counter: EventCounter;
}

const REPLACEMENT_CHAR: IntakeOutcome = { kind: "replacement-char" };

/**
 * The per-request routing of events.
 *
 * @example
 * ```ts
 * const outcome = await intake.submit(ctx, parseUserEvents(body), Date.now());
 * ```
 */
export class EventIntake {
  readonly #d: EventIntakeDeps;
  /** The last receive time and its ISO text: consecutive requests mostly share their millisecond. */
  #isoMs = NaN;
  #iso = "";

  constructor(deps: EventIntakeDeps) {
    this.#d = deps;
  }

  #receivedAt(ms: number): string {
    if (ms !== this.#isoMs) {
      this.#iso = new Date(ms).toISOString();
      this.#isoMs = ms;
    }
    return this.#iso;
  }

  /**
   * Handles the parsed items of one authorised request, received at `receivedAtMs`. Synchronous unless the request
   * holds immediate events, whose results wait for Kafka: batched events are answered without a promise.
   */
  submit(ctx: RequestContext, items: ParsedItem[], receivedAtMs: number): IntakeOutcome | Promise<IntakeOutcome> {
    const { batcher, dedup, counter } = this.#d;
    const n = items.length;
    const classes = new Array<PriorityClass | undefined>(n);
    let normal = 0;
    let high = 0;
    for (let i = 0; i < n; i++) {
      const item = items[i]!;
      if (!item.ok) continue;
      const cls = priorityClass(item.event.priority ?? DEFAULT_PRIORITY);
      classes[i] = cls;
      if (cls === "normal") normal++;
      else if (cls === "high") high++;
    }
    // Normal and high are never dropped: refuse the whole request before anything of it is produced.
    if (normal > 0 && batcher.room("normal") < normal) return this.#overloaded(ctx, "normal");
    if (high > 0 && batcher.room("high") < high) return this.#overloaded(ctx, "high");

    // Every record is built before anything is claimed or buffered, so a refused body changes nothing.
    const receivedAt = this.#receivedAt(receivedAtMs);
    const records = new Array<EventRecord | undefined>(n);
    for (let i = 0; i < n; i++) {
      const item = items[i]!;
      if (!item.ok) {
        if (item.requestId?.includes("\uFFFD")) return REPLACEMENT_CHAR;
        continue;
      }
      const event = item.event;
      const rec = this.#d.records.build(event, event.priority ?? DEFAULT_PRIORITY, classes[i]!, ctx, receivedAt);
      // The value holds every field taken from the body, so one scan covers the event.
      if (rec.record.value.includes("\uFFFD")) return REPLACEMENT_CHAR;
      records[i] = rec;
    }

    const results = new Array<EventResult>(n);
    let immediate: { index: number; rec: EventRecord }[] | undefined;
    const webhook = ctx.webhookUrl;
    const secret = ctx.key.webhookSecret;
    for (let i = 0; i < n; i++) {
      const item = items[i]!;
      if (!item.ok) {
        const r: EventResult = { index: i, status: "invalid", errors: item.errors };
        if (item.requestId !== undefined) r.requestId = item.requestId;
        results[i] = r;
        counter.add(ctx.clientId, "none", "invalid");
        continue;
      }
      const cls = classes[i]!;
      const rec = records[i]!;
      const requestId = rec.requestId;
      const r: EventResult = { index: i, status: "accepted", priority: cls };
      if (requestId !== undefined) r.requestId = requestId;
      results[i] = r;
      if (cls === "low" && batcher.room("low") < 1) {
        r.status = "dropped";
        counter.add(ctx.clientId, cls, "dropped");
        continue;
      }
      if (requestId !== undefined && !dedup.claim(ctx.clientId, requestId)) {
        r.status = "duplicate";
        counter.add(ctx.clientId, cls, "duplicate");
        continue;
      }
      if (cls === "immediate") {
        (immediate ??= []).push({ index: i, rec });
        continue;
      }
      const buffered: BufferedEvent = { rec };
      if (webhook !== undefined) buffered.webhookUrl = webhook;
      if (secret !== undefined) buffered.webhookSecret = secret;
      batcher.add(cls, buffered);
      counter.add(ctx.clientId, cls, "accepted");
    }
    if (immediate !== undefined) return this.#produceImmediate(ctx.clientId, results, immediate);
    return { kind: "results", results };
  }

  async #produceImmediate(
    clientId: string,
    results: EventResult[],
    immediate: { index: number; rec: EventRecord }[],
  ): Promise<IntakeOutcome> {
    const deliveries = await this.#d.immediate.send(immediate.map((x) => x.rec.record));
    for (let j = 0; j < immediate.length; j++) {
      const { index, rec } = immediate[j]!;
      this.#applyDelivery(results[index]!, deliveries[j], clientId, rec);
    }
    return { kind: "results", results };
  }

  #applyDelivery(r: EventResult, d: Delivery | undefined, clientId: string, rec: EventRecord): void {
    if (d !== undefined && d.ok) {
      r.status = "produced";
      r.partition = d.partition;
      r.offset = d.offset;
      this.#d.counter.add(clientId, "immediate", "produced");
      return;
    }
    r.status = "failed";
    r.error = d === undefined ? "no delivery result" : errorMessage(d.error);
    this.#d.counter.add(clientId, "immediate", "failed");
    // Not produced, so a retry with the same requestId must go through.
    if (rec.requestId !== undefined) this.#d.dedup.release(clientId, rec.requestId);
  }

  #overloaded(ctx: RequestContext, cls: PriorityClass): IntakeOutcome {
    this.#d.counter.add(ctx.clientId, cls, "rejected");
    const linger = cls === "normal" || cls === "high" ? this.#d.batcher.limits(cls).lingerMs : 1000;
    return { kind: "overloaded", priority: cls, retryAfterSeconds: Math.max(1, Math.ceil(linger / 1000)) };
  }
}

/**
 * The response status of a set of results: 400 all invalid, 502 all failed, 503 all dropped, 207 any invalid,
 * dropped or failed next to others, 202 anything accepted, else 200 (all produced or duplicate).
 */
export function resultsStatus(results: EventResult[]): number {
  let accepted = 0;
  let invalid = 0;
  let dropped = 0;
  let failed = 0;
  for (const r of results) {
    switch (r.status) {
      case "accepted":
        accepted++;
        break;
      case "invalid":
        invalid++;
        break;
      case "dropped":
        dropped++;
        break;
      case "failed":
        failed++;
        break;
    }
  }
  const n = results.length;
  if (invalid === n) return 400;
  if (failed === n) return 502;
  if (dropped === n) return 503;
  if (invalid + dropped + failed > 0) return 207;
  return accepted > 0 ? 202 : 200;
}
