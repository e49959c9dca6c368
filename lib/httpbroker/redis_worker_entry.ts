/**
 * Web Worker entry owning the broker's Redis connection ({@link DirectRedisLink}) for {@link WorkerRedisLink}
 * (lib/httpbroker/worker_redis.ts): runs the transactions and commands the main thread calls for and reports the
 * connection's events.
 * @module
 */
import { postWorkerEvent, serveWorkerCalls } from "../worker_rpc.ts";
import { DirectRedisLink } from "./direct_redis.ts";
import type { RedisWorkerEvent, RedisWorkerRequest } from "./redis_link.ts";

let link: DirectRedisLink | undefined;

function started(): DirectRedisLink {
  if (link === undefined) throw new Error("redis worker not initialised");
  return link;
}

const tell = (event: RedisWorkerEvent) => postWorkerEvent(event);

serveWorkerCalls<RedisWorkerRequest>(async (req) => {
  switch (req.t) {
    case "init":
      link = new DirectRedisLink(req.options);
      return { value: null };
    case "start":
      started().start({
        ready: () => tell({ t: "ready" }),
        closed: () => tell({ t: "closed" }),
        error: (message, refusal) => tell({ t: "error", message, refusal }),
      });
      return;
    case "tx":
      return { value: await started().transaction(req.commands) };
    case "cmd":
      return { value: await started().command(req.command) };
    case "close":
      await link?.close();
      return { value: null };
  }
});
