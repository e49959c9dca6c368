/**
 * Kafka producers running in a Web Worker: record encoding and network handling leave the caller's thread
 * (an HTTP server's), which only posts batches of ready-made records and gets per-record deliveries back.
 * @module
 */
import type { Logger } from "../log.ts";
import { type Delivery, failEvery, type OutboundRecord } from "./delivery.ts";
import type { WorkerClientSettings, WorkerProducerSettings, WorkerReply, WorkerRequest } from "./worker_protocol.ts";

export type { WorkerClientSettings, WorkerProducerSettings } from "./worker_protocol.ts";

/** Options of {@link ProducerWorker.start}. */
export interface ProducerWorkerOptions {
  brokers: string[];
  clientId: string;
  /** Receives the worker's log entries (producer warnings). */
  logger: Logger;
  /** Timeouts and retry policy of the worker's producers. */
  client?: WorkerClientSettings;
  /** Worker entry module instead of producer_worker_entry.ts next to this file (tests of a missing entry). */
  entry?: string;
  /** One entry per producer; {@link ProducerWorker.producer} takes the index. */
  producers: WorkerProducerSettings[];
  /**
   * Connect the producers before `start` resolves, rejecting when no broker can be reached (default true). With
   * false they connect on their first send, and retry from there: for services that start while Kafka is down.
   */
  connect?: boolean;
}

/** One producer of a {@link ProducerWorker}: the same `send` contract as WireProducer. */
export interface WorkerProducer {
  /** One {@link Delivery} per record, same order; never rejects (a dead worker fails every record). */
  send(records: OutboundRecord[]): Promise<Delivery[]>;
  readonly connected: boolean;
}

/**
 * The worker thread could not run (its entry module failed to load, e.g. in a single-file `deno bundle` output,
 * which does not carry worker entries). Callers may fall back to producing on their own thread.
 */
export class ProducerWorkerUnavailableError extends Error {
  override name = "ProducerWorkerUnavailableError";
}

type Pending =
  | { kind: "done"; resolve: (error: string | undefined) => void }
  | { kind: "send"; records: OutboundRecord[]; resolve: (d: Delivery[]) => void };

/**
 * A worker thread owning WireProducers (lib/kafka/wire_producer.ts). Each {@link WorkerProducer.send} is one postMessage, so callers should
 * hand over whole batches.
 *
 * @example
 * ```ts
 * const w = await ProducerWorker.start({ brokers, clientId: "kcl-proxy", logger, producers: [{ acks: -1 }] });
 * const [d] = await w.producer(0).send([{ topic: "t", key: "1", value: "{}", headers: { h: "v" } }]);
 * await w.close();
 * ```
 */
export class ProducerWorker {
  readonly #worker: Worker;
  readonly #log: Logger;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #connected = false;
  #dead: string | undefined;
  #crashed = false;
  #closed: Promise<void> | undefined;
  #reportCrash!: (err: Error) => void;
  /**
   * Rejects when the worker thread dies on its own (an uncaught error); never resolves. From then on every send
   * fails, so a service should stop (exit 1) rather than keep accepting work it can only fail.
   */
  readonly crashed: Promise<never>;

