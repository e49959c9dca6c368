/**
 * The broker's narrow view of Redis: whole transactions and single commands as plain data, plus connection events.
 * Plain data is what lets the client live on another thread (lib/httpbroker/worker_redis.ts): the HTTP thread then
 * never loads ioredis, whose command table alone made every request measurably slower (bench/RESULTS.md).
 * @module
 */
import type { RedisTarget } from "../config/redis_server.ts";

/** One argument of a Redis command. */
export type RedisArg = string | number;

/** A command and its arguments, e.g. `["lpush", "events", "{...}"]`. */
export type RedisCommand = [name: string, ...args: RedisArg[]];

/** Sending commands. Replies are ioredis's (`hgetall` gives an object, `incr` a number, a missing key null). */
export interface RedisCommands {
  /**
   * `MULTI`, the commands, `EXEC`; one reply per command. Rejects when Redis is unreachable, the transaction was
   * aborted, or any command failed (with that command's error).
   */
  transaction(commands: RedisCommand[]): Promise<unknown[]>;
  /** One command; rejects when Redis is unreachable or answers an error. */
  command(command: RedisCommand): Promise<unknown>;
}

/** Why a connection could not be used, when Redis told us (the receiver words its log line after it). */
export type RedisRefusal = "authentication" | "tls" | "database";

/** What a link reports about its connection; every (re)connection calls `ready`, every loss `closed`. */
export interface RedisLinkEvents {
  ready(): void;
  closed(): void;
  /** A failed attempt or a dropped connection, once per occurrence (the receiver decides what to log). */
  error(message: string, refusal?: RedisRefusal): void;
}

/** A Redis connection that reconnects on its own and fails commands fast while it is down. */
export interface RedisLink extends RedisCommands {
  /** Starts connecting; events follow. Called once. */
  start(events: RedisLinkEvents): void;
  /** Quits gracefully when connected, else drops the connection attempts. */
  close(): Promise<void>;
}

/** Where a link connects and how it logs in (plain data: it is posted to the worker). */
export interface RedisLinkOptions extends RedisTarget {
  /** Largest reconnect backoff (ms); default 2000. */
  maxBackoffMs?: number;
}

/** Main thread to the Redis worker (lib/httpbroker/redis_worker_entry.ts), over lib/worker_rpc.ts: calls, and `start`. */
export type RedisWorkerRequest =
  | { t: "init"; options: RedisLinkOptions }
  /** One-way: start connecting; the events follow. */
  | { t: "start" }
  | { t: "tx"; commands: RedisCommand[] }
  | { t: "cmd"; command: RedisCommand }
  | { t: "close" };

/** What the Redis worker tells on its own: its connection's events. */
export type RedisWorkerEvent =
  | { t: "ready" }
  | { t: "closed" }
  | { t: "error"; message: string; refusal?: RedisRefusal };
