/**
 * Decides which of several brokers sharing one Redis submits: a lease key (`SET <queue>:httpbroker:leader <id> NX PX`)
 * lasting about three intervals, renewed every tick with a compare-and-set script, released at shutdown.
 * @module
 */
import type { RedisCommands } from "./redis_link.ts";

// Renew only our own lease: a lease that expired and was taken by another instance must not be stolen back.
const RENEW = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("pexpire", KEYS[1], ARGV[2]) end
return 0`;
const RELEASE = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) end
return 0`;

/** Options of {@link LeaderLease}. */
export interface LeaderLeaseOptions {
  redis: RedisCommands;
  queue: string;
  /** Unique per process. */
  id: string;
  /** Lease lifetime (ms), about three intervals. */
  ttlMs: number;
}

/** A Redis lease; {@link LeaderLease.acquireOrRenew} before each tick says whether this instance may submit. */
export class LeaderLease {
  readonly key: string;
  readonly #o: LeaderLeaseOptions;
  #held = false;

  constructor(opts: LeaderLeaseOptions) {
    this.#o = opts;
    this.key = `${opts.queue}:httpbroker:leader`;
  }

  /** Whether this instance held the lease at the last check. */
  get held(): boolean {
    return this.#held;
  }

  /** Renews a held lease or takes a free one; true when this instance is the leader for this tick. */
  async acquireOrRenew(): Promise<boolean> {
    const { redis, id, ttlMs } = this.#o;
    if (this.#held) {
      const renewed = await redis.command(["eval", RENEW, 1, this.key, id, String(ttlMs)]);
      if (Number(renewed) === 1) return true;
    }
    const set = await redis.command(["set", this.key, id, "PX", ttlMs, "NX"]);
    this.#held = set === "OK";
    return this.#held;
  }

  /** Gives the lease up so another instance takes over at its next tick. */
  async release(): Promise<void> {
    if (!this.#held) return;
    this.#held = false;
    await this.#o.redis.command(["eval", RELEASE, 1, this.key, this.#o.id]);
  }
}
