/**
 * Kafka producers running in a Web Worker: record encoding and network handling leave the caller's thread
 * (an HTTP server's), which only posts batches of ready-made records and gets per-record deliveries back.
 * @module
 */
import type { Logger } from "../log.ts";
import { errorMessage } from "../log.ts";
import { WorkerDiedError, WorkerRpc } from "../worker_rpc.ts";
import { type Delivery, failEvery, type OutboundRecord } from "./delivery.ts";
import type {
  SentAnswer,
  WorkerClientSettings,
  WorkerEvent,
  WorkerProducerSettings,
  WorkerRequest,
} from "./worker_protocol.ts";

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

/**
 * A worker thread owning WireProducers (lib/kafka/wire_producer.ts), reached through lib/worker_rpc.ts. Each
 * {@link WorkerProducer.send} is one call, so callers should hand over whole batches.
 *
 * @example
 * ```ts
 * const w = await ProducerWorker.start({ brokers, clientId: "kcl-proxy", logger, producers: [{ acks: -1 }] });
 * const [d] = await w.producer(0).send([{ topic: "t", key: "1", value: "{}", headers: { h: "v" } }]);
 * await w.close();
 * ```
 */
export class ProducerWorker {
  readonly #rpc: WorkerRpc<WorkerRequest, WorkerEvent>;
  readonly #log: Logger;
  #connected = false;
  #closed: Promise<void> | undefined;
  /**
   * Rejects when the worker thread dies on its own (an uncaught error); never resolves. From then on every send
   * fails, so a service should stop (exit 1) rather than keep accepting work it can only fail.
   */
  readonly crashed: Promise<never>;

  private constructor(rpc: WorkerRpc<WorkerRequest, WorkerEvent>, logger: Logger, crashed: Promise<never>) {
    this.#rpc = rpc;
    this.#log = logger;
    this.crashed = crashed;
  }

  /**
   * Starts the worker and connects every producer; rejects (worker stopped) when Kafka cannot be reached, with
   * {@link ProducerWorkerUnavailableError} when the worker itself could not run.
   */
  static async start(opts: ProducerWorkerOptions): Promise<ProducerWorker> {
    let reportCrash!: (err: Error) => void;
    const crashed = new Promise<never>((_, reject) => reportCrash = reject);
    // Nobody may be listening (tests, callers that only look at deliveries).
    crashed.catch(() => {});
    const rpc = new WorkerRpc<WorkerRequest, WorkerEvent>({
      name: "producer worker",
      // A static URL relative to this module keeps `deno compile` / `deno bundle` able to find the worker entry.
      entry: opts.entry ?? new URL("./producer_worker_entry.ts", import.meta.url).href,
      onEvent: (e) => opts.logger[e.level](e.msg, e.fields),
      onDeath: ({ reason, crashed, pending }) => {
        if (!crashed) return;
        opts.logger.error(reason, { pending });
        reportCrash(new Error(reason));
      },
    });
    try {
      await rpc.call({
        t: "init",
        brokers: opts.brokers,
        clientId: opts.clientId,
        debug: opts.logger.debugEnabled,
        client: opts.client ?? {},
        producers: opts.producers,
        connect: opts.connect ?? true,
      });
    } catch (err) {
      rpc.terminate();
      throw err instanceof WorkerDiedError ? new ProducerWorkerUnavailableError(err.message) : err;
    }
    const w = new ProducerWorker(rpc, opts.logger, crashed);
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
    return this.#connected && this.#rpc.dead === undefined;
  }

  /** Disconnects the producers (sends in flight are reported failed) and stops the worker. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#connected = false;
      if (this.#rpc.dead === undefined) {
        await this.#rpc.call({ t: "close" }).catch((err) =>
          this.#log.warn("producer disconnect failed", { error: errorMessage(err) })
        );
      }
      this.#rpc.terminate("producer worker stopped");
    })();
    return this.#closed;
  }

  async #send(p: number, records: OutboundRecord[]): Promise<Delivery[]> {
    if (records.length === 0) return [];
    const dead = this.#rpc.dead;
    if (dead !== undefined) return failAll(records, dead);
    let answer: SentAnswer;
    try {
      answer = await this.#rpc.call<SentAnswer>({ t: "send", p, records });
    } catch (err) {
      return failAll(records, errorMessage(err));
    }
    const deliveries = new Array<Delivery>(records.length);
    for (let i = 0; i < records.length; i++) {
      const topic = records[i]!.topic;
      const partition = answer.partitions[i] ?? -1;
      const error = answer.errors?.[i];
      deliveries[i] = partition >= 0 && (error === undefined || error === null)
        ? { ok: true, topic, partition, offset: answer.offsets[i] ?? "-1" }
        : { ok: false, topic, error: new Error(error ?? "no delivery result") };
    }
    return deliveries;
  }
}

function failAll(records: OutboundRecord[], message: string): Delivery[] {
  return failEvery(records, new Error(message));
}
