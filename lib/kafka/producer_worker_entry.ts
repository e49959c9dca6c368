/**
 * Web Worker entry that owns the producers of {@link ProducerWorker} (lib/kafka/worker_producer.ts): it encodes
 * and sends the batches the main thread posts and answers with per-record partitions/offsets or errors.
 * @module
 */
import { type Delivery, failEvery } from "./delivery.ts";
import { WireProducer } from "./wire_producer.ts";
import { brokerSecurity } from "./security.ts";
import type { LogFields, Logger, LogLevel } from "../log.ts";
import { errorMessage } from "../log.ts";
import { postWorkerEvent, type Served, serveWorkerCalls } from "../worker_rpc.ts";
import type { SentAnswer, WorkerEvent, WorkerRequest } from "./worker_protocol.ts";

/** Forwards log entries to the main thread, where the service's logger writes them. */
function forwardingLogger(debugEnabled: boolean, fields: LogFields): Logger {
  const emit = (level: LogLevel, msg: string, extra?: LogFields) => {
    if (level === "debug" && !debugEnabled) return;
    const all = extra === undefined ? fields : { ...fields, ...extra };
    const event: WorkerEvent = { t: "log", level, msg, fields: all };
    try {
      postWorkerEvent(event);
    } catch {
      // Fields that cannot be cloned (functions, sockets) are sent as their JSON form.
      postWorkerEvent({ ...event, fields: JSON.parse(safeJson(all)) });
    }
  };
  return {
    debugEnabled,
    debug: (msg, f) => emit("debug", msg, f),
    info: (msg, f) => emit("info", msg, f),
    warn: (msg, f) => emit("warn", msg, f),
    error: (msg, f) => emit("error", msg, f),
    child: (f) => forwardingLogger(debugEnabled, { ...fields, ...f }),
  };
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v) ?? "{}";
  } catch {
    return "{}";
  }
}

let producers: WireProducer[] = [];

async function handle(req: WorkerRequest): Promise<Served> {
  switch (req.t) {
    case "init": {
      try {
        const logger = forwardingLogger(req.debug, {});
        const { security: settings, ...client } = req.client;
        // One security object for all producers of the worker: they share an OAUTHBEARER token.
        const security = settings === undefined ? undefined : brokerSecurity(settings);
        producers = req.producers.map((o) =>
          new WireProducer({ ...client, ...o, security, brokers: req.brokers, clientId: req.clientId, logger })
        );
        if (req.connect) await Promise.all(producers.map((p) => p.connect()));
        return { value: null };
      } catch (err) {
        await Promise.allSettled(producers.map((p) => p.disconnect()));
        throw err;
      }
    }
    case "send": {
      const producer = producers[req.p];
      let deliveries: Delivery[];
      if (producer === undefined) {
        deliveries = failEvery(req.records, new Error(`no producer #${req.p}`));
      } else {
        deliveries = await producer.send(req.records);
      }
      const n = req.records.length;
      const partitions = new Int32Array(n);
      const offsets = new Array<string>(n);
      let errors: (string | null)[] | undefined;
      for (let i = 0; i < n; i++) {
        const d = deliveries[i];
        if (d !== undefined && d.ok) {
          partitions[i] = d.partition;
          offsets[i] = d.offset;
        } else {
          partitions[i] = -1;
          offsets[i] = "-1";
          (errors ??= new Array<string | null>(n).fill(null))[i] = d === undefined
            ? "no delivery result"
            : errorMessage(d.error);
        }
      }
      const answer: SentAnswer = { partitions, offsets, errors };
      return { value: answer, transfer: [partitions.buffer] };
    }
    case "close":
      await Promise.allSettled(producers.map((p) => p.disconnect()));
      return { value: null };
  }
}

serveWorkerCalls<WorkerRequest>(handle);
