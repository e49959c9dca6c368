/**
 * Calls into a Web Worker, the one way the services talk to theirs (the Kafka producers' worker, the Redis
 * worker): numbered calls with optional deadlines, one-way messages, events the worker sends on its own, and one
 * death (a crash, an unreadable message, a call past its deadline, or termination) that fails every pending call.
 * {@link serveWorkerCalls} is the worker side. Replacing a dead worker is the owner's decision (the Redis link does,
 * the producer worker reports it and its service exits).
 *
 * Wire format: a call is the request plus `id`; its answer is `{ answer: id, value }` or `{ answer: id, error }`;
 * anything else the worker posts is an event.
 * @module
 */
import { type Clock, systemClock, type TimerId } from "./clock.ts";
import { errorMessage } from "./log.ts";

/** The worker is gone (crashed, stopped answering, or terminated): no call on it can be answered any more. */
export class WorkerDiedError extends Error {
  override name = "WorkerDiedError";
}

/** What the worker answers to call `answer`. */
type Answer = { answer: number; value: unknown } | { answer: number; error: string };

function isAnswer(m: unknown): m is Answer {
  return typeof m === "object" && m !== null && typeof (m as { answer?: unknown }).answer === "number";
}

/** Options of {@link WorkerRpc}. */
export interface WorkerRpcOptions<Event> {
  /** What the worker is called in errors and logs: `redis worker` gives "redis worker crashed: …". */
  name: string;
  /** The worker's entry module (an absolute URL; keep it a static `new URL("./x.ts", import.meta.url)` at the caller). */
  entry: string;
  /** Told each message the worker sends that is not an answer (logs, connection events). */
  onEvent?: (event: Event) => void;
  /**
   * Told once when the worker dies, after every pending call failed. `crashed` is false only for {@link
   * WorkerRpc.terminate}; `pending` is how many calls were waiting.
   */
  onDeath?: (death: { reason: string; crashed: boolean; pending: number }) => void;
  /** A call unanswered for this long means the worker is stuck: it is terminated as dead (ms); default none. */
  callTimeoutMs?: number;
  /** Times the call deadlines; default the system clock. */
  clock?: Clock;
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  timer: TimerId | undefined;
}

/**
 * One worker and the calls in flight to it.
 *
 * @example
 * ```ts
 * const entry = new URL("./x_worker_entry.ts", import.meta.url).href;
 * const rpc = new WorkerRpc<Request, Event>({ name: "x worker", entry });
 * const answer = await rpc.call<{ ok: boolean }>({ t: "init", options });
 * rpc.terminate();
 * ```
 */
export class WorkerRpc<Request extends object, Event = never> {
  readonly #worker: Worker;
  readonly #opts: WorkerRpcOptions<Event>;
  readonly #clock: Clock;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #dead: string | undefined;

