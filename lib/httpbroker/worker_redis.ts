/**
 * A {@link RedisLink} whose ioredis client runs in a Web Worker (lib/httpbroker/redis_worker_entry.ts), so the HTTP thread
 * neither loads ioredis nor encodes Redis commands; it posts ready-made command arrays and gets replies back.
 * A worker that dies is replaced; until the new one connects, commands fail like they do while Redis is down.
 * @module
 */
import { Backoff, MAX_BACKOFF_MS } from "../backoff.ts";
import type { Logger } from "../log.ts";
import { errorMessage } from "../log.ts";
import { WorkerRpc } from "../worker_rpc.ts";
import type {
  RedisCommand,
  RedisLink,
  RedisLinkEvents,
  RedisLinkOptions,
  RedisWorkerEvent,
  RedisWorkerRequest,
} from "./redis_link.ts";

/** The worker could not run at all (its entry did not load, e.g. in a single-file bundle); use the main thread. */
export class RedisWorkerUnavailableError extends Error {
  override name = "RedisWorkerUnavailableError";
}

/** Options of {@link WorkerRedisLink.start} besides where Redis is. */
export interface WorkerRedisOptions {
  logger: Logger;
  /** Worker entry instead of redis_worker_entry.ts next to this module (tests). */
  entry?: string;
  /**
   * First wait before replacing a dead worker (ms), doubled while replacements keep dying before they connect, up to
   * 30 s; default 1000.
   */
  restartDelayMs?: number;
  /**
   * How long a call may go unanswered before the worker is taken for dead and replaced (ms); default 30 000, well
   * above ioredis's own 10 s command timeout, so only a stuck or silently vanished worker trips it.
   */
  callTimeoutMs?: number;
}

/** A {@link RedisLink} served by a worker thread. */
export class WorkerRedisLink implements RedisLink {
  readonly #options: RedisLinkOptions;
  readonly #o: WorkerRedisOptions;
  /** The current worker; replaced after it dies. */
  #rpc: WorkerRpc<RedisWorkerRequest, RedisWorkerEvent>;
  #events: RedisLinkEvents | undefined;
  /** The first worker answered `init`: from then on a dead worker is replaced rather than reported unavailable. */
  #initialised = false;
  #closed = false;
  #restartTimer: ReturnType<typeof setTimeout> | undefined;
  /** Waits before replacing a dead worker: doubling while replacements die before they connect. */
  readonly #restarts: Backoff;

  private constructor(options: RedisLinkOptions, o: WorkerRedisOptions) {
    this.#options = options;
    this.#o = o;
    this.#restarts = new Backoff({ initialMs: o.restartDelayMs ?? 1000, maxMs: MAX_BACKOFF_MS });
    this.#rpc = this.#spawn();
  }

  /**
   * Starts the worker and hands it the connection settings; rejects with {@link RedisWorkerUnavailableError} when
   * the worker cannot run. Connecting starts with {@link start}.
   */
  static async start(options: RedisLinkOptions, o: WorkerRedisOptions): Promise<WorkerRedisLink> {
    const link = new WorkerRedisLink(options, o);
    try {
      await link.#init();
    } catch (err) {
      link.#closed = true;
      link.#rpc.terminate();
      throw new RedisWorkerUnavailableError(errorMessage(err));
    }
    link.#initialised = true;
    return link;
  }

  #spawn(): WorkerRpc<RedisWorkerRequest, RedisWorkerEvent> {
    const rpc: WorkerRpc<RedisWorkerRequest, RedisWorkerEvent> = new WorkerRpc({
      name: "redis worker",
      // A static URL relative to this module keeps `deno compile` able to embed the entry (scripts/compile.ts).
      entry: this.#o.entry ?? new URL("./redis_worker_entry.ts", import.meta.url).href,
      // Well above ioredis's own 10 s command timeout, so only a stuck or silently vanished worker trips it.
      callTimeoutMs: this.#o.callTimeoutMs ?? 30_000,
      onEvent: (e) => this.#onEvent(e),
      onDeath: (death) => this.#onDeath(rpc, death),
    });
    return rpc;
  }

  #init(): Promise<unknown> {
    return this.#rpc.call({ t: "init", options: this.#options });
  }

  start(events: RedisLinkEvents): void {
    this.#events = events;
    // While a replacement is pending, it posts `start` itself once it is up.
    if (this.#rpc.dead === undefined) this.#rpc.post({ t: "start" });
    else this.#scheduleRestart();
  }

  async transaction(commands: RedisCommand[]): Promise<unknown[]> {
    const replies = await this.#rpc.call({ t: "tx", commands });
    if (!Array.isArray(replies)) throw new Error("redis worker answered a transaction without replies");
    return replies;
  }

  command(command: RedisCommand): Promise<unknown> {
    return this.#rpc.call({ t: "cmd", command });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#restartTimer !== undefined) clearTimeout(this.#restartTimer);
    this.#restartTimer = undefined;
    if (this.#rpc.dead === undefined) await this.#rpc.call({ t: "close" }).catch(() => {});
    this.#rpc.terminate("redis connection closed");
  }

  #onEvent(e: RedisWorkerEvent): void {
    switch (e.t) {
      case "ready":
        this.#restarts.reset();
        this.#events?.ready();
        return;
      case "closed":
        this.#events?.closed();
        return;
      case "error":
        this.#events?.error(e.message, e.refusal);
        return;
    }
  }

  /**
   * The worker died (an uncaught error), sent something unreadable or stopped answering: its calls failed; report
   * the connection lost and replace it.
   */
  #onDeath(rpc: WorkerRpc<RedisWorkerRequest, RedisWorkerEvent>, death: { reason: string; crashed: boolean }): void {
    // Before the first init answered, start() reports the worker unavailable; after close() nothing is replaced.
    if (rpc !== this.#rpc || !death.crashed || !this.#initialised || this.#closed) return;
    const delay = this.#restarts.next();
    this.#o.logger.error(`${death.reason}; replacing it`, { inMs: delay });
    this.#events?.closed();
    this.#scheduleRestart(delay);
  }

  /** Replaces the worker after `delay` (by default the next wait of the restart backoff). */
  #scheduleRestart(delay?: number): void {
    if (this.#restartTimer !== undefined || this.#closed) return;
    const wait = delay ?? this.#restarts.next();
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      if (this.#closed) return;
      try {
        this.#rpc = this.#spawn();
      } catch (err) {
        this.#o.logger.error("starting a redis worker failed", { error: errorMessage(err) });
        this.#scheduleRestart();
        return;
      }
      // A failed init is a death: #onDeath has logged it and scheduled the next attempt.
      this.#init().catch(() => {});
      // Right behind init, so no command reaches the new worker's client before its events are wired.
      if (this.#events !== undefined) this.#rpc.post({ t: "start" });
    }, wait);
  }
}
