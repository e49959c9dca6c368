/**
 * Keeps the cached states in Redis (`HSET <queue>:httpbroker:states <entity:check> <json>`) so a restart loses
 * nothing: dirty keys are written together every ~100 ms and at shutdown, the hash is loaded at start, re-written
 * after Redis comes back, and re-read when another instance sharing it changed it.
 * @module
 */
import type { Clock, TimerId } from "../clock.ts";
import type { Logger } from "../log.ts";
import { errorMessage } from "../log.ts";
import { parsePersistedState } from "./check_state.ts";
import type { RedisCommand, RedisCommands } from "./redis_link.ts";
import type { StateStore } from "./state_store.ts";

/** Options of {@link StatePersistence}. */
export interface PersistenceOptions {
  redis: RedisCommands;
  store: StateStore;
  queue: string;
  clock: Clock;
  logger: Logger;
  /** Coalescing window (ms); default 100. */
  flushDelayMs?: number;
  /** Whether Redis is usable now; flushes wait for a reconnect rather than failing in a loop. */
  connected: () => boolean;
}

const CHUNK = 5_000;

/** Group-commit writes in flight at once: 1, 2 and 4 measured alike (CPU-bound here), and one is simplest to reason about. */
const MAX_COMMITS_IN_FLIGHT = 1;

/**
 * Writes dirty states in one transaction per window and tracks a generation counter (`INCR` with each write) to
 * notice writes by other instances sharing the hash.
 */
export class StatePersistence {
  readonly hashKey: string;
  readonly genKey: string;
  readonly #o: PersistenceOptions;
  readonly #delay: number;
  #timer: TimerId | undefined;
  #flushing: Promise<void> | undefined;
  /** Answers waiting for their state to be in Redis (group commit: one write serves all that came meanwhile). */
  #waiters: Array<(persisted: boolean) => void> = [];
  #commitQueued = false;
  #commitsInFlight = 0;
  /** The newest write sent; writes on the one connection complete in the order they were sent. */
  #lastWrite: Promise<void> = Promise.resolve();
  /** The generation this instance last saw in Redis (its own writes included). */
  #knownGen = -1;
  #stopped = false;

  constructor(opts: PersistenceOptions) {
    this.#o = opts;
    this.#delay = opts.flushDelayMs ?? 100;
    this.hashKey = `${opts.queue}:httpbroker:states`;
    this.genKey = `${opts.queue}:httpbroker:generation`;
    opts.store.onDirty = () => this.#schedule();
  }

  /**
   * Merges the hash into the store after a (re)connection: states only Redis knows are added, a state both know
   * keeps the newer `time`, and then every cached state is written back (a Redis that came back empty must not lose
   * them).
   */
  async loadAndRewrite(): Promise<number> {
    const { store, logger } = this.#o;
    const [hash, gen] = await this.#readAll();
    let loaded = 0;
    for (const [key, json] of Object.entries(hash)) {
      const s = parsePersistedState(json);
      if (s === undefined || s.key !== key) {
        logger.warn("ignoring unreadable persisted state", { key });
        continue;
      }
      const mine = store.get(key);
      if (mine === undefined || (!store.isDirty(key) && s.time > mine.time)) {
        store.adopt(s);
        loaded++;
      }
    }
    this.#knownGen = gen;
    store.markDirty();
    return loaded;
  }

