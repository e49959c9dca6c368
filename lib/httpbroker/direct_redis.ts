/**
 * The ioredis connection behind a {@link RedisLink}: run inside the Redis worker, or on the calling thread when the
 * worker cannot run (a single-file bundle carries no worker entry).
 * @module
 */
import { Redis } from "ioredis";
import { errorMessage } from "../log.ts";
import type { RedisCommand, RedisLink, RedisLinkEvents, RedisLinkOptions } from "./redis_link.ts";

/** A {@link RedisLink} over one ioredis client (pipelined). */
export class DirectRedisLink implements RedisLink {
  readonly #client: Redis;

  constructor(opts: RedisLinkOptions) {
    const maxBackoff = opts.maxBackoffMs ?? 2000;
    this.#client = new Redis({
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
  }

  start(events: RedisLinkEvents): void {
    this.#client.on("error", (err: unknown) => events.error(errorMessage(err)));
    this.#client.on("ready", () => events.ready());
    this.#client.on("close", () => events.closed());
    this.#client.connect().catch(() => {
      // The retry strategy keeps trying; the error event already reported why.
    });
  }

  async transaction(commands: RedisCommand[]): Promise<unknown[]> {
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