  constructor(opts: WorkerRpcOptions<Event>) {
    this.#opts = opts;
    this.#clock = opts.clock ?? systemClock;
    const worker = new Worker(opts.entry, { type: "module" });
    this.#worker = worker;
    worker.onmessage = (e: MessageEvent<unknown>) => this.#onMessage(e.data);
    // An answer that cannot be read leaves a call waiting for good: as bad as a crash.
    worker.onmessageerror = () => this.#die(`${opts.name} sent an unreadable message`, true);
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      this.#die(`${opts.name} crashed: ${e.message}`, true);
    };
  }

  /** Why the worker is gone, or undefined while it lives. */
  get dead(): string | undefined {
    return this.#dead;
  }

  /** Calls waiting for an answer. */
  get pending(): number {
    return this.#pending.size;
  }

  /**
   * Posts `request` with a fresh id and resolves with the worker's answer. Rejects with the worker's error text when
   * it refused the call, and with {@link WorkerDiedError} when the worker is (or goes) dead first.
   */
  call<T>(request: Request, transfer: Transferable[] = []): Promise<T> {
    if (this.#dead !== undefined) return Promise.reject(new WorkerDiedError(this.#dead));
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      const ms = this.#opts.callTimeoutMs;
      const timer = ms === undefined
        ? undefined
        : this.#clock.setTimeout(() => this.#die(`${this.#opts.name} did not answer within ${ms} ms`, true), ms);
      this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject, timer });
      try {
        this.#worker.postMessage({ ...request, id }, transfer);
      } catch (err) {
        // Not cloneable: this call fails, the worker is fine.
        this.#settle(id);
        if (timer !== undefined) this.#clock.clearTimeout(timer);
        reject(new Error(`cannot post to the ${this.#opts.name}: ${errorMessage(err)}`, { cause: err }));
      }
    });
  }

  /** Posts a message that gets no answer; false when the worker is dead. */
  post(message: Request): boolean {
    if (this.#dead !== undefined) return false;
    this.#worker.postMessage(message);
    return true;
  }

  /** Stops the worker; pending calls fail with `reason`. */
  terminate(reason = `${this.#opts.name} stopped`): void {
    this.#die(reason, false);
  }

  #onMessage(message: unknown): void {
    if (!isAnswer(message)) {
      this.#opts.onEvent?.(message as Event);
      return;
    }
    const pending = this.#settle(message.answer);
    if (pending === undefined) return;
    if ("error" in message) pending.reject(new Error(message.error));
    else pending.resolve(message.value);
  }

  #settle(id: number): Pending | undefined {
    const pending = this.#pending.get(id);
    if (pending === undefined) return undefined;
    this.#pending.delete(id);
    if (pending.timer !== undefined) this.#clock.clearTimeout(pending.timer);
    return pending;
  }

  #die(reason: string, crashed: boolean): void {
    if (this.#dead !== undefined) return;
    this.#dead = reason;
    this.#worker.terminate();
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) {
      if (p.timer !== undefined) this.#clock.clearTimeout(p.timer);
      p.reject(new WorkerDiedError(reason));
    }
    this.#opts.onDeath?.({ reason, crashed, pending: pending.length });
  }
}

/** The parts of a worker's global scope this module uses (typed here, so no file needs the worker lib). */
interface WorkerScope {
  onmessage: ((e: MessageEvent<unknown>) => void) | null;
  postMessage(message: unknown, transfer?: Transferable[]): void;
}

const scope = globalThis as unknown as WorkerScope;

/** What a served call resolves with: the answer's value, and buffers to transfer rather than copy. */
export interface Served {
  value: unknown;
  transfer?: Transferable[];
}

/**
 * The worker side of {@link WorkerRpc}: each call (a message with an `id`) is handed to `handle`, and its result is
 * posted back as the answer (a rejection as its error text); a message without an id is handed over too, without
 * an answer. Call once, in the worker's entry module.
 *
 * @example
 * ```ts
 * serveWorkerCalls<Request>(async (req) => {
 *   if (req.t === "ping") return { value: "pong" };
 *   throw new Error(`unknown request ${req.t}`);
 * });
 * ```
 */
export function serveWorkerCalls<Request extends object>(
  handle: (request: Request) => Promise<Served | void> | Served | void,
): void {
  scope.onmessage = (e: MessageEvent<unknown>) => {
    const request = e.data as Request & { id?: unknown };
    const id = request.id;
    const result = new Promise<Served | void>((resolve) => resolve(handle(request)));
    if (typeof id !== "number") {
      result.catch((err) => console.error(`worker: one-way message failed: ${errorMessage(err)}`));
      return;
    }
    result.then(
      (served) => {
        try {
          scope.postMessage({ answer: id, value: served?.value }, served?.transfer ?? []);
        } catch (err) {
          // An answer that cannot be cloned is a bug on this side; the caller must still hear back.
          scope.postMessage({ answer: id, error: `the worker's answer cannot be sent: ${errorMessage(err)}` });
        }
      },
      (err) => scope.postMessage({ answer: id, error: errorMessage(err) }),
    );
  };
}

/** Posts an event (anything but an answer) from the worker to its {@link WorkerRpc}. */
export function postWorkerEvent(event: object, transfer: Transferable[] = []): void {
  scope.postMessage(event, transfer);
}
