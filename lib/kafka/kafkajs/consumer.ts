/**
 * At-least-once Kafka consumption: a message's offset is committed only after the caller's handler finished it, and
 * a failing message is retried in place, never skipped.
 * @module
 */
import type { Consumer, EachBatchPayload, IHeaders, Kafka, KafkaMessage } from "kafkajs";
import { backoffDelay, RECONNECT_BACKOFF, retry } from "../../backoff.ts";
import type { Clock } from "../../clock.ts";
import { systemClock } from "../../clock.ts";
import type { Logger } from "../../log.ts";
import { errorMessage } from "../../log.ts";
import { type UndecodableBatch, undecodableBatchOf } from "./codecs.ts";
import { BatchProgress, startHeartbeats } from "./batch_progress.ts";

/** Whether `error` (or an error it wraps) is a broker refusing the client's SASL authentication. */
function isRefusedAuthentication(error: unknown): boolean {
  for (let e = error, depth = 0; e instanceof Error && depth < 10; e = e.cause, depth++) {
    if (e.name === "KafkaJSSASLAuthenticationError" || /\bauthentication failed\b/i.test(e.message)) return true;
  }
  return false;
}

/** A message handed to {@link AckConsumerOptions.handle}. */
export interface ConsumedMessage {
  topic: string;
  partition: number;
  /** Decimal string, as Kafka offsets exceed 2^53 in theory. */
  offset: string;
  key: Uint8Array | null;
  value: Uint8Array | null;
  /** When a header name repeats, the last value. */
  headers: Record<string, Uint8Array | string | undefined>;
  /** Milliseconds since the epoch, as a decimal string. */
  timestamp: string;
}

/** Where a message sits. */
export interface MessagePosition {
  topic: string;
  partition: number;
  offset: string;
}

/** Options of {@link AckConsumer}. */
export interface AckConsumerOptions {
  groupId: string;
  topics: string[];
  /** Where a group without committed offsets starts: the oldest message (true) or new ones only (default). */
  fromBeginning?: boolean;
  logger: Logger;
  /** Times the handler retry backoff, the commit ticker and the stop deadline; default the system clock. */
  clock?: Clock;
  /**
   * Processes one message. Resolving marks it done; rejecting retries the same message after a backoff, for as long
   * as the partition stays assigned, so the offset is never skipped or committed past.
   */
  handle: (msg: ConsumedMessage) => Promise<void>;
  /** Messages of one fetched batch (one partition) handled at the same time; default 256. */
  concurrency?: number;
  /** Partitions whose batches are handled at the same time; default 1 (kafkajs' default). */
  partitionsConsumedConcurrently?: number;
  /** Group session timeout; kafkajs default 30000 ms. */
  sessionTimeoutMs?: number;
  /**
   * Heartbeat interval; kafkajs default 3000 ms. While a batch is being handled, done offsets are also committed at
   * this interval.
   */
  heartbeatIntervalMs?: number;
  /** Longest time a fetch waits for new messages; bounds how long an idle consumer takes to stop. Default 1000 ms. */
  maxWaitTimeMs?: number;
  /** First delay before a failed message is retried; doubles per failure up to {@link retryMaxMs}. Default 200 ms. */
  retryInitialMs?: number;
  /** Longest delay between retries of a failed message; default 30000 ms. */
  retryMaxMs?: number;
  /**
   * Called when a record batch cannot be decoded (corrupt, unknown codec). The consumer then stops for good with an
   * {@link UndecodableBatchError} as its {@link AckConsumer.failure}, after finishing the messages before it.
   */
  onUndecodableBatch?: (error: UndecodableBatchError) => void;
}

/**
 * A record batch the consumer cannot decode. Skipping it would lose its records silently, so the consumer stops and
 * the operator decides: the message says which offset to move the group to.
 */
export class UndecodableBatchError extends Error {
  readonly topic: string;
  readonly partition: number;
  readonly batch: UndecodableBatch;

