/**
 * A {@link RedisLink} whose ioredis client runs in a Web Worker (lib/httpbroker/redis_worker_entry.ts), so the HTTP thread
 * neither loads ioredis nor encodes Redis commands; it posts ready-made command arrays and gets replies back.
 * A worker that dies is replaced; until the new one connects, commands fail like they do while Redis is down.
 * @module
 */
import { Backoff, MAX_BACKOFF_MS } from "../backoff.ts";
import type { Logger } from "../log.ts";
import { errorMessage } from "../log.ts";
import type {
  RedisCommand,
  RedisLink,
  RedisLinkEvents,
  RedisLinkOptions,
  RedisWorkerReply,
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

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** A {@link RedisLink} served by a worker thread. */
export class WorkerRedisLink implements RedisLink {
  readonly #options: RedisLinkOptions;
  readonly #o: WorkerRedisOptions;
  readonly #pending = new Map<number, Pending>();
  readonly #callTimeoutMs: number;
  #worker: Worker;
  #nextId = 1;
  #events: RedisLinkEvents | undefined;
  /** Set while no live worker is there to answer (crashed, being replaced, or closed). */
  #down: string | undefined;
  /** The first worker answered `init`: from then on a dead worker is replaced rather than reported unavailable. */
  #initialised = false;
  #closed = false;
  #restartTimer: ReturnType<typeof setTimeout> | undefined;
  /** Waits before replacing a dead worker: doubling while replacements die before they connect. */
  readonly #restarts: Backoff;

  private constructor(worker: Worker, options: RedisLinkOptions, o: WorkerRedisOptions) {
    this.#worker = worker;
    this.#options = options;
    this.#o = o;
    this.#callTimeoutMs = o.callTimeoutMs ?? 30_000;
    this.#restarts = new Backoff({ initialMs: o.restartDelayMs ?? 1000, maxMs: MAX_BACKOFF_MS });
  }

  /**
   * Starts the worker and hands it the connection settings; rejects with {@link RedisWorkerUnavailableError} when
   * the worker cannot run. Connecting starts with {@link start}.
   */
  static async start(options: RedisLinkOptions, o: WorkerRedisOptions): Promise<WorkerRedisLink> {
    const link = new WorkerRedisLink(WorkerRedisLink.#spawn(o), options, o);
    try {
      await link.#init();
    } catch (err) {
      link.#closed = true;
      link.#worker.terminate();
      throw new RedisWorkerUnavailableError(errorMessage(err));
    }
    link.#initialised = true;
    return link;
  }

  static #spawn(o: WorkerRedisOptions): Worker {
    // A static URL relative to this module keeps `deno compile` able to embed the entry (scripts/compile.ts).
    return o.entry === undefined
      ? new Worker(new URL("./redis_worker_entry.ts", import.meta.url).href, { type: "module" })
      : new Worker(o.entry, { type: "module" });
  }

  /** Wires the current worker's messages and posts `init`; resolves once it answered. */
  #init(): Promise<unknown> {
    const worker = this.#worker;
    worker.onmessage = (e: MessageEvent<RedisWorkerReply>) => this.#onReply(e.data);
    // A reply that cannot be read leaves a call unanswered for good: treat it like a crash.
    worker.onmessageerror = () => this.#onDeath(worker, "redis worker sent an unreadable message");
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      this.#onDeath(worker, `redis worker crashed: ${e.message}`);
    };
    this.#down = undefined;
    return this.#call({ t: "init", id: 0, options: this.#options });
  }

  start(events: RedisLinkEvents): void {
    this.#events = events;
    // While a replacement is pending, it posts `start` itself once it is up.
    if (this.#down === undefined) this.#post({ t: "start" });
    else this.#scheduleRestart();
  }

  async transaction(commands: RedisCommand[]): Promise<unknown[]> {
    const replies = await this.#call({ t: "tx", id: 0, commands });
    if (!Array.isArray(replies)) throw new Error("redis worker answered a transaction without replies");
    return replies;
  }

  command(command: RedisCommand): Promise<unknown> {
    return this.#call({ t: "cmd", id: 0, command });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#restartTimer !== undefined) clearTimeout(this.#restartTimer);
    this.#restartTimer = undefined;
    if (this.#down === undefined) await this.#call({ t: "close", id: 0 }).catch(() => {});
    this.#down = "redis connection closed";
    this.#failPending(this.#down);
    this.#worker.terminate();
  }

  #call(req: Extract<RedisWorkerRequest, { id: number }>): Promise<unknown> {
    if (this.#down !== undefined) return Promise.reject(new Error(this.#down));
    const id = this.#nextId++;
    const worker = this.#worker;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => this.#onDeath(worker, `redis worker did not answer within ${this.#callTimeoutMs} ms`),
        this.#callTimeoutMs,
      );
      this.#pending.set(id, { resolve, reject, timer });
      this.#post({ ...req, id });
    });
  }

  #post(req: RedisWorkerRequest): void {
    this.#worker.postMessage(req);
  }

  #onReply(r: RedisWorkerReply): void {
    switch (r.t) {
      case "reply":
      case "fail": {
        const p = this.#pending.get(r.id);
        if (p === undefined) return;
        this.#pending.delete(r.id);
        clearTimeout(p.timer);
        if (r.t === "reply") p.resolve(r.value);
        else p.reject(new Error(r.error));
        return;
      }
      case "ready":
        this.#restarts.reset();
        this.#events?.ready();
        return;
      case "closed":
        this.#events?.closed();
        return;
      case "error":
        this.#events?.error(r.message, r.refusal);
        return;
    }
  }

  #failPending(reason: string): void {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) {
      clearTimeout(p.timer);
      p.reject(new Error(reason));
    }
  }

  /**
   * The worker died (an uncaught error), sent something unreadable or stopped answering: fail what it held, report
   * the connection lost, replace it.
   */
  #onDeath(worker: Worker, reason: string): void {
    if (worker !== this.#worker || this.#down !== undefined) return;
    this.#down = reason;
    worker.terminate();
    this.#failPending(reason);
    // Before the first init answered, start() reports the worker unavailable; after close() nothing is replaced.
    if (!this.#initialised || this.#closed) return;
    const delay = this.#restarts.next();
    this.#o.logger.error(`${reason}; replacing it`, { inMs: delay });
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
        this.#worker = WorkerRedisLink.#spawn(this.#o);
      } catch (err) {
        this.#o.logger.error("starting a redis worker failed", { error: errorMessage(err) });
        this.#scheduleRestart();
        return;
      }
      // A failed init is a death: #onDeath has logged it and scheduled the next attempt.
      this.#init().catch(() => {});
      // Right behind init, so no command reaches the new worker's client before its events are wired.
      if (this.#events !== undefined) this.#post({ t: "start" });
    }, wait);
  }
}