  private constructor(worker: Worker, logger: Logger) {
    this.#worker = worker;
    this.#log = logger;
    this.crashed = new Promise<never>((_, reject) => this.#reportCrash = reject);
    // Nobody may be listening (tests, callers that only look at deliveries).
    this.crashed.catch(() => {});
    worker.onmessage = (e: MessageEvent<WorkerReply>) => this.#onReply(e.data);
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      this.#crashed = true;
      const reason = `producer worker crashed: ${e.message}`;
      if (this.#dead === undefined) this.#log.error(reason, { pending: this.#pending.size });
      this.#fail(reason);
      this.#reportCrash(new Error(reason));
    };
    worker.onmessageerror = () => this.#log.error("producer worker sent an unreadable message");
  }

  /**
   * Starts the worker and connects every producer; rejects (worker stopped) when Kafka cannot be reached, with
   * {@link ProducerWorkerUnavailableError} when the worker itself could not run.
   */
  static async start(opts: ProducerWorkerOptions): Promise<ProducerWorker> {
    // A static URL relative to this module keeps `deno compile` / `deno bundle` able to find the worker entry.
    const worker = opts.entry === undefined
      ? new Worker(new URL("./producer_worker_entry.ts", import.meta.url).href, { type: "module" })
      : new Worker(opts.entry, { type: "module" });
    const w = new ProducerWorker(worker, opts.logger);
    const error = await w.#call({
      t: "init",
      id: 0,
      brokers: opts.brokers,
      clientId: opts.clientId,
      debug: opts.logger.debugEnabled,
      client: opts.client ?? {},
      producers: opts.producers,
      connect: opts.connect ?? true,
    });
    if (error !== undefined) {
      const crashed = w.#crashed;
      w.#terminate();
      throw crashed ? new ProducerWorkerUnavailableError(error) : new Error(error);
    }
    w.#connected = true;
    return w;
  }

  /** Producer number `index` (the order of `producers` in the options). */
  producer(index: number): WorkerProducer {
    const send = (records: OutboundRecord[]) => this.#send(index, records);
    const connected = () => this.#connected;
    return {
      send,
      get connected() {
        return connected();
      },
    };
  }

  /** Whether every producer is connected and the worker alive. */
  get connected(): boolean {
    return this.#connected;
  }

  /** Disconnects the producers (sends in flight are reported failed) and stops the worker. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#connected = false;
      if (this.#dead === undefined) {
        const error = await this.#call({ t: "close", id: 0 });
        if (error !== undefined) this.#log.warn("producer disconnect failed", { error });
      }
      this.#terminate();
    })();
    return this.#closed;
  }

  #terminate(): void {
    this.#worker.terminate();
    this.#fail("producer worker stopped");
  }

  #call(req: WorkerRequest & { t: "init" | "close" }): Promise<string | undefined> {
    if (this.#dead !== undefined) return Promise.resolve(this.#dead);
    const id = this.#nextId++;
    return new Promise((resolve) => {
      this.#pending.set(id, { kind: "done", resolve });
      this.#worker.postMessage({ ...req, id });
    });
  }

  #send(p: number, records: OutboundRecord[]): Promise<Delivery[]> {
    if (records.length === 0) return Promise.resolve([]);
    if (this.#dead !== undefined) return Promise.resolve(failAll(records, this.#dead));
    const id = this.#nextId++;
    return new Promise((resolve) => {
      this.#pending.set(id, { kind: "send", records, resolve });
      const req: WorkerRequest = { t: "send", id, p, records };
      try {
        this.#worker.postMessage(req);
      } catch (err) {
        this.#pending.delete(id);
        resolve(failAll(records, `cannot hand records to the producer worker: ${(err as Error).message}`));
      }
    });
  }

  #onReply(r: WorkerReply): void {
    if (r.t === "log") {
      this.#log[r.level](r.msg, r.fields);
      return;
    }
    const pending = this.#pending.get(r.id);
    if (pending === undefined) return;
    this.#pending.delete(r.id);
    if (pending.kind === "done") {
      pending.resolve(r.t === "done" ? r.error : "unexpected reply");
      return;
    }
    if (r.t !== "sent") {
      pending.resolve(failAll(pending.records, r.error ?? "unexpected reply"));
      return;
    }
    const { records } = pending;
    const deliveries = new Array<Delivery>(records.length);
    for (let i = 0; i < records.length; i++) {
      const topic = records[i]!.topic;
      const partition = r.partitions[i] ?? -1;
      const error = r.errors?.[i];
      deliveries[i] = partition >= 0 && (error === undefined || error === null)
        ? { ok: true, topic, partition, offset: r.offsets[i] ?? "-1" }
        : { ok: false, topic, error: new Error(error ?? "no delivery result") };
    }
    pending.resolve(deliveries);
  }

  /** Answers everything pending with `reason` and refuses further work. */
  #fail(reason: string): void {
    this.#dead ??= reason;
    this.#connected = false;
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) {
      if (p.kind === "done") p.resolve(reason);
      else p.resolve(failAll(p.records, reason));
    }
  }
}

function failAll(records: OutboundRecord[], message: string): Delivery[] {
  return failEvery(records, new Error(message));
}