  constructor(groupId: string, topic: string, partition: number, batch: UndecodableBatch) {
    const next = /^[0-9]+$/.test(batch.lastOffset) ? nextOffset(batch.lastOffset) : "?";
    super(
      `cannot decode the record batch of ${topic} partition ${partition} at offset ${batch.firstOffset}` +
        ` (offsets ${batch.firstOffset}-${batch.lastOffset}): ${batch.reason}; nothing from this offset on was routed.` +
        ` To skip the batch, reset group ${groupId} on ${topic}:${partition} to offset ${next}`,
    );
    this.name = "UndecodableBatchError";
    this.topic = topic;
    this.partition = partition;
    this.batch = batch;
  }
}

/** Options of {@link AckConsumer.stop}. */
export interface AckConsumerStopOptions {
  /** How long in-flight handlers may take to finish; default 10000 ms. */
  deadlineMs?: number;
}

/** What {@link AckConsumer.stop} left behind. */
export interface AckConsumerStopResult {
  /**
   * Messages that were handed to this consumer but did not finish before the deadline (or were never started once
   * stopping began). Their offsets were not committed: the group delivers them again.
   */
  pending: MessagePosition[];
}

const DEFAULT_CONCURRENCY = 256;
const DEFAULT_STOP_DEADLINE_MS = 10_000;
const DEFAULT_HEARTBEAT_INTERVAL_MS = 3_000;
const COMMIT_ATTEMPTS = 3;
/** 100 ms, then 200 ms between the commit attempts of a batch. */
const COMMIT_BACKOFF = { initialMs: 100, maxMs: 1_000 };

/**
 * Consumes `topics` as member of `groupId`, committing per partition the highest offset below which every message's
 * handler has resolved.
 *
 * A fetched batch (one partition) is finished before the next batch of that partition is fetched, so a message whose
 * handler keeps failing holds up its partition until it succeeds. kafkajs' worker queue does not reliably hand other
 * partitions' batches to idle workers meanwhile (`partitionsConsumedConcurrently` helps throughput, not isolation), so
 * handlers should turn permanent failures into a resolved outcome (retry topic, dead letter) instead of rejecting.
 *
 * @example
 * ```ts
 * const consumer = new AckConsumer(kafka, {
 *   groupId: "router", topics: ["ingest"], logger,
 *   handle: async (msg) => { await route(msg); },
 * });
 * await consumer.start();
 * // on shutdown:
 * const { pending } = await consumer.stop({ deadlineMs: 5_000 });
 * ```
 */
export class AckConsumer {
  readonly #consumer: Consumer;
  readonly #opts: AckConsumerOptions;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #concurrency: number;
  readonly #heartbeatIntervalMs: number;
  readonly #retryInitialMs: number;
  readonly #retryMaxMs: number;
  readonly #removeListeners: (() => void)[] = [];
  /** Aborted when stopping begins: ends retry backoffs and stops starting new messages. */
  readonly #stopping = new AbortController();
  /** Set when the stop deadline passes; batches then stop waiting for in-flight handlers. */
  #deadlinePassed = false;
  /** Wakes the batches in progress when the stop deadline passes (one entry per batch, removed when it ends). */
  readonly #wakeAtDeadline = new Set<() => void>();
  readonly #pending: MessagePosition[] = [];
  #joined = false;
  #failure: Error | null = null;
  #started: Promise<void> | null = null;
  #stopped: Promise<AckConsumerStopResult> | null = null;

