/**
 * Tells whether a Kafka broker accepts the service right now: a Metadata request (brokers only) over a connection
 * made with the service's TLS and SASL settings, at start until one succeeds and then every few seconds. Readiness
 * (`/ready`) follows it, so an outage, a refused password or an untrusted certificate shows there within seconds,
 * and so does the recovery, whether or not events are flowing.
 * @module
 */
import { type Clock, systemClock, type TimerId } from "../clock.ts";
import { backoffDelay, RECONNECT_BACKOFF } from "../backoff.ts";
import type { Logger } from "../log.ts";
import { errorMessage } from "../log.ts";
import { splitHostPort } from "../host_port.ts";
import { kafkaCheck } from "./diagnosis.ts";
import { BrokerConnection, type BrokerSecurity } from "./wire/connection.ts";
import { decodeMetadata, encodeMetadata } from "./wire/protocol.ts";

/** Options of {@link ClusterProbe}. */
export interface ClusterProbeOptions {
  /** Bootstrap brokers as `host:port`. */
  brokers: string[];
  clientId: string;
  logger: Logger;
  security?: BrokerSecurity;
  clock?: Clock;
  /** Time between probes while the cluster answers (default 5000 ms). */
  intervalMs?: number;
  /** Connect (and TLS/SASL) and answer timeout of one probe (default 3000 ms). */
  timeoutMs?: number;
  /** How the operator sets the brokers (`KCL_BOOTSTRAP_SERVERS`), named in the advice of a failure line. */
  brokersSetting?: string;
}

/**
 * Probes the cluster until stopped.
 *
 * @example
 * ```ts
 * const probe = new ClusterProbe({ brokers, clientId: "kcl-proxy", logger, security });
 * probe.start();
 * const ready = () => ({ kafka: probe.ready });
 * ```
 */
export class ClusterProbe {
  readonly #opts: ClusterProbeOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  #conn: BrokerConnection | undefined;
  #timer: TimerId | undefined;
  #ready = false;
  #everReady = false;
  #lastCause: string | undefined;
  #failures = 0;
  #stopped = false;
  #running: Promise<void> = Promise.resolve();
  readonly #waiters = new Set<() => void>();

  constructor(opts: ClusterProbeOptions) {
    this.#opts = opts;
    this.#clock = opts.clock ?? systemClock;
    this.#log = opts.logger.child({ component: "kafka-probe" });
  }

  /** Whether the last probe got an answer from a broker. */
  get ready(): boolean {
    return this.#ready;
  }

  /** Why the last probe failed, while it is failing (never a secret: broker, mechanism and broker message only). */
  get lastError(): string | undefined {
    return this.#ready ? undefined : this.#lastCause;
  }

  /** Probes now, then on a schedule: every interval while answered, with backoff (1 s doubling) while not. */
  start(): void {
    this.#tick();
  }

  /** Resolves once a probe succeeded (at once when one has). */
  whenReady(): Promise<void> {
    if (this.#ready) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.add(resolve));
  }

  /** Stops probing and closes the probe's connection. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    await this.#running;
    this.#conn?.close();
  }

  #tick(): void {
    this.#timer = undefined;
    if (this.#stopped) return;
    this.#running = this.#probe().then((ok) => {
      if (this.#stopped) return;
      const interval = this.#opts.intervalMs ?? 5_000;
      const delay = ok ? interval : Math.min(interval, backoffDelay(this.#failures, RECONNECT_BACKOFF));
      this.#timer = this.#clock.setTimeout(() => this.#tick(), delay);
    });
  }

  async #probe(): Promise<boolean> {
    const timeoutMs = this.#opts.timeoutMs ?? 3_000;
    let cause = "no bootstrap broker";
    for (const broker of this.#opts.brokers) {
      if (this.#stopped) return false;
      try {
        if (this.#conn === undefined || this.#conn.closed || this.#conn.expiring) {
          this.#conn?.close();
          this.#conn = undefined;
          this.#conn = await BrokerConnection.open({
            ...splitHostPort(broker),
            connectTimeoutMs: timeoutMs,
            requestTimeoutMs: timeoutMs,
            clock: this.#clock,
            security: this.#opts.security,
            clientId: this.#opts.clientId,
          });
        }
        const id = this.#conn.nextCorrelationId();
        await this.#conn.request(id, encodeMetadata(id, this.#opts.clientId, []), decodeMetadata);
        this.#succeeded();
        return true;
      } catch (err) {
        this.#conn?.close();
        this.#conn = undefined;
        cause = errorMessage(err);
      }
    }
    // A probe cut short by stop() is no news about Kafka.
    if (!this.#stopped) this.#failed(cause);
    return false;
  }

  #succeeded(): void {
    this.#failures = 0;
    if (!this.#ready) {
      if (this.#everReady) this.#log.info("Kafka answers again", { brokers: this.#opts.brokers });
      else this.#log.info("Kafka reachable", { brokers: this.#opts.brokers });
    }
    this.#ready = true;
    this.#everReady = true;
    this.#lastCause = undefined;
    for (const wake of this.#waiters) wake();
    this.#waiters.clear();
  }

  #failed(cause: string): void {
    this.#failures++;
    const wasReady = this.#ready;
    this.#ready = false;
    if (!this.#everReady) {
      // Start-up: one line per attempt, so an operator sees what is being waited for and why.
      this.#log.warn("waiting for Kafka: no broker accepted us; retrying", {
        brokers: this.#opts.brokers,
        attempt: this.#failures,
        error: cause,
        check: kafkaCheck(cause, this.#opts.brokersSetting),
      });
    } else if (wasReady || cause !== this.#lastCause) {
      this.#log.error("Kafka unreachable: no broker accepted us; /ready answers 503 until one does", {
        brokers: this.#opts.brokers,
        error: cause,
        check: kafkaCheck(cause, this.#opts.brokersSetting),
      });
    }
    this.#lastCause = cause;
  }
}
