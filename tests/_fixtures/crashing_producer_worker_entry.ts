/**
 * A producer worker entry that answers `init` and then dies on the first batch, as a worker hitting an uncaught
 * error would (tests/kcl_hardening_test.ts).
 * @module
 */
import { serveWorkerCalls } from "../../lib/worker_rpc.ts";
import type { WorkerRequest } from "../../lib/kafka/worker_protocol.ts";

serveWorkerCalls<WorkerRequest>((req) => {
  if (req.t === "init" || req.t === "close") return { value: null };
  // Uncaught on purpose: the worker's error event is what ProducerWorker must surface.
  setTimeout(() => {
    throw new Error("worker blew up");
  }, 0);
  // Never answered: the crash is.
  return new Promise(() => {});
});
