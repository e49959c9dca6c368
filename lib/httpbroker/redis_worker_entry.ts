/**
 * Web Worker entry owning the broker's Redis connection ({@link DirectRedisLink}) for {@link WorkerRedisLink}
 * (lib/httpbroker/worker_redis.ts): runs the transactions and commands the main thread posts and reports the
 * connection's events.
 * @module
 */
/// <reference lib="deno.worker" />
import { errorMessage } from "../log.ts";
import { DirectRedisLink } from "./direct_redis.ts";
import type { RedisWorkerReply, RedisWorkerRequest } from "./redis_link.ts";

let link: DirectRedisLink | undefined;

function post(reply: RedisWorkerReply): void {
  self.postMessage(reply);
}

function answer(id: number, work: () => Promise<unknown>): void {
  work().then(
    (value) => {
      try {
        post({ t: "reply", id, value });
      } catch (err) {
        // A reply that cannot be cloned is a bug on this side; the caller must still hear back.
        post({ t: "fail", id, error: `unsendable redis reply: ${errorMessage(err)}` });
      }
    },
    (err) => post({ t: "fail", id, error: errorMessage(err) }),
  );
}

function notStarted(): Promise<never> {
  return Promise.reject(new Error("redis worker not initialised"));
}

self.onmessage = (e: MessageEvent<RedisWorkerRequest>) => {
  const req = e.data;
  switch (req.t) {
    case "init":
      link = new DirectRedisLink(req.options);
      post({ t: "reply", id: req.id, value: null });
      return;
    case "start":
      link?.start({
        ready: () => post({ t: "ready" }),
        closed: () => post({ t: "closed" }),
        error: (message, refusal) => post({ t: "error", message, refusal }),
      });
      return;
    case "tx":
      answer(req.id, () => link?.transaction(req.commands) ?? notStarted());
      return;
    case "cmd":
      answer(req.id, () => link?.command(req.command) ?? notStarted());
      return;
    case "close":
      answer(req.id, async () => {
        await link?.close();
        return null;
      });
      return;
  }
};
