/**
 * What a Kafka client knows about its cluster: the brokers, each wanted topic's partition leaders (kept fresh by
 * Metadata requests, at most one at a time), and one pooled connection per broker, made with the client's TLS and
 * SASL settings and replaced when it breaks or its SASL session nears its end.
 * @module
 */
import { type Clock, systemClock } from "../clock.ts";
import type { Logger } from "../log.ts";
import { asError, errorMessage } from "../log.ts";
import { splitHostPort } from "../host_port.ts";
import { BrokerConnection, type BrokerSecurity } from "./wire/connection.ts";
import { KafkaAuthenticationError, KafkaConnectionError, KafkaProtocolError } from "./wire/errors.ts";
import {
  type BrokerAddress,
  type ClusterMetadata,
  decodeApiVersions,
  decodeMetadata,
  encodeApiVersions,
  encodeMetadata,
} from "./wire/protocol.ts";

/** Options of {@link KafkaCluster}. */
export interface KafkaClusterOptions {
  /** Bootstrap brokers as `host:port` (IPv6 as `[::1]:9092`). */
  brokers: string[];
  clientId: string;
  logger: Logger;
  clock?: Clock;
  security?: BrokerSecurity;
  /** TCP connect timeout per broker (default 1000 ms, as kafkajs). */
  connectionTimeoutMs?: number;
  /** Time a broker may take to answer (default 30000 ms, as kafkajs). */
  requestTimeoutMs?: number;
  /** Partition leadership is looked up again after this long even without errors (default 300000 ms). */
  metadataMaxAgeMs?: number;
}

/** A topic as the cluster last described it: `leaders[p]` is partition p's leader (-1: none right now). */
export interface TopicState {
  errorCode: number;
  leaders: number[];
  fetchedAt: number;
}

/** One API a client needs the brokers to speak, at one version. */
export interface RequiredApi {
  name: string;
  key: number;
  version: number;
}

/**
 * The cluster as one client sees it.
 *
 * @example
 * ```ts
 * const cluster = new KafkaCluster({ brokers: ["127.0.0.1:9092"], clientId: "me", logger });
 * await cluster.connect([{ name: "Produce", key: 0, version: 3 }]);
 * cluster.want("events");
 * await cluster.ensureMetadata();
 * const leader = cluster.topic("events")?.leaders[0];
 * ```
 */
export class KafkaCluster {
  readonly #opts: KafkaClusterOptions;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #bootstrap: BrokerAddress[];
  readonly #brokers = new Map<number, BrokerAddress>();
  readonly #topics = new Map<string, TopicState>();
  /** Every topic the client uses: one metadata request keeps all of them fresh. */
  readonly #wanted = new Set<string>();
  readonly #connections = new Map<string, Promise<BrokerConnection>>();
  /** Authentication failures already logged, by broker and cause: each is logged once until it changes or heals. */
  readonly #authFailures = new Map<string, string>();
  #refreshing: Promise<void> | undefined;
  #stale = false;
  #closed = false;
  #metadataRequests = 0;

  constructor(opts: KafkaClusterOptions) {
    this.#opts = opts;
    this.#log = opts.logger.child({ component: "kafka-cluster" });
    this.#clock = opts.clock ?? systemClock;
    this.#bootstrap = opts.brokers.map((b, i) => ({ nodeId: -1 - i, ...splitHostPort(b) }));
  }

  /** Metadata requests sent so far. */
  get metadataRequests(): number {
    return this.#metadataRequests;
  }

