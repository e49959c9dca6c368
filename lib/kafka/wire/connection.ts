/**
 * One connection to a Kafka broker, over TCP or TLS, authenticated with SASL when asked: writes request frames in
 * order, matches response frames to requests by correlation id, and fails every request in flight with a retriable
 * {@link KafkaConnectionError} when the connection breaks or a response is late.
 * @module
 */
import { type Clock, systemClock, type TimerId } from "../../clock.ts";
import { errorMessage } from "../../log.ts";
import type { SaslMechanism } from "../sasl/mechanism.ts";
import { ByteReader, MalformedResponseError } from "./bytes.ts";
import { describeErrorCode, ErrorCode, KafkaAuthenticationError, KafkaConnectionError } from "./errors.ts";
import {
  decodeSaslAuthenticate,
  decodeSaslHandshake,
  encodeSaslAuthenticate,
  encodeSaslHandshake,
} from "./protocol.ts";

/** Largest response frame accepted; a bigger size field means the stream is out of sync. */
const MAX_FRAME_BYTES = 64 * 1024 * 1024;

/** TLS towards the broker. */
export interface BrokerTls {
  /** PEM certificates of the CAs to trust; the system store when absent. */
  caCerts?: string[];
  /** Client certificate chain and its (unencrypted) key, PEM, for mutual TLS. */
  cert?: string;
  key?: string;
  /** Check the chain but not that the certificate names the broker (`ssl.endpoint.identification.algorithm=none`). */
  skipHostnameCheck?: boolean;
}

/** How connections reach and prove themselves to brokers: TLS, SASL, both or neither. */
export interface BrokerSecurity {
  tls?: BrokerTls;
  sasl?: SaslMechanism;
}

/** Options of {@link BrokerConnection.open}. */
export interface BrokerConnectionOptions {
  host: string;
  port: number;
  /** TCP connect timeout (it also bounds the TLS handshake and SASL authentication). */
  connectTimeoutMs: number;
  /** How long a response may take; the connection is closed after that (ordering is lost). */
  requestTimeoutMs: number;
  clock?: Clock;
  security?: BrokerSecurity;
  /** Sent in the SASL requests' headers. */
  clientId?: string;
}

