/**
 * Server-sent events (`text/event-stream`) per the HTML standard's parsing rules: CR, LF and CRLF line ends (also
 * split across chunks), multi-line `data:`, comments, `id:` persisting across events, `retry:`, BOM, and an
 * unterminated last event being discarded.
 * @module
 */

/** One dispatched event. */
export interface SseEvent {
  /** `event:` field, or `message` when none was given. */
  type: string;
  /** `data:` lines joined with `\n`. */
  data: string;
  /** The last event ID in force when this event was dispatched (persists across events). */
  lastEventId: string;
}

/** What the parser reports besides events. */
export interface SseParserCallbacks {
  /** A complete event (dispatched at its blank line). */
  onEvent(event: SseEvent): void;
  /** A valid `retry:` field: the server's reconnection delay in milliseconds. */
  onRetry?(ms: number): void;
  /** A comment line (without the leading colon); servers use them as keep-alives. */
  onComment?(text: string): void;
}

/**
 * Incremental parser: feed it decoded text as it arrives.
 *
 * @example
 * ```ts
 * const events: SseEvent[] = [];
 * const p = new SseParser({ onEvent: (e) => events.push(e) });
 * p.feed("event: clickstream\ndata: {\"appId\":\"a\"}\n\n");
 * ```
 */
export class SseParser {
  #buffer = "";
  #pendingCR = false;
  #started = false;
  #data = "";
  #hasData = false;
  #type = "";
  #lastEventId = "";

  /**
   * A parser at the start of a stream.
   * @param initialLastEventId the id a reconnect resumes after (sent as `Last-Event-ID`)
   */
  constructor(private readonly callbacks: SseParserCallbacks, initialLastEventId = "") {
    this.#lastEventId = initialLastEventId;
  }

  /** The last event ID seen so far (what a reconnect sends as `Last-Event-ID`). */
  get lastEventId(): string {
    return this.#lastEventId;
  }

  /** Parses the next piece of the stream (any split: events may span chunks); calls back for each complete event. */
  feed(chunk: string): void {
    if (!this.#started && chunk.length > 0) {
      this.#started = true;
      if (chunk.charCodeAt(0) === 0xfeff) chunk = chunk.slice(1);
    }
    let text = chunk;
    // A CR that ended the previous chunk already ended a line; a LF right after it belongs to that line end.
    if (this.#pendingCR) {
      this.#pendingCR = false;
      if (text.startsWith("\n")) text = text.slice(1);
    }
    let start = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      const line = this.#buffer + text.slice(start, i);
      this.#buffer = "";
      if (c === 13) {
        if (i + 1 < text.length) {
          if (text.charCodeAt(i + 1) === 10) i++;
        } else {
          this.#pendingCR = true;
        }
      }
      start = i + 1;
      this.#line(line);
    }
    this.#buffer += text.slice(start);
  }

  /** End of stream: an event without its terminating blank line is discarded, as the standard says. */
  end(): void {
    this.#buffer = "";
    this.#data = "";
    this.#hasData = false;
    this.#type = "";
    this.#pendingCR = false;
  }

  #line(line: string): void {
    if (line === "") return this.#dispatch();
    if (line.charCodeAt(0) === 58 /* : */) {
      this.callbacks.onComment?.(line.slice(1).replace(/^ /, ""));
      return;
    }
    const colon = line.indexOf(":");
    let field = line;
    let value = "";
    if (colon >= 0) {
      field = line.slice(0, colon);
      value = line.slice(colon + 1);
      if (value.charCodeAt(0) === 32) value = value.slice(1);
    }
    switch (field) {
      case "event":
        this.#type = value;
        break;
      case "data":
        this.#data += value + "\n";
        this.#hasData = true;
        break;
      case "id":
        if (!value.includes("\0")) this.#lastEventId = value;
        break;
      case "retry":
        if (/^[0-9]+$/.test(value)) this.callbacks.onRetry?.(Number(value));
        break;
    }
  }

  #dispatch(): void {
    if (!this.#hasData) {
      this.#type = "";
      return;
    }
    const data = this.#data.endsWith("\n") ? this.#data.slice(0, -1) : this.#data;
    const type = this.#type === "" ? "message" : this.#type;
    this.#data = "";
    this.#hasData = false;
    this.#type = "";
    this.callbacks.onEvent({ type, data, lastEventId: this.#lastEventId });
  }
}

/**
 * Reads a byte stream (e.g. a `fetch` body) as SSE, calling back for each event until the stream ends.
 */
export async function readSseStream(
  stream: ReadableStream<Uint8Array>,
  callbacks: SseParserCallbacks,
  initialLastEventId = "",
): Promise<string> {
  const parser = new SseParser(callbacks, initialLastEventId);
  const decoder = new TextDecoder("utf-8", { ignoreBOM: true });
  for await (const chunk of stream) parser.feed(decoder.decode(chunk, { stream: true }));
  parser.feed(decoder.decode());
  parser.end();
  return parser.lastEventId;
}

/** Serialises one event for a `text/event-stream` response (used by servers and test doubles). */
export function formatSseEvent(event: { event?: string; data?: string; id?: string; retry?: number }): string {
  let out = "";
  if (event.event !== undefined) out += `event: ${event.event}\n`;
  if (event.id !== undefined) out += `id: ${event.id}\n`;
  if (event.retry !== undefined) out += `retry: ${event.retry}\n`;
  if (event.data !== undefined) { for (const line of event.data.split(/\r\n|\r|\n/)) out += `data: ${line}\n`; }
  return out + "\n";
}
