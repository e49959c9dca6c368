/**
 * Follows Houston's SSE broadcast: a `clickstream` event names an app whose integrations changed. Reconnects
 * forever (1 s doubling to 30 s, or the server's `retry:`), resuming with `Last-Event-ID`, and reports each
 * reconnect so entries cached before the gap can be treated as expired.
 * @module
 */
import { z } from "zod";
import { Backoff, RECONNECT_BACKOFF } from "../backoff.ts";
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import { errorMessage } from "../log.ts";
import { readSseStream, type SseEvent } from "../sse.ts";
import type { Fetch, TokenProvider } from "./houston_client.ts";

const clickstreamData = z.object({ appId: z.string().min(1) });

/** Options of {@link SseSubscriber}. */
export interface SseSubscriberOptions {
  url: string;
  tokens: TokenProvider;
  clock: Clock;
  logger: Logger;
  fetch?: Fetch;
  /** An app's integrations changed. */
  onClickstream(appId: string): void;
  /** Connected after a gap that began at `disconnectedAt` (the subscriber's start for the first connection). */
  onConnected?(disconnectedAt: number): void;
  /** Any other event type (heartbeat, ...). */
  onIgnored?(type: string): void;
  /** First reconnect delay; default 1000 ms. */
  initialBackoffMs?: number;
  /** Longest reconnect delay; default 30000 ms. */
  maxBackoffMs?: number;
  /**
   * Longest line, and longest event (bytes since the last blank line), the stream may send before it is dropped
   * and reconnected; default 1 MiB. Without it a broken or hostile server could grow the parser's buffer forever.
   */
  maxLineBytes?: number;
}

/** Shortest wait before a reconnect, whatever the server's `retry:` says (a `retry: 0` must not spin). */
const MIN_RECONNECT_MS = 250;

/** Thrown into the stream when a line or event outgrows {@link SseSubscriberOptions.maxLineBytes}. */
class SseLineTooLongError extends Error {
  override name = "SseLineTooLongError";
}

/**
 * Passes bytes through unchanged while counting the current line and the current event (bytes since the last blank
 * line, CR, LF and CRLF line ends alike); errors the stream once either exceeds `max`.
 */
function limitLines(max: number): TransformStream<Uint8Array, Uint8Array> {
  let line = 0;
  let event = 0;
  let afterCR = false;
  let comment = false;
  return new TransformStream({
    transform(chunk, controller) {
      for (let i = 0; i < chunk.length; i++) {
        const c = chunk[i]!;
        if (c === 10 || c === 13) {
          const crlf = c === 10 && afterCR;
          afterCR = c === 13;
          if (crlf) continue;
          if (line === 0) event = 0;
          // Keep-alive comments without a blank line after them must not add up to an oversized event.
          else if (comment) event -= line;
          line = 0;
          continue;
        }
        afterCR = false;
        if (line === 0) comment = c === 58;
        line++;
        event++;
      }
      if (line > max || event > max) {
        controller.error(new SseLineTooLongError(`SSE line or event longer than ${max} bytes`));
        return;
      }
      controller.enqueue(chunk);
    },
  });
}

/**
 * The SSE client.
 *
 * @example
 * ```ts
 * const sse = new SseSubscriber({ url, tokens, clock, logger, onClickstream: (id) => cache.refresh(id) });
 * sse.start();
 * // ...
 * await sse.stop();
 * ```
 */
export class SseSubscriber {
  readonly #o: SseSubscriberOptions;
  readonly #abort = new AbortController();
  #loop: Promise<void> | undefined;
  #connected = false;
  #lastEventId = "";
  #serverRetryMs: number | undefined;
  /** Number of successful connections so far. */
  connections = 0;

  constructor(opts: SseSubscriberOptions) {
    this.#o = opts;
  }

  /** Whether a stream is open now. */
  get connected(): boolean {
    return this.#connected;
  }

  /** The last event id received (sent as `Last-Event-ID` on reconnect). */
  get lastEventId(): string {
    return this.#lastEventId;
  }

  /** Starts the connect/read/reconnect loop. */
  start(): void {
    this.#loop ??= this.#run();
  }

  /** Closes the stream and ends the loop. */
  async stop(): Promise<void> {
    this.#abort.abort(new Error("SSE subscriber stopped"));
    await this.#loop;
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    const backoff = new Backoff({
      initialMs: this.#o.initialBackoffMs ?? RECONNECT_BACKOFF.initialMs,
      maxMs: this.#o.maxBackoffMs ?? RECONNECT_BACKOFF.maxMs,
    });
    let disconnectedAt = this.#o.clock.now();
    while (!signal.aborted) {
      try {
        const token = await this.#o.tokens.token(signal);
        const headers: Record<string, string> = { accept: "text/event-stream", authorization: token };
        if (this.#lastEventId !== "") headers["last-event-id"] = this.#lastEventId;
        const res = await (this.#o.fetch ?? fetch)(this.#o.url, { headers, signal });
        if (res.status === 401 || res.status === 403) this.#o.tokens.rejected(token);
        if (res.status !== 200 || res.body === null) {
          await res.body?.cancel();
          throw new Error(`SSE endpoint answered ${res.status}`);
        }
        this.#connected = true;
        this.connections++;
        backoff.reset();
        this.#o.logger.info("SSE connected", { url: this.#o.url, lastEventId: this.#lastEventId || undefined });
        this.#o.onConnected?.(disconnectedAt);
        try {
          const body = res.body.pipeThrough(limitLines(this.#o.maxLineBytes ?? 1024 * 1024));
          this.#lastEventId = await readSseStream(body, {
            onEvent: (e) => this.#event(e),
            onRetry: (ms) => this.#serverRetryMs = ms,
          }, this.#lastEventId);
        } finally {
          this.#connected = false;
          disconnectedAt = this.#o.clock.now();
        }
        if (!signal.aborted) this.#o.logger.warn("SSE stream ended; reconnecting");
      } catch (err) {
        if (signal.aborted) break;
        this.#o.logger.warn("SSE connection failed", { url: this.#o.url, error: errorMessage(err) });
      }
      if (signal.aborted) break;
      // The server's `retry:` wins; our own backoff still grows meanwhile.
      const ours = backoff.next();
      const delay = Math.max(this.#serverRetryMs ?? ours, MIN_RECONNECT_MS);
      try {
        await this.#o.clock.sleep(delay, signal);
      } catch {
        break;
      }
    }
  }

  #event(e: SseEvent): void {
    // readSseStream reports the id at the end; keep it current so a cut mid-stream resumes from the last event.
    this.#lastEventId = e.lastEventId;
    if (e.type !== "clickstream") {
      if (this.#o.logger.debugEnabled) this.#o.logger.debug("SSE event ignored", { type: e.type });
      this.#o.onIgnored?.(e.type);
      return;
    }
    let data: unknown;
    try {
      data = JSON.parse(e.data);
    } catch {
      data = undefined;
    }
    const parsed = clickstreamData.safeParse(data);
    if (!parsed.success) {
      this.#o.logger.warn("SSE clickstream event without an appId", { data: e.data.slice(0, 200) });
      return;
    }
    this.#o.onClickstream(parsed.data.appId);
  }
}
