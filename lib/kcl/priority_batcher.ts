/**
 * Per-class buffers for the batched priority classes (low, normal, high): each is flushed to the shared producer
 * when it holds `maxBatch` events or `lingerMs` after its first event, whichever comes first. Capacity counts
 * buffered and in-flight events, so a slow or unreachable cluster turns into back-pressure instead of memory growth.
 * @module
 */
import type { Clock, TimerId } from "../clock.ts";
import { type Delivery, failEvery, type OutboundRecord, type RecordSender } from "../kafka/delivery.ts";
import type { Logger } from "../log.ts";
import { asError, errorMessage } from "../log.ts";
import type { KclMetrics } from "./metrics.ts";
import type { BatchedClass } from "./priority.ts";
import type { EventRecord } from "./record.ts";

/** Batching rule of one class. */
export interface ClassLimits {
  /** Flush as soon as this many events are buffered. */
  maxBatch: number;
  /** Flush this long after the first event entered an empty buffer. */
  lingerMs: number;
  /** Most events buffered plus in flight. */
  capacity: number;
}

/** Default rules of the spec. */
export const DEFAULT_LIMITS: Record<BatchedClass, ClassLimits> = {
  low: { maxBatch: 1000, lingerMs: 5000, capacity: 10_000 },
  normal: { maxBatch: 100, lingerMs: 2000, capacity: 50_000 },
  high: { maxBatch: 100, lingerMs: 100, capacity: 50_000 },
};

/** An event waiting in a buffer, with where to report it if it cannot be produced. */
export interface BufferedEvent {
  rec: EventRecord;
  webhookUrl?: string;
  webhookSecret?: string;
}

/** A buffered event that could not be produced. */
export interface FailedEvent extends BufferedEvent {
  error: string;
}

/** Options of {@link PriorityBatcher}. */
export interface PriorityBatcherOptions {
  sender: RecordSender;
  clock: Clock;
  logger: Logger;
  metrics?: KclMetrics;
  limits?: Partial<Record<BatchedClass, Partial<ClassLimits>>>;
  /** Told about the events of a batch that failed after the producer's retries; must not block. */
  onFailed: (cls: BatchedClass, failed: FailedEvent[]) => void;
  /** Told the number of events of a batch that were produced. */
  onProduced?: (cls: BatchedClass, events: BufferedEvent[]) => void;
  /** Sends per class that may run at once (default {@link MAX_SENDS_PER_CLASS}). */
  maxSendsPerClass?: number;
  /** Largest coalesced send (default {@link MAX_EVENTS_PER_SEND}). */
  maxEventsPerSend?: number;
}

/**
 * Sends per class that may run at once. Batches that become due while this many are running wait in `ready` and
 * leave together with the next send, so under load kafkajs gets fewer, larger produce requests (its per-request
 * cost dominates) instead of a pile of concurrent 100-record ones.
 */
export const MAX_SENDS_PER_CLASS = 2;
/** Largest coalesced send. */
export const MAX_EVENTS_PER_SEND = 5000;

class ClassBuffer {
  buffer: BufferedEvent[] = [];
  /** Flushed batches waiting for a free send slot, concatenated. */
  ready: BufferedEvent[] = [];
  sending = 0;
  timer: TimerId | undefined;
  /** Events flushed from the buffer and not answered yet (waiting in `ready` or being sent). */
  inFlight = 0;
  readonly sends = new Set<Promise<void>>();
  /** Batches handed to the producer and not answered yet. */
  readonly batches = new Set<BufferedEvent[]>();
  /** The class's `kcl_buffer_events` child, set when the metrics are read once the class has been used. */
  gauge: { set(n: number): void } | undefined;
  used = false;
  constructor(readonly cls: BatchedClass, readonly limits: ClassLimits) {}
  get pending(): number {
    return this.buffer.length + this.inFlight;
  }
}

/**
 * The batched classes' buffers and the flush rules over them.
 *
 * @example
 * ```ts
 * const batcher = new PriorityBatcher({ sender: producer, clock: systemClock, logger, onFailed: report });
 * if (batcher.room("normal") >= 1) batcher.add("normal", { rec });
 * await batcher.flushAll(); // on shutdown
 * ```
 */
export class PriorityBatcher {
  readonly #opts: PriorityBatcherOptions;
  readonly #classes: Record<BatchedClass, ClassBuffer>;
  readonly #log: Logger;
  readonly #abandoned = new WeakSet<BufferedEvent[]>();
  readonly #maxSends: number;
  readonly #maxEvents: number;

