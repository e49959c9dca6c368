/**
 * The ioredis connection behind a {@link RedisLink}: run inside the Redis worker, or on the calling thread when the
 * worker cannot run (a single-file bundle carries no worker entry).
 * @module
 */
import { Redis } from "ioredis";
import { backoffDelay } from "../backoff.ts";
import { errorMessage } from "../log.ts";
import type { RedisCommand, RedisLink, RedisLinkEvents, RedisLinkOptions, RedisRefusal } from "./redis_link.ts";

/** A {@link RedisLink} over one ioredis client (pipelined). */
export class DirectRedisLink implements RedisLink {
  readonly #client: Redis;
  readonly #database: number;
  /** Whether the current connection was checked (its database is the one asked for); commands wait for it. */
  #verified = false;

  constructor(opts: RedisLinkOptions) {
    const maxBackoff = opts.maxBackoffMs ?? 2000;
    this.#database = opts.database;
    this.#client = new Redis({
      host: opts.host,
      port: opts.port,
      db: opts.database,
      ...(opts.username === undefined ? {} : { username: opts.username }),
      ...(opts.password === undefined ? {} : { password: opts.password }),
      ...(opts.tls === undefined ? {} : { tls: opts.tls.ca === undefined ? {} : { ca: [opts.tls.ca] } }),
      lazyConnect: true,
      // Fail fast while disconnected: a submit run or a flush is retried by its owner, never queued without bound.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      commandTimeout: 10_000,
      connectTimeout: 2_000,
      retryStrategy: (times) => backoffDelay(times + 1, { initialMs: 50, maxMs: maxBackoff }),
    });
  }

  start(events: RedisLinkEvents): void {
    this.#client.on("error", (err: unknown) => {
      const message = errorMessage(err);
      // ioredis reports a refused SELECT and then goes on, ready, in database 0: the check below catches it.
      if (/DB index is out of range/i.test(message)) return;
      events.error(message, refusalOf(message));
    });
    this.#client.on("ready", () => {
      this.#verify().then((problem) => {
        if (problem === undefined) {
          this.#verified = true;
          events.ready();
          return;
        }
        events.error(problem, "database");
        // Try again later (the server may be reconfigured); meanwhile nothing is written to another database.
        this.#client.disconnect(true);
      }, (err) => events.error(errorMessage(err), refusalOf(errorMessage(err))));
    });
    this.#client.on("close", () => {
      this.#verified = false;
      events.closed();
    });
    this.#client.connect().catch(() => {
      // The retry strategy keeps trying; the error event already reported why.
    });
  }

  /** Undefined when the connection uses the database asked for, else why not. */
  async #verify(): Promise<string | undefined> {
    let info: string;
    try {
      info = String(await this.#client.call("client", "info"));
    } catch (err) {
      // CLIENT INFO is Redis 6.2+; older servers fail a bad SELECT loudly enough (see the error handler).
      if (/unknown (sub)?command/i.test(errorMessage(err))) return undefined;
      throw err;
    }
    const db = /\bdb=(\d+)/.exec(info)?.[1];
    if (db === undefined || Number(db) === this.#database) return undefined;
    return `the Redis server refuses database ${this.#database} (ERR DB index is out of range): check --database ` +
      "or the URL's /db against the server's 'databases' setting";
  }

  #notVerified(): Error {
    return new Error("redis connection not ready (still connecting or refused)");
  }

  async transaction(commands: RedisCommand[]): Promise<unknown[]> {
    if (!this.#verified) throw this.#notVerified();
    const tx = this.#client.multi();
    for (const [name, ...args] of commands) tx.call(name, ...args);
    const results = await tx.exec();
    if (results === null) throw new Error("redis transaction aborted");
    const replies: unknown[] = [];
    for (const [err, reply] of results) {
      if (err) throw err;
      replies.push(reply);
    }
    return replies;
  }

  command([name, ...args]: RedisCommand): Promise<unknown> {
    if (!this.#verified) return Promise.reject(this.#notVerified());
    return this.#client.call(name, ...args);
  }

  async close(): Promise<void> {
    if (this.#client.status === "ready") {
      await this.#client.quit().catch(() => this.#client.disconnect());
    } else {
      this.#client.disconnect();
    }
  }
}

/** What a Redis error says about why we cannot use the server, when it is a refusal rather than an outage. */
function refusalOf(message: string): RedisRefusal | undefined {
  if (/WRONGPASS|NOAUTH|NOPERM|invalid password|invalid username/i.test(message)) return "authentication";
  if (/certificate|self[- ]signed|unable to verify|SSL|TLS|handshake|altnames/i.test(message)) return "tls";
  return undefined;
}