  /**
   * When another instance wrote to the hash since this one last looked, makes the store match it (local changes not
   * yet written win). Cheap when nothing changed: one `GET`.
   */
  async syncIfChanged(): Promise<boolean> {
    const gen = Number(await this.#o.redis.command(["get", this.genKey]) ?? 0);
    if (gen === this.#knownGen) return false;
    const { store } = this.#o;
    const [hash, readGen] = await this.#readAll();
    const seen = new Set<string>();
    for (const [key, json] of Object.entries(hash)) {
      seen.add(key);
      if (store.isDirty(key)) continue;
      const s = parsePersistedState(json);
      if (s !== undefined && s.key === key) {
        const mine = store.get(key);
        if (mine === undefined || mine.json !== json) store.adopt(s);
      }
    }
    for (const key of [...store.keys()]) {
      if (!seen.has(key) && !store.isDirty(key)) store.forget(key);
    }
    this.#knownGen = readGen;
    return true;
  }

  /**
   * Resolves true once every state cached before the call is in Redis, false when Redis is unreachable or the write
   * failed (the state stays cached and dirty, and is written once Redis is back). Group commit: the answers of one
   * task share a write, and up to {@link MAX_COMMITS_IN_FLIGHT} writes are pipelined on the connection (Redis runs
   * them in order), so a busy broker makes few, large writes and an answer waits about one round trip.
   */
  committed(): Promise<boolean> {
    if (this.#stopped || !this.#o.connected()) return Promise.resolve(false);
    return new Promise((resolve) => {
      this.#waiters.push(resolve);
      // After this task, so that the requests Deno hands over together share the write.
      if (!this.#commitQueued) {
        this.#commitQueued = true;
        queueMicrotask(() => {
          this.#commitQueued = false;
          this.#startCommits();
        });
      }
    });
  }

  #startCommits(): void {
    while (this.#waiters.length > 0 && this.#commitsInFlight < MAX_COMMITS_IN_FLIGHT) {
      const waiters = this.#waiters.splice(0);
      const answer = (persisted: boolean) => {
        for (const w of waiters) w(persisted);
      };
      // Answers already waiting when the broker stops still get their write (the final flush would make it anyway).
      if (!this.#o.connected()) {
        answer(false);
        continue;
      }
      const keys = this.#o.store.takeDirty();
      if (keys.length === 0) {
        // What they cached went out with a write still in flight (writes complete in order): answer with it.
        this.#lastWrite.then(() => answer(true), () => answer(false));
        continue;
      }
      this.#commitsInFlight++;
      this.#lastWrite = this.#write(keys);
      this.#lastWrite.then(() => true, () => false).then((persisted) => {
        this.#commitsInFlight--;
        answer(persisted);
        this.#startCommits();
      });
    }
  }

  /** Writes every dirty state now (also used at shutdown); failed keys are marked dirty again. */
  flush(): Promise<void> {
    if (this.#flushing) return this.#flushing.then(() => this.flush());
    const keys = this.#o.store.takeDirty();
    if (keys.length === 0) return Promise.resolve();
    this.#lastWrite = this.#write(keys);
    this.#flushing = this.#lastWrite.finally(() => {
      this.#flushing = undefined;
    });
    return this.#flushing;
  }

  /** Stops scheduling writes (the caller does the final {@link flush}). */
  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#o.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(): void {
    if (this.#timer !== undefined || this.#stopped) return;
    this.#timer = this.#o.clock.setTimeout(() => {
      this.#timer = undefined;
      // While Redis is down the keys stay dirty; the reconnect rewrites everything.
      if (!this.#o.connected()) return;
      this.flush().catch(() => {});
    }, this.#delay);
  }

  async #write(keys: string[]): Promise<void> {
    const { redis, store, logger } = this.#o;
    const commands: RedisCommand[] = [];
    const sets: string[] = [];
    const dels: string[] = [];
    for (const key of keys) {
      const s = store.get(key);
      if (s === undefined) dels.push(key);
      else sets.push(key, s.json);
    }
    for (let i = 0; i < sets.length; i += CHUNK * 2) {
      commands.push(["hset", this.hashKey, ...sets.slice(i, i + CHUNK * 2)]);
    }
    for (let i = 0; i < dels.length; i += CHUNK) commands.push(["hdel", this.hashKey, ...dels.slice(i, i + CHUNK)]);
    commands.push(["incr", this.genKey]);
    try {
      const replies = await redis.transaction(commands);
      const gen = Number(replies[replies.length - 1]);
      // Only our own write moved the generation by exactly one; otherwise someone else wrote too.
      if (gen === this.#knownGen + 1) this.#knownGen = gen;
    } catch (err) {
      logger.warn("persisting states failed; will retry", { error: errorMessage(err), states: keys.length });
      store.markDirty(keys);
      throw err;
    }
  }

  async #readAll(): Promise<[Record<string, string>, number]> {
    const [hash, gen] = await this.#o.redis.transaction([["hgetall", this.hashKey], ["get", this.genKey]]);
    if (!isStringRecord(hash)) throw new Error(`unexpected HGETALL reply from redis for ${this.hashKey}`);
    return [hash, Number(gen ?? 0)];
  }
}

function isStringRecord(v: unknown): v is Record<string, string> {
  return typeof v === "object" && v !== null && !Array.isArray(v) &&
    Object.values(v).every((x) => typeof x === "string");
}
