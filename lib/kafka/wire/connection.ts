/**
 * One TCP connection to a Kafka broker: writes request frames in order, matches response frames to requests by
 * correlation id, and fails every request in flight with a retriable {@link KafkaConnectionError} when the
 * connection breaks or a response is late.
 * @module
 */
import { type Clock, systemClock, type TimerId } from "../../clock.ts";
import { ByteReader, MalformedResponseError } from "./bytes.ts";
import { KafkaConnectionError } from "./errors.ts";

/** Largest response frame accepted; a bigger size field means the stream is out of sync. */
const MAX_FRAME_BYTES = 64 * 1024 * 1024;

/** Options of {@link BrokerConnection.open}. */
export interface BrokerConnectionOptions {
  host: string;
  port: number;
  /** TCP connect timeout. */
  connectTimeoutMs: number;
  /** How long a response may take; the connection is closed after that (ordering is lost). */
  requestTimeoutMs: number;
  clock?: Clock;
}

interface InFlight {
  decode: (r: ByteReader) => unknown;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: TimerId;
}

/**
 * A broker connection.
 *
 * @example
 * ```ts
 * const c = await BrokerConnection.open({ host: "127.0.0.1", port: 9092, connectTimeoutMs: 1000, requestTimeoutMs: 30000 });
 * const id = c.nextCorrelationId();
 * const meta = await c.request(id, encodeMetadata(id, "me", []), decodeMetadata);
 * c.close();
 * ```
 */
export class BrokerConnection {
  readonly #conn: Deno.TcpConn;
  readonly #address: string;
  readonly #requestTimeoutMs: number;
  readonly #clock: Clock;
  readonly #inFlight = new Map<number, InFlight>();
  #nextId = 1;
  #writing: Promise<void> = Promise.resolve();
  #closedReason: string | undefined;

  private constructor(conn: Deno.TcpConn, address: string, opts: BrokerConnectionOptions) {
    this.#conn = conn;
    this.#address = address;
    this.#requestTimeoutMs = opts.requestTimeoutMs;
    this.#clock = opts.clock ?? systemClock;
    conn.setNoDelay(true);
    this.#readLoop().catch((err) => this.#close(`read failed: ${(err as Error).message}`));
  }

  /** Connects; rejects with {@link KafkaConnectionError} when the broker cannot be reached in time. */
  static async open(opts: BrokerConnectionOptions): Promise<BrokerConnection> {
    const address = `${opts.host}:${opts.port}`;
    const clock = opts.clock ?? systemClock;
    let timer: TimerId | undefined;
    const connecting = Deno.connect({ hostname: opts.host, port: opts.port });
    const timeout = new Promise<never>((_, reject) => {
      timer = clock.setTimeout(
        () => reject(new KafkaConnectionError(`connecting to ${address} timed out after ${opts.connectTimeoutMs} ms`)),
        opts.connectTimeoutMs,
      );
    });
    try {
      const conn = await Promise.race([connecting, timeout]);
      return new BrokerConnection(conn, address, opts);
    } catch (err) {
      // A connect that finishes after the timeout must not leak its socket.
      connecting.then((c) => c.close(), () => {});
      if (err instanceof KafkaConnectionError) throw err;
      throw new KafkaConnectionError(`cannot connect to ${address}: ${(err as Error).message}`);
    } finally {
      if (timer !== undefined) clock.clearTimeout(timer);
    }
  }

  /** `host:port` of the broker. */
  get address(): string {
    return this.#address;
  }

  /** Whether the connection broke or was closed; a closed connection refuses new requests. */
  get closed(): boolean {
    return this.#closedReason !== undefined;
  }

  /** Number of requests awaiting their response. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** A correlation id for the next request frame. */
  nextCorrelationId(): number {
    const id = this.#nextId;
    this.#nextId = id === 0x7fffffff ? 1 : id + 1;
    return id;
  }

