/**
 * A producer worker entry that answers `init` and then dies on the first batch, as a worker hitting an uncaught
 * error would (tests/kcl_hardening_test.ts).
 * @module
 */
/// <reference lib="deno.worker" />
import type { WorkerReply, WorkerRequest } from "../../lib/kafka/worker_protocol.ts";

self.onmessage = (e: MessageEvent<WorkerRequest>) => {
  const req = e.data;
  if (req.t === "init" || req.t === "close") {
    const reply: WorkerReply = { t: "done", id: req.id };
    self.postMessage(reply);
    return;
  }
  // Uncaught on purpose: the worker's error event is what ProducerWorker must surface.
  setTimeout(() => {
    throw new Error("worker blew up");
  }, 0);
};