  constructor(opts: PriorityBatcherOptions) {
    this.#opts = opts;
    this.#log = opts.logger.child({ component: "priority-batcher" });
    this.#maxSends = opts.maxSendsPerClass ?? MAX_SENDS_PER_CLASS;
    this.#maxEvents = opts.maxEventsPerSend ?? MAX_EVENTS_PER_SEND;
    const limit = (cls: BatchedClass): ClassLimits => ({ ...DEFAULT_LIMITS[cls], ...opts.limits?.[cls] });
    this.#classes = {
      low: new ClassBuffer("low", limit("low")),
      normal: new ClassBuffer("normal", limit("normal")),
      high: new ClassBuffer("high", limit("high")),
    };
    // The gauge is set from the buffers when it is read rather than on every add (prom-client hashes its label).
    opts.metrics?.onCollect(() => {
      for (const c of Object.values(this.#classes)) this.#gauge(c);
    });
  }

  /** The rule in use for a class. */
  limits(cls: BatchedClass): ClassLimits {
    return this.#classes[cls].limits;
  }

  /** How many more events the class can take now. */
  room(cls: BatchedClass): number {
    const c = this.#classes[cls];
    return c.limits.capacity - c.pending;
  }

  /** Events buffered or in flight in a class. */
  pending(cls: BatchedClass): number {
    return this.#classes[cls].pending;
  }

  /** Buffers one event; the caller checked {@link room}. Flushes synchronously when the batch is full. */
  add(cls: BatchedClass, event: BufferedEvent): void {
    const c = this.#classes[cls];
    c.used = true;
    c.buffer.push(event);
    if (c.buffer.length >= c.limits.maxBatch) {
      this.#flush(c);
    } else if (c.timer === undefined) {
      c.timer = this.#opts.clock.setTimeout(() => {
        c.timer = undefined;
        this.#flush(c);
      }, c.limits.lingerMs);
    }
  }

  /** Flushes every buffer now and resolves once every send in flight has finished (shutdown). */
  async flushAll(): Promise<void> {
    for (const c of Object.values(this.#classes)) this.#flush(c);
    // Each finished send may start the next from `ready`, so wait until nothing is left anywhere.
    for (;;) {
      const all: Promise<void>[] = [];
      for (const c of Object.values(this.#classes)) all.push(...c.sends);
      if (all.length === 0) return;
      await Promise.all(all);
    }
  }

  /** Empties every buffer without sending (after a shutdown deadline) and returns what was in them. */
  takeBuffered(): BufferedEvent[] {
    const out: BufferedEvent[] = [];
    for (const c of Object.values(this.#classes)) {
      this.#clearTimer(c);
      for (const e of c.buffer) out.push(e);
      for (const e of c.ready) out.push(e);
      c.inFlight -= c.ready.length;
      c.buffer = [];
      c.ready = [];
      c.used = true;
    }
    return out;
  }

  /**
   * Gives up on every batch still in flight (after a shutdown deadline) and returns its events so the caller can
   * report them; a late answer for such a batch is then ignored instead of being reported twice.
   */
  abandonInFlight(): BufferedEvent[] {
    const out: BufferedEvent[] = [];
    for (const c of Object.values(this.#classes)) {
      for (const batch of c.batches) {
        this.#abandoned.add(batch);
        out.push(...batch);
      }
      c.batches.clear();
    }
    return out;
  }

  /** Events whose send is still in progress, by class. */
  inFlight(): number {
    let n = 0;
    for (const c of Object.values(this.#classes)) n += c.inFlight;
    return n;
  }

  #clearTimer(c: ClassBuffer): void {
    if (c.timer !== undefined) {
      this.#opts.clock.clearTimeout(c.timer);
      c.timer = undefined;
    }
  }

  #gauge(c: ClassBuffer): void {
    const metrics = this.#opts.metrics;
    if (metrics === undefined || !c.used) return;
    c.gauge ??= metrics.bufferEvents.labels(c.cls);
    c.gauge.set(c.pending);
  }

  #flush(c: ClassBuffer): void {
    this.#clearTimer(c);
    if (c.buffer.length === 0) return;
    const batch = c.buffer;
    c.buffer = [];
    c.inFlight += batch.length;
    if (c.ready.length === 0) c.ready = batch;
    else for (const e of batch) c.ready.push(e);
    this.#pump(c);
  }

  #pump(c: ClassBuffer): void {
    while (c.sending < this.#maxSends && c.ready.length > 0) {
      let batch = c.ready;
      if (batch.length > this.#maxEvents) {
        c.ready = batch.slice(this.#maxEvents);
        batch = batch.slice(0, this.#maxEvents);
      } else {
        c.ready = [];
      }
      this.#send(c, batch);
    }
  }

  #send(c: ClassBuffer, batch: BufferedEvent[]): void {
    c.sending++;
    c.batches.add(batch);
    const records = new Array<OutboundRecord>(batch.length);
    for (let i = 0; i < batch.length; i++) records[i] = batch[i]!.rec.record;
    const started = performance.now();
    const metrics = this.#opts.metrics;
    metrics?.batchEvents.labels(c.cls).observe(batch.length);
    const send: Promise<void> = this.#opts.sender.send(records)
      .then((deliveries) => this.#settle(c, batch, deliveries))
      .catch((err) => this.#settle(c, batch, failEvery(records, asError(err))))
      .finally(() => {
        metrics?.produceSeconds.labels(c.cls).observe((performance.now() - started) / 1000);
        c.sending--;
        c.inFlight -= batch.length;
        c.sends.delete(send);
        c.batches.delete(batch);
        this.#pump(c);
      });
    c.sends.add(send);
  }

  #settle(c: ClassBuffer, batch: BufferedEvent[], deliveries: Delivery[]): void {
    if (this.#abandoned.has(batch)) return;
    // The usual answer, every record produced: the batch itself is the list of produced events.
    if (deliveries.length === batch.length && deliveries.every((d) => d.ok)) {
      this.#opts.onProduced?.(c.cls, batch);
      return;
    }
    let failed: FailedEvent[] | undefined;
    let produced: BufferedEvent[] | undefined;
    for (let i = 0; i < batch.length; i++) {
      const d = deliveries[i];
      if (d !== undefined && d.ok) {
        if (this.#opts.onProduced) (produced ??= []).push(batch[i]!);
      } else {
        (failed ??= []).push({ ...batch[i]!, error: d === undefined ? "no delivery result" : errorMessage(d.error) });
      }
    }
    if (produced !== undefined) this.#opts.onProduced?.(c.cls, produced);
    if (failed !== undefined) {
      this.#log.warn("batch produce failed", { priority: c.cls, events: failed.length, error: failed[0]!.error });
      try {
        this.#opts.onFailed(c.cls, failed);
      } catch (err) {
        this.#log.error("failure report threw", { error: errorMessage(err) });
      }
    }
  }
}