  /**
   * Sends a request frame built with `correlationId` and resolves with its decoded response. Without `decode` the
   * request expects no response (acks 0) and resolves once written.
   */
  request<T>(correlationId: number, frame: Uint8Array, decode?: (r: ByteReader) => T): Promise<T> {
    if (this.#closedReason !== undefined) {
      return Promise.reject(new KafkaConnectionError(`connection to ${this.#address} closed: ${this.#closedReason}`));
    }
    if (decode === undefined) return this.#write(frame) as Promise<T>;
    return new Promise<T>((resolve, reject) => {
      const timer = this.#clock.setTimeout(
        () => this.#close(`no response within ${this.#requestTimeoutMs} ms`),
        this.#requestTimeoutMs,
      );
      this.#inFlight.set(correlationId, {
        decode,
        resolve: resolve as (v: unknown) => void,
        reject,
        timer,
      });
      this.#write(frame).catch(() => {}); // a failed write closes the connection, which rejects this request
    });
  }

  /** Closes the socket; requests in flight fail with a retriable error. */
  close(): void {
    this.#close("closed by the producer");
  }

  #write(frame: Uint8Array): Promise<void> {
    const next = this.#writing.then(async () => {
      let off = 0;
      while (off < frame.length) off += await this.#conn.write(frame.subarray(off));
    });
    this.#writing = next.catch((err) => this.#close(`write failed: ${(err as Error).message}`));
    return next.catch((err) => {
      throw new KafkaConnectionError(`write to ${this.#address} failed: ${(err as Error).message}`);
    });
  }

  async #readLoop(): Promise<void> {
    let buf = new Uint8Array(64 * 1024);
    let view = new DataView(buf.buffer);
    let len = 0;
    while (this.#closedReason === undefined) {
      if (len === buf.length) {
        const bigger = new Uint8Array(buf.length * 2);
        bigger.set(buf);
        buf = bigger;
        view = new DataView(buf.buffer);
      }
      const n = await this.#conn.read(buf.subarray(len));
      if (n === null) {
        this.#close("the broker closed the connection");
        return;
      }
      len += n;
      let off = 0;
      while (len - off >= 4) {
        const size = view.getInt32(off);
        if (size < 4 || size > MAX_FRAME_BYTES) {
          this.#close(`impossible response size ${size}`);
          return;
        }
        if (len - off - 4 < size) {
          // Incomplete frame: make sure it will fit, then read more.
          if (size + 4 > buf.length) {
            const bigger = new Uint8Array(Math.max(buf.length * 2, size + 4));
            bigger.set(buf.subarray(off, len));
            buf = bigger;
            view = new DataView(buf.buffer);
            len -= off;
            off = 0;
          }
          break;
        }
        this.#deliver(buf.subarray(off + 4, off + 4 + size));
        off += 4 + size;
      }
      if (off > 0) {
        buf.copyWithin(0, off, len);
        len -= off;
      }
    }
  }

  /** Decodes a response frame while its bytes are valid (the read buffer is reused afterwards). */
  #deliver(frame: Uint8Array): void {
    const r = new ByteReader(frame);
    const id = r.int32();
    const pending = this.#inFlight.get(id);
    if (pending === undefined) {
      this.#close(`response for unknown correlation id ${id}`);
      return;
    }
    this.#inFlight.delete(id);
    this.#clock.clearTimeout(pending.timer);
    try {
      pending.resolve(pending.decode(r));
    } catch (err) {
      if (err instanceof MalformedResponseError) {
        pending.reject(new KafkaConnectionError(`malformed response from ${this.#address}: ${err.message}`));
        this.#close("malformed response");
      } else pending.reject(err as Error);
    }
  }

  #close(reason: string): void {
    if (this.#closedReason !== undefined) return;
    this.#closedReason = reason;
    try {
      this.#conn.close();
    } catch {
      // already closed by the peer
    }
    const error = new KafkaConnectionError(`connection to ${this.#address} lost: ${reason}`);
    for (const p of this.#inFlight.values()) {
      this.#clock.clearTimeout(p.timer);
      p.reject(error);
    }
    this.#inFlight.clear();
  }
}
