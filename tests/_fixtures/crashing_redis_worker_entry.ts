/**
 * The real Redis worker entry, plus two commands that break it: `crash-worker` kills the worker with an uncaught
 * error, as a bug in ioredis would; `ignore-me` is never answered, as by a stuck worker
 * (tests/httpbroker_redis_link_test.ts, tests/httpbroker_submit_test.ts).
 * @module
 */
/// <reference lib="deno.worker" />
import "../../lib/httpbroker/redis_worker_entry.ts";
import type { RedisWorkerRequest } from "../../lib/httpbroker/redis_link.ts";

// The entry's handler does not use `this`; typed as a plain function so this file also checks outside a worker.
const real = self.onmessage as ((e: MessageEvent<RedisWorkerRequest>) => void) | null;
self.onmessage = (e: MessageEvent<RedisWorkerRequest>) => {
  if (e.data.t === "cmd" && e.data.command[0] === "crash-worker") {
    // Uncaught on purpose: the worker's error event is what WorkerRedisLink must handle.
    setTimeout(() => {
      throw new Error("redis worker blew up");
    }, 0);
    return;
  }
  if (e.data.t === "cmd" && e.data.command[0] === "ignore-me") return;
  real?.(e);
};
