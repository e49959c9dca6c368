/**
 * A worker for tests/worker_rpc_test.ts: answers `echo`, refuses `refuse`, never answers `hang`, crashes on `crash`,
 * and on the one-way `tell` sends an event back.
 * @module
 */
import { postWorkerEvent, serveWorkerCalls } from "../../lib/worker_rpc.ts";

type Request = { t: "echo"; value: unknown } | { t: "refuse" } | { t: "hang" } | { t: "crash" } | { t: "tell" };

serveWorkerCalls<Request>((req) => {
  switch (req.t) {
    case "echo":
      return { value: req.value };
    case "refuse":
      throw new Error("refused on purpose");
    case "hang":
      return new Promise(() => {});
    case "crash":
      setTimeout(() => {
        throw new Error("blew up on purpose");
      }, 0);
      return new Promise(() => {});
    case "tell":
      postWorkerEvent({ t: "told", at: "worker" });
      return;
  }
});