/** Re-authenticate (by replacing the connection) once this share of a KIP-368 session lifetime has passed. */
const SESSION_RENEW_AT = 0.85;

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
  readonly #conn: Deno.Conn;
  readonly #address: string;
  readonly #requestTimeoutMs: number;
  readonly #clock: Clock;
  readonly #inFlight = new Map<number, InFlight>();
  #nextId = 1;
  #writing: Promise<void> = Promise.resolve();
  #closedReason: string | undefined;
  /** When the SASL session should be renewed (KIP-368), or Infinity. */
  #renewAt = Infinity;
  #closeWhenIdle = false;

  private constructor(conn: Deno.Conn, address: string, opts: BrokerConnectionOptions) {
    this.#conn = conn;
    this.#address = address;
    this.#requestTimeoutMs = opts.requestTimeoutMs;
    this.#clock = opts.clock ?? systemClock;
    this.#readLoop().catch((err) => this.#close(`read failed: ${(err as Error).message}`));
  }

  /**
   * Connects (TLS when `security.tls` is set) and authenticates (when `security.sasl` is set). Rejects with
   * {@link KafkaConnectionError} when the broker cannot be reached in time, and with
   * {@link KafkaAuthenticationError} when the TLS handshake or the SASL exchange fails.
   */
  static async open(opts: BrokerConnectionOptions): Promise<BrokerConnection> {
    const address = `${opts.host}:${opts.port}`;
    const clock = opts.clock ?? systemClock;
    const tls = opts.security?.tls;
    let timer: TimerId | undefined;
    let connected: Deno.Conn | undefined;
    const connecting = (async (): Promise<Deno.Conn> => {
      if (tls === undefined) {
        const tcp = await Deno.connect({ hostname: opts.host, port: opts.port });
        tcp.setNoDelay(true);
        return tcp;
      }
      const secured = await Deno.connectTls({
        hostname: opts.host,
        port: opts.port,
        caCerts: tls.caCerts,
        unsafelyDisableHostnameVerification: tls.skipHostnameCheck === true,
        ...(tls.cert !== undefined && tls.key !== undefined ? { cert: tls.cert, key: tls.key } : {}),
      });
      try {
        await secured.handshake();
        return secured;
      } catch (err) {
        try {
          secured.close();
        } catch {
          // already closed by the failed handshake
        }
        throw new KafkaAuthenticationError(`TLS handshake with ${address} failed: ${errorMessage(err)}`);
      }
    })();
    const timeout = new Promise<never>((_, reject) => {
      timer = clock.setTimeout(
        () => reject(new KafkaConnectionError(`connecting to ${address} timed out after ${opts.connectTimeoutMs} ms`)),
        opts.connectTimeoutMs,
      );
    });
    try {
      connected = await Promise.race([connecting, timeout]);
      const conn = new BrokerConnection(connected, address, opts);
      const sasl = opts.security?.sasl;
      if (sasl !== undefined) {
        try {
          await Promise.race([conn.#authenticate(sasl, opts.clientId ?? "event-router"), timeout]);
        } catch (err) {
          conn.close();
          throw err;
        }
      }
      return conn;
    } catch (err) {
      // A connect that finishes after the timeout must not leak its socket.
      if (connected === undefined) connecting.then((c) => c.close(), () => {});
      if (err instanceof KafkaConnectionError) throw err;
      throw new KafkaConnectionError(`cannot connect to ${address}: ${(err as Error).message}`);
    } finally {
      if (timer !== undefined) clock.clearTimeout(timer);
    }
  }

  /** SaslHandshake, then SaslAuthenticate rounds until the mechanism is done (KIP-152). */
  async #authenticate(mechanism: SaslMechanism, clientId: string): Promise<void> {
    const fail = (why: string) =>
      new KafkaAuthenticationError(`SASL ${mechanism.name} authentication with ${this.#address} failed: ${why}`);
    let id = this.nextCorrelationId();
    let handshake;
    try {
      handshake = await this.request(id, encodeSaslHandshake(id, clientId, mechanism.name), decodeSaslHandshake);
    } catch (err) {
      throw fail(`no SaslHandshake answer (${errorMessage(err)}); is this a SASL listener?`);
    }
    if (handshake.errorCode === ErrorCode.UNSUPPORTED_SASL_MECHANISM) {
      throw fail(
        `the broker does not enable ${mechanism.name} (it enables ${handshake.mechanisms.join(", ") || "none"})`,
      );
    }
    if (handshake.errorCode !== 0) throw fail(describeErrorCode(handshake.errorCode));
    const exchange = mechanism.exchange();
    let message: Uint8Array | null;
    try {
      message = await exchange.start();
    } catch (err) {
      throw fail(errorMessage(err));
    }
    while (message !== null) {
      id = this.nextCorrelationId();
      const answer = await this.request(id, encodeSaslAuthenticate(id, clientId, message), decodeSaslAuthenticate);
      if (answer.errorCode !== 0) {
        throw fail(`${describeErrorCode(answer.errorCode)}: ${answer.errorMessage ?? "no message from the broker"}`);
      }
      try {
        message = await exchange.next(answer.message);
      } catch (err) {
        throw fail(errorMessage(err));
      }
      if (message === null && answer.sessionLifetimeMs > 0) {
        this.#renewAt = this.#clock.now() + answer.sessionLifetimeMs * SESSION_RENEW_AT;
      }
    }
  }

  /**
   * Whether this connection should be replaced: its SASL session is close to the lifetime the broker announced
   * (KIP-368), after which the broker would close it. A new connection authenticates afresh.
   */
  get expiring(): boolean {
    return this.#clock.now() >= this.#renewAt;
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

  /** Refuses new requests and closes once the requests in flight have their answers. */
  closeWhenIdle(): void {
    this.#closeWhenIdle = true;
    if (this.#inFlight.size === 0) this.#close("replaced (SASL session renewal)");
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
    if (this.#closeWhenIdle && this.#inFlight.size === 0) {
      queueMicrotask(() => this.#close("replaced (SASL session renewal)"));
    }
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
    // TLS 1.3 finishes the client's handshake before the server has checked its certificate, so a refused client
    // certificate arrives as an alert on the first read: it is a TLS failure, not a network one.
    const error = /fatal alert/i.test(reason)
      ? new KafkaAuthenticationError(
        `TLS with ${this.#address} failed: the broker sent ${reason.replace(/^read failed: /, "")}`,
      )
      : new KafkaConnectionError(`connection to ${this.#address} lost: ${reason}`);
    for (const p of this.#inFlight.values()) {
      this.#clock.clearTimeout(p.timer);
      p.reject(error);
    }
    this.#inFlight.clear();
  }
}
