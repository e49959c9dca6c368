/**
 * A {@link RedisLink} whose ioredis client runs in a Web Worker (lib/httpbroker/redis_worker.ts), so the HTTP thread
 * neither loads ioredis nor encodes Redis commands; it posts ready-made command arrays and gets replies back.
 * A worker that dies is replaced; until the new one connects, commands fail like they do while Redis is down.
 * @module
 */
import type { Logger } from "../log.ts";
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
  /** Worker entry instead of redis_worker.ts next to this module (tests). */
  entry?: string;
  /** Wait before replacing a dead worker (ms); default 1000. */
  restartDelayMs?: number;
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
}

/** A {@link RedisLink} served by a worker thread. */
export class WorkerRedisLink implements RedisLink {
  readonly #options: RedisLinkOptions;
  readonly #o: WorkerRedisOptions;
  readonly #pending = new Map<number, Pending>();
  #worker: Worker;
  #nextId = 1;
  #events: RedisLinkEvents | undefined;
  /** Set while no live worker is there to answer (crashed, being replaced, or closed). */
  #down: string | undefined;
  #closed = false;
  #restartTimer: ReturnType<typeof setTimeout> | undefined;

  private constructor(worker: Worker, options: RedisLinkOptions, o: WorkerRedisOptions) {
    this.#worker = worker;
    this.#options = options;
    this.#o = o;
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
      link.#worker.terminate();
      throw new RedisWorkerUnavailableError(err instanceof Error ? err.message : String(err));
    }
    return link;
  }

  static #spawn(o: WorkerRedisOptions): Worker {
    // A static URL relative to this module keeps `deno compile` able to embed the entry (scripts/compile.ts).
    return o.entry === undefined
      ? new Worker(new URL("./redis_worker.ts", import.meta.url).href, { type: "module" })
      : new Worker(o.entry, { type: "module" });
  }

  /** Wires the current worker's messages and posts `init`; resolves once it answered. */
  #init(): Promise<unknown> {
    const worker = this.#worker;
    worker.onmessage = (e: MessageEvent<RedisWorkerReply>) => this.#onReply(e.data);
    worker.onmessageerror = () => this.#o.logger.error("redis worker sent an unreadable message");
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      this.#onCrash(worker, e.message);
    };
    this.#down = undefined;
    return this.#call({ t: "init", id: 0, options: this.#options });
  }

  start(events: RedisLinkEvents): void {
    this.#events = events;
    this.#post({ t: "start" });
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
    if (this.#down === undefined) await this.#call({ t: "close", id: 0 }).catch(() => {});
    this.#down = "redis connection closed";
    this.#failPending(this.#down);
    this.#worker.terminate();
  }

  #call(req: Extract<RedisWorkerRequest, { id: number }>): Promise<unknown> {
    if (this.#down !== undefined) return Promise.reject(new Error(this.#down));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
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
        if (r.t === "reply") p.resolve(r.value);
        else p.reject(new Error(r.error));
        return;
      }
      case "ready":
        this.#events?.ready();
        return;
      case "closed":
        this.#events?.closed();
        return;
      case "error":
        this.#events?.error(r.message);
        return;
    }
  }

  #failPending(reason: string): void {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) p.reject(new Error(reason));
  }

  /** The worker died (an uncaught error): fail what it held, report the connection lost, replace it. */
  #onCrash(worker: Worker, message: string): void {
    if (worker !== this.#worker) return;
    const reason = `redis worker crashed: ${message}`;
    this.#down = reason;
    worker.terminate();
    this.#failPending(reason);
    // Before start() the crash is reported by init's rejection instead; after close() nothing is replaced.
    if (this.#events === undefined || this.#closed) return;
    this.#o.logger.error(`${reason}; replacing it`);
    this.#events.closed();
    this.#scheduleRestart();
  }

  #scheduleRestart(): void {
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      if (this.#closed) return;
      this.#worker = WorkerRedisLink.#spawn(this.#o);
      this.#init().then(
        () => this.#post({ t: "start" }),
        () => {
          // #onCrash already logged and scheduled the next attempt if the new worker died too.
          if (this.#down === undefined) this.#scheduleRestart();
        },
      );
    }, this.#o.restartDelayMs ?? 1000);
  }
}
