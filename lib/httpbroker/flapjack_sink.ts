/**
 * The connection to Flapjack's Redis and the one write Flapjack reads: per submit run, `MULTI`, variadic
 * `LPUSH <queue> <json>...`, for Flapjack 2 `LPUSH <queue>_actions + ...`, `EXEC`. Survives outages: ioredis
 * reconnects with backoff, commands fail fast while it is down (never queue up), and listeners hear about reconnects.
 * @module
 */
import { Redis } from "ioredis";
import type { Logger } from "../log.ts";
import { errorMessage } from "../log.ts";

/** Where the sink connects and writes. */
export interface FlapjackSinkOptions {
  host: string;
  port: number;
  database: number;
  queue: string;
  /** 2: also `LPUSH <queue>_actions "+"` per event; 1: the events list only. */
  flapjackVersion: 1 | 2;
  logger: Logger;
  /** Largest reconnect backoff (ms). */
  maxBackoffMs?: number;
}

/** Values per LPUSH: bounded so no single command buffer grows with the number of states. */
export const LPUSH_CHUNK = 10_000;

/**
 * Owns the ioredis client used by the sink, the persistence and the leader lease (one connection, pipelined).
 */
export class FlapjackSink {
  readonly client: Redis;
  readonly queue: string;
  readonly #version: 1 | 2;
  readonly #logger: Logger;
  #connected = false;
  #closed = false;
  #listeners: Array<() => void> = [];
  #readyWaiters: Array<() => void> = [];

  constructor(opts: FlapjackSinkOptions) {
    this.queue = opts.queue;
    this.#version = opts.flapjackVersion;
    this.#logger = opts.logger;
    const maxBackoff = opts.maxBackoffMs ?? 2000;
    this.client = new Redis({
      host: opts.host,
      port: opts.port,
      db: opts.database,
      lazyConnect: true,
      // Fail fast while disconnected: a submit run or a flush is retried by its owner, never queued without bound.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      commandTimeout: 10_000,
      connectTimeout: 2_000,
      retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 10), maxBackoff),
    });
    let lastError = "";
    this.client.on("error", (err: unknown) => {
      // ioredis emits one per failed attempt; log each distinct failure once.
      const msg = errorMessage(err);
      if (msg !== lastError) this.#logger.warn("redis error", { error: msg });
      lastError = msg;
    });
    this.client.on("ready", () => {
      lastError = "";
      this.#connected = true;
      this.#logger.info("connected to redis", { server: `${opts.host}:${opts.port}`, database: opts.database });
      for (const w of this.#readyWaiters.splice(0)) w();
      for (const l of this.#listeners) l();
    });
    this.client.on("close", () => {
      if (this.#connected) this.#logger.warn("lost connection to redis; reconnecting");
      this.#connected = false;
    });
  }

  /** Starts connecting; resolves at once (the first connection may come later, see {@link onReady}). */
  start(): void {
    this.client.connect().catch(() => {
      // The retry strategy keeps trying; the error event already logged why.
    });
  }

  /** Whether Redis is usable now (for `/ready`). */
  get connected(): boolean {
    return this.#connected;
  }

  /** Registers a listener for every (re)connection. */
  onReady(fn: () => void): void {
    this.#listeners.push(fn);
  }

  /** Resolves when connected, or after `ms` (false) — used at start-up so the first load happens before serving. */
  waitReady(ms: number): Promise<boolean> {
    if (this.#connected) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#readyWaiters = this.#readyWaiters.filter((w) => w !== done);
        resolve(false);
      }, ms);
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.#readyWaiters.push(done);
    });
  }

  /**
   * Writes one run's events atomically. Throws when Redis is unreachable or the transaction fails; the caller logs
   * and tries again next interval.
   */
  async submit(payloads: string[]): Promise<void> {
    if (payloads.length === 0) return;
    const tx = this.client.multi();
    for (let i = 0; i < payloads.length; i += LPUSH_CHUNK) {
      tx.lpush(this.queue, ...payloads.slice(i, i + LPUSH_CHUNK));
    }
    if (this.#version === 2) {
      const actions = `${this.queue}_actions`;
      for (let i = 0; i < payloads.length; i += LPUSH_CHUNK) {
        tx.lpush(actions, ...new Array<string>(Math.min(LPUSH_CHUNK, payloads.length - i)).fill("+"));
      }
    }
    const results = await tx.exec();
    if (results === null) throw new Error("redis transaction aborted");
    for (const [err] of results) if (err) throw err;
  }

  /** Closes the connection (after the final flush). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#connected) {
      await this.client.quit().catch(() => this.client.disconnect());
    } else {
      this.client.disconnect();
    }
  }
}
