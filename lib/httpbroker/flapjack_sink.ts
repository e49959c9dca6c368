/**
 * The connection to Flapjack's Redis and the one write Flapjack reads: per submit run, `MULTI`, variadic
 * `LPUSH <queue> <json>...`, for Flapjack 2 `LPUSH <queue>_actions + ...`, `EXEC`. Survives outages: the link
 * reconnects with backoff, commands fail fast while it is down (never queue up), and listeners hear about reconnects.
 * @module
 */
import type { Logger } from "../log.ts";
import type { RedisCommand, RedisCommands, RedisLink, RedisRefusal } from "./redis_link.ts";

/** The error line of each refusal; the retries after it are silent until the cause changes. */
const REFUSAL_LINES: Record<RedisRefusal, string> = {
  authentication: "Redis refuses our credentials (the user and password in --server or REDIS_PASSWORD); retrying",
  tls: "TLS with Redis failed (check rediss:// and --redis-tls-ca); retrying",
  database: "Redis refuses the database; retrying",
};

/** Where the sink writes and what it says in its logs. */
export interface FlapjackSinkOptions {
  /** The connection (not started yet); the sink starts and closes it. */
  link: RedisLink;
  /** Where the link connects, for the log lines (never with a password). */
  server: string;
  queue: string;
  /** 2: also `LPUSH <queue>_actions "+"` per event; 1: the events list only. */
  flapjackVersion: 1 | 2;
  logger: Logger;
  /** Told the payloads of every submission Redis accepted (`dev` prints them; nothing is read back from Redis). */
  onSubmitted?: (payloads: string[]) => void;
}

/** Values per LPUSH: bounded so no single command buffer grows with the number of states. */
export const LPUSH_CHUNK = 10_000;

/**
 * Owns the Redis link used by the sink, the persistence and the leader lease (one connection, pipelined).
 */
export class FlapjackSink {
  /** Commands on the sink's connection, shared with the persistence and the lease. */
  readonly redis: RedisCommands;
  readonly queue: string;
  readonly #link: RedisLink;
  readonly #o: FlapjackSinkOptions;
  readonly #version: 1 | 2;
  readonly #logger: Logger;
  #connected = false;
  #closed = false;
  #refusal: { kind: RedisRefusal; message: string } | undefined;
  #listeners: Array<() => void> = [];
  #readyWaiters: Array<() => void> = [];

  constructor(opts: FlapjackSinkOptions) {
    this.#o = opts;
    this.#link = opts.link;
    this.redis = opts.link;
    this.queue = opts.queue;
    this.#version = opts.flapjackVersion;
    this.#logger = opts.logger;
  }

  /** Starts connecting; resolves at once (the first connection may come later, see {@link onReady}). */
  start(): void {
    const server = this.#o.server;
    let lastError = "";
    this.#link.start({
      error: (msg, refusal) => {
        if (refusal !== undefined) this.#refusal = { kind: refusal, message: msg };
        // The link reports each failed attempt; log each distinct failure once. A refusal is the operator's to fix.
        if (msg !== lastError) {
          if (refusal === undefined) this.#logger.warn("redis error", { server, error: msg });
          else this.#logger.error(REFUSAL_LINES[refusal], { server, error: msg });
        }
        lastError = msg;
      },
      ready: () => {
        if (lastError !== "") this.#logger.info("redis accepts us again", { server });
        lastError = "";
        this.#refusal = undefined;
        this.#connected = true;
        this.#logger.info("connected to redis", { server });
        for (const w of this.#readyWaiters.splice(0)) w();
        for (const l of this.#listeners) l();
      },
      closed: () => {
        // The connection closing after close() (the QUIT at shutdown) is no loss.
        if (this.#connected && !this.#closed) this.#logger.warn("lost connection to redis; reconnecting");
        this.#connected = false;
      },
    });
  }

  /** Why Redis refuses us, while it does (a refused password, certificate or database). */
  get refusal(): { kind: RedisRefusal; message: string } | undefined {
    return this.#refusal;
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
    const commands: RedisCommand[] = [];
    for (let i = 0; i < payloads.length; i += LPUSH_CHUNK) {
      commands.push(["lpush", this.queue, ...payloads.slice(i, i + LPUSH_CHUNK)]);
    }
    if (this.#version === 2) {
      const actions = `${this.queue}_actions`;
      for (let i = 0; i < payloads.length; i += LPUSH_CHUNK) {
        commands.push(["lpush", actions, ...new Array<string>(Math.min(LPUSH_CHUNK, payloads.length - i)).fill("+")]);
      }
    }
    await this.redis.transaction(commands);
    this.#o.onSubmitted?.(payloads);
  }

  /** Closes the connection (after the final flush). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#link.close();
  }
}