  /** Whether {@link close} was called: every connection attempt then fails. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Reaches a bootstrap broker, checks it speaks `apis`, and learns the cluster's brokers; rejects with the last
   * broker's error when none can be reached.
   */
  async connect(apis: readonly RequiredApi[]): Promise<void> {
    let lastError: unknown;
    for (const b of this.#bootstrap) {
      try {
        const conn = await this.connectionTo(b);
        const id = conn.nextCorrelationId();
        const { errorCode, versions } = await conn.request(
          id,
          encodeApiVersions(id, this.#opts.clientId),
          decodeApiVersions,
        );
        if (errorCode !== 0) throw new KafkaProtocolError(errorCode, `answering ApiVersions from ${conn.address}`);
        for (const api of apis) {
          const range = versions.get(api.key);
          if (range === undefined || api.version < range[0] || api.version > range[1]) {
            throw new Error(
              `broker ${conn.address} does not support ${api.name} v${api.version} (supports ${
                range ? range.join("-") : "none"
              })`,
            );
          }
        }
        await this.refreshMetadata();
        return;
      } catch (err) {
        lastError = err;
      }
    }
    this.#closeConnections();
    throw asError(lastError);
  }

  /** Adds `topic` to the topics whose leaders are kept known. */
  want(topic: string): void {
    this.#wanted.add(topic);
  }

  /** What the last metadata said of `topic`. */
  topic(name: string): TopicState | undefined {
    return this.#topics.get(name);
  }

  /** The broker with id `nodeId`, if the cluster has it. */
  broker(nodeId: number): BrokerAddress | undefined {
    return this.#brokers.get(nodeId);
  }

  /** Leadership may have moved (an error said so): the next {@link ensureMetadata} asks again. */
  markStale(): void {
    this.#stale = true;
  }

  /** Looks partition leaders up again when they may have moved, are unknown, or are older than the max age. */
  async ensureMetadata(): Promise<void> {
    const maxAge = this.#opts.metadataMaxAgeMs ?? 300_000;
    for (let round = 0; round < 2; round++) {
      const now = this.#clock.now();
      let needed = this.#stale;
      if (!needed) {
        for (const topic of this.#wanted) {
          const state = this.#topics.get(topic);
          if (state === undefined || now - state.fetchedAt > maxAge) {
            needed = true;
            break;
          }
        }
      }
      if (!needed) return;
      await this.refreshMetadata();
    }
  }

  /** One metadata request at a time; callers arriving meanwhile share its outcome. */
  refreshMetadata(): Promise<void> {
    this.#refreshing ??= this.#fetchMetadata().finally(() => this.#refreshing = undefined);
    return this.#refreshing;
  }

  async #fetchMetadata(): Promise<void> {
    const topics = [...this.#wanted];
    // Known brokers first (starting at a random one), then the bootstrap list.
    const known = [...this.#brokers.values()];
    const start = known.length > 0 ? Math.floor(Math.random() * known.length) : 0;
    const candidates = [...known.slice(start), ...known.slice(0, start), ...this.#bootstrap];
    let lastError: unknown;
    for (const broker of candidates) {
      if (this.#closed) throw new KafkaConnectionError("the producer was disconnected");
      let metadata: ClusterMetadata;
      try {
        const conn = await this.connectionTo(broker);
        const id = conn.nextCorrelationId();
        this.#metadataRequests++;
        metadata = await conn.request(id, encodeMetadata(id, this.#opts.clientId, topics), decodeMetadata);
      } catch (err) {
        lastError = err;
        continue;
      }
      this.#apply(metadata);
      return;
    }
    throw new KafkaConnectionError(
      `no broker answered a metadata request (${candidates.length} tried): ${errorMessage(lastError)}`,
    );
  }

  #apply(metadata: ClusterMetadata): void {
    if (metadata.brokers.length > 0) {
      this.#brokers.clear();
      for (const b of metadata.brokers) this.#brokers.set(b.nodeId, b);
    }
    const now = this.#clock.now();
    for (const t of metadata.topics) {
      this.#topics.set(t.name, { errorCode: t.errorCode, leaders: t.leaders, fetchedAt: now });
    }
    this.#stale = false;
  }

  /** The open connection to `broker`, opening one when there is none, it broke, or its SASL session is expiring. */
  async connectionTo(broker: BrokerAddress): Promise<BrokerConnection> {
    const key = `${broker.host}:${broker.port}`;
    for (;;) {
      if (this.#closed) throw new KafkaConnectionError("the producer was disconnected");
      const existing = this.#connections.get(key);
      if (existing === undefined) break;
      const conn = await existing.catch(() => undefined);
      if (conn !== undefined && !conn.closed && !conn.expiring) return conn;
      // Re-authentication (KIP-368) by replacement: requests in flight on the old connection still get answers.
      if (conn !== undefined && conn.expiring) conn.closeWhenIdle();
      // Broken or failed to open: forget it unless someone already replaced it, then look again.
      if (this.#connections.get(key) === existing) this.#connections.delete(key);
    }
    const opening = BrokerConnection.open({
      host: broker.host,
      port: broker.port,
      connectTimeoutMs: this.#opts.connectionTimeoutMs ?? 1000,
      requestTimeoutMs: this.#opts.requestTimeoutMs ?? 30_000,
      clock: this.#clock,
      security: this.#opts.security,
      clientId: this.#opts.clientId,
    });
    this.#connections.set(key, opening);
    try {
      const conn = await opening;
      if (this.#closed) conn.close();
      if (this.#authFailures.delete(key)) this.#log.info("broker accepts us again", { broker: key });
      return conn;
    } catch (err) {
      if (this.#connections.get(key) === opening) this.#connections.delete(key);
      if (err instanceof KafkaAuthenticationError && this.#authFailures.get(key) !== err.message) {
        // Once per broker and cause: a service retrying every few seconds must not flood the log.
        this.#authFailures.set(key, err.message);
        this.#log.error("cannot authenticate with a Kafka broker; retrying with backoff", {
          broker: key,
          error: err.message,
        });
      }
      throw err;
    }
  }

  /** Closes every connection; later requests fail. */
  close(): void {
    this.#closed = true;
    this.#closeConnections();
  }

  #closeConnections(): void {
    for (const opening of this.#connections.values()) opening.then((c) => c.close(), () => {});
    this.#connections.clear();
  }
}