  constructor(kafka: Kafka, opts: AckConsumerOptions) {
    if (opts.topics.length === 0) throw new Error(`AckConsumer ${opts.groupId}: topics must not be empty`);
    this.#opts = opts;
    this.#log = opts.logger.child({ component: "kafka-consumer", groupId: opts.groupId });
    this.#clock = opts.clock ?? systemClock;
    this.#concurrency = Math.max(1, opts.concurrency ?? DEFAULT_CONCURRENCY);
    this.#heartbeatIntervalMs = opts.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS;
    this.#retryInitialMs = opts.retryInitialMs ?? 200;
    this.#retryMaxMs = opts.retryMaxMs ?? 30_000;
    this.#consumer = kafka.consumer({
      groupId: opts.groupId,
      sessionTimeout: opts.sessionTimeoutMs,
      heartbeatInterval: opts.heartbeatIntervalMs,
      maxWaitTimeInMs: opts.maxWaitTimeMs ?? 1_000,
    });
    const { events } = this.#consumer;
    this.#removeListeners.push(
      this.#consumer.on(events.GROUP_JOIN, (e) => {
        this.#joined = true;
        this.#log.info("joined consumer group", {
          memberId: e.payload.memberId,
          leader: e.payload.isLeader,
          assignment: e.payload.memberAssignment,
        });
      }),
      this.#consumer.on(events.CRASH, (e) => {
        this.#joined = false;
        const { error, restart } = e.payload;
        if (restart) {
          this.#log.warn("consumer crashed; kafkajs restarts it", { error: errorMessage(error) });
        } else if (isRefusedAuthentication(error)) {
          // kafkajs gives up on a refused authentication (non-retriable), but credentials are fixed on the broker side
          // (a rotated password, an ACL): consuming waits, uncommitted, until a broker accepts us again.
          if (this.#stopping.signal.aborted) return;
          this.#log.error(
            "a Kafka broker refused the consumer's credentials; consuming stopped until one accepts them (retrying)",
            { error: errorMessage(error) },
          );
          void this.#rejoinAfterRefusal();
        } else {
          this.#failure = error;
          this.#log.error("consumer crashed and will not restart", { error: errorMessage(error) });
        }
      }),
      this.#consumer.on(events.STOP, () => {
        this.#joined = false;
      }),
    );
  }

  /** Whether the consumer is a member of its group: joined, not stopped, not crashed. */
  get ready(): boolean {
    return this.#joined && this.#failure === null && !this.#stopping.signal.aborted;
  }

  /** The error that stopped the consumer for good, if it crashed with a non-retriable error. */
  get failure(): Error | null {
    return this.#failure;
  }

  /** Connects, subscribes and starts consuming; resolves once the consumer has joined its group and runs. */
  start(): Promise<void> {
    // A start that failed (Kafka unreachable) may be tried again.
    this.#started ??= this.#start().catch((err) => {
      this.#started = null;
      throw err;
    });
    return this.#started;
  }

  async #start(): Promise<void> {
    if (this.#stopping.signal.aborted) throw new Error(`AckConsumer ${this.#opts.groupId} was stopped`);
    try {
      await this.#consumer.connect();
      await this.#consumer.subscribe({ topics: this.#opts.topics, fromBeginning: this.#opts.fromBeginning ?? false });
      await this.#consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: this.#opts.partitionsConsumedConcurrently ?? 1,
        eachBatch: (payload) => this.#eachBatch(payload),
      });
    } catch (err) {
      await this.#consumer.disconnect().catch(() => {});
      throw err;
    }
    if (this.#failure !== null) throw this.#failure;
  }

  /** Starts again with backoff (1 s doubling to 30 s) until a broker accepts the consumer or it is stopped. */
  async #rejoinAfterRefusal(): Promise<void> {
    this.#started = null;
    for (let attempt = 1;; attempt++) {
      const delay = backoffDelay(attempt, RECONNECT_BACKOFF);
      try {
        await this.#clock.sleep(delay, this.#stopping.signal);
        await this.start();
        this.#log.info("consumer rejoined its group: a broker accepts its credentials again", { attempt });
        return;
      } catch (err) {
        if (this.#stopping.signal.aborted) return;
        // Logged at error once above; each attempt is debug so a long outage does not flood the log.
        this.#log.debug("consumer still cannot rejoin; retrying", { attempt, error: errorMessage(err) });
      }
    }
  }

  /**
   * Stops fetching, waits up to `deadlineMs` for handlers in progress, commits what is done, leaves the group and
   * disconnects. Resolves with the messages left unfinished. Safe to call more than once.
   */
  stop(opts: AckConsumerStopOptions = {}): Promise<AckConsumerStopResult> {
    this.#stopped ??= this.#stop(opts.deadlineMs ?? DEFAULT_STOP_DEADLINE_MS);
    return this.#stopped;
  }

  async #stop(deadlineMs: number): Promise<AckConsumerStopResult> {
    this.#stopping.abort();
    const timer = this.#clock.setTimeout(() => this.#passDeadline(), deadlineMs);
    try {
      await this.#started?.catch(() => {});
      // disconnect() stops the runner, which waits for the batch in progress; that batch returns by the deadline.
      await this.#consumer.disconnect();
    } catch (err) {
      this.#log.warn("error while stopping the consumer", { error: errorMessage(err) });
    } finally {
      this.#clock.clearTimeout(timer);
      this.#passDeadline();
      for (const remove of this.#removeListeners) remove();
    }
    const pending = this.#pending.slice().sort((a, b) =>
      a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition || compareOffsets(a.offset, b.offset)
    );
    if (pending.length > 0) {
      this.#log.warn("stopped with unfinished messages; the group will deliver them again", {
        pending: pending.length,
      });
    } else {
      this.#log.info("stopped");
    }
    return { pending };
  }

  #passDeadline(): void {
    this.#deadlinePassed = true;
    for (const wake of this.#wakeAtDeadline) wake();
    this.#wakeAtDeadline.clear();
  }

  async #eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, isRunning, isStale } = payload;
    const messages = batch.messages;
    const count = messages.length;
    if (count === 0) return;
    const { topic, partition } = batch;
    if (this.#failure !== null) {
      // Stopped for good: hand out nothing more, and stop fetching what would be refused anyway.
      payload.pause();
      return;
    }
    // Messages after an undecodable batch wait behind it, as the batch's own records would.
    let end = count;
    let undecodable: UndecodableBatch | undefined;
    for (let i = 0; i < count; i++) {
      undecodable = undecodableBatchOf(messages[i]!.headers);
      if (undecodable !== undefined) {
        end = i;
        break;
      }
    }
    const log = this.#log;
    const stopping = this.#stopping.signal;
    /** Aborted when this batch must wind down: stopping, rebalance, or a failed heartbeat. */
    const abandon = new AbortController();
    const onStop = () => abandon.abort();
    stopping.addEventListener("abort", onStop, { once: true });
    if (stopping.aborted) abandon.abort();
    const canContinue = () => !abandon.signal.aborted && isRunning() && !isStale();

    let heartbeatError: unknown = null;
    const progress = new BatchProgress(messages.map((m) => m.offset), (last) => this.#commit(payload, last));
    // Keeps the membership alive and commits progress while a batch takes longer than the heartbeat interval.
    const heartbeats = startHeartbeats({
      clock: this.#clock,
      intervalMs: this.#heartbeatIntervalMs,
      heartbeat: () => payload.heartbeat(),
      afterBeat: () => progress.commitDone(),
      onFailure: (err) => {
        heartbeatError = err;
        abandon.abort();
      },
    });

    // A pool of workers taking the batch's messages in order, each until it is done or the batch is abandoned.
    let nextIndex = 0;
    const worker = async () => {
      while (nextIndex < end && canContinue()) {
        const index = nextIndex++;
        if (await this.#handleUntilDone(messages[index]!, topic, partition, abandon.signal, canContinue)) {
          progress.markDone(index);
        }
      }
    };

    // A promise per batch rather than one shared by all: each race would otherwise leave a reaction on the shared
    // promise for the life of the consumer.
    let wake!: () => void;
    const deadline = new Promise<void>((resolve) => wake = resolve);
    if (this.#deadlinePassed) wake();
    else this.#wakeAtDeadline.add(wake);

    try {
      const workers: Promise<void>[] = [];
      for (let w = Math.min(this.#concurrency, end); w > 0; w--) workers.push(worker());
      // After stop's deadline, handlers still running are left behind: their messages stay uncommitted.
      await Promise.race([Promise.all(workers), deadline]);
    } finally {
      this.#wakeAtDeadline.delete(wake);
      stopping.removeEventListener("abort", onStop);
      await heartbeats.stop();
      await progress.commitDone();
    }

    if (undecodable !== undefined && this.#failure === null) {
      const error = new UndecodableBatchError(this.#opts.groupId, topic, partition, undecodable);
      this.#failure = error;
      payload.pause();
      this.#opts.onUndecodableBatch?.(error);
    }
    if (stopping.aborted) {
      for (let i = 0; i < end; i++) {
        if (!progress.isDone(i)) this.#pending.push({ topic, partition, offset: messages[i]!.offset });
      }
    }
    if (log.debugEnabled) {
      log.debug("batch finished", { topic, partition, messages: count, done: progress.donePrefix });
    }
    // Rethrowing lets kafkajs rejoin the group on a rebalance; the undone messages are fetched again afterwards.
    if (heartbeatError !== null) throw heartbeatError;
  }

  /** Runs the handler until it resolves (true) or the batch is abandoned first (false). */
  /**
   * Resolves `last` (kafkajs fetches on from the resolved offset; resolving only the done prefix makes it fetch the
   * messages after a gap again when the batch is abandoned, instead of skipping them) and commits the offset after it.
   * A batch's last commit may be the partition's last for a long time (an idle topic), so a transient failure gets a
   * few quick retries; a rebalance error means another member owns the partition now. False when it was not
   * committed: the messages are then delivered again to whoever owns the partition next.
   */
  async #commit(payload: EachBatchPayload, last: string): Promise<boolean> {
    const { topic, partition } = payload.batch;
    payload.resolveOffset(last);
    const offset = nextOffset(last);
    try {
      await retry(
        () => payload.commitOffsetsIfNecessary({ topics: [{ topic, partitions: [{ partition, offset }] }] }),
        { ...COMMIT_BACKOFF, clock: this.#clock, maxAttempts: COMMIT_ATTEMPTS, retryIf: isRetriable },
      );
    } catch (err) {
      this.#log.warn("offset commit failed", { topic, partition, offset, error: errorMessage(err) });
      return false;
    }
    if (this.#log.debugEnabled) this.#log.debug("committed", { topic, partition, offset });
    return true;
  }

  async #handleUntilDone(
    message: KafkaMessage,
    topic: string,
    partition: number,
    abandoned: AbortSignal,
    canContinue: () => boolean,
  ): Promise<boolean> {
    const consumed = toConsumedMessage(message, topic, partition);
    for (let attempt = 1;; attempt++) {
      try {
        await this.#opts.handle(consumed);
        return true;
      } catch (err) {
        const delay = backoffDelay(attempt, { initialMs: this.#retryInitialMs, maxMs: this.#retryMaxMs });
        this.#log.warn("message handler failed; retrying", {
          topic,
          partition,
          offset: message.offset,
          attempt,
          retryInMs: delay,
          error: errorMessage(err),
        });
        if (!canContinue()) return false;
        try {
          await this.#clock.sleep(delay, abandoned);
        } catch {
          return false;
        }
        if (!canContinue()) return false;
      }
    }
  }
}

function isRetriable(err: unknown): boolean {
  return typeof err === "object" && err !== null && "retriable" in err && err.retriable === true;
}

function nextOffset(offset: string): string {
  const n = Number(offset);
  return Number.isSafeInteger(n + 1) ? String(n + 1) : String(BigInt(offset) + 1n);
}

function compareOffsets(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

function toConsumedMessage(message: KafkaMessage, topic: string, partition: number): ConsumedMessage {
  return {
    topic,
    partition,
    offset: message.offset,
    key: message.key ?? null,
    value: message.value,
    headers: flattenHeaders(message.headers),
    timestamp: message.timestamp,
  };
}

const NO_HEADERS: Record<string, Uint8Array | string | undefined> = Object.freeze({});

function flattenHeaders(headers: IHeaders | undefined): Record<string, Uint8Array | string | undefined> {
  if (headers === undefined) return NO_HEADERS;
  let repeated = false;
  for (const name in headers) {
    if (Array.isArray(headers[name])) {
      repeated = true;
      break;
    }
  }
  // kafkajs only builds arrays for repeated header names; otherwise its object already has the right shape.
  if (!repeated) return headers as Record<string, Uint8Array | string | undefined>;
  const flat: Record<string, Uint8Array | string | undefined> = {};
  for (const name in headers) {
    const v = headers[name];
    flat[name] = Array.isArray(v) ? v[v.length - 1] : v;
  }
  return flat;
}
