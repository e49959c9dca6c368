/**
 * A Kafka-protocol cluster hosted in this process: librdkafka's mock cluster loaded through `Deno.dlopen`.
 * Used by `event-router dev` as its embedded broker and by the tests as a real TCP Kafka endpoint with fault injection.
 * @module
 */
import { ErrorCode } from "../lib/kafka/wire/errors.ts";

/** The command that installs the shared library this module loads. */
export const LIBRDKAFKA_INSTALL_COMMAND = "apt-get install -y librdkafka1";

/** Thrown by {@link MockKafkaCluster.start} when librdkafka cannot be loaded. */
export class LibrdkafkaMissingError extends Error {
  constructor(detail: string) {
    super(
      `librdkafka (librdkafka.so.1) could not be loaded; install it with: ${LIBRDKAFKA_INSTALL_COMMAND}` +
        ` (${detail})`,
    );
    this.name = "LibrdkafkaMissingError";
  }
}

/** Thrown when a mock cluster call returns a librdkafka error code. */
export class MockKafkaError extends Error {
  /** The `rd_kafka_resp_err_t` value, e.g. 36 for TOPIC_ALREADY_EXISTS. */
  readonly code: number;
  constructor(operation: string, code: number, name: string, description: string) {
    super(`${operation} failed: librdkafka error ${code} ${name}: ${description}`);
    this.name = "MockKafkaError";
    this.code = code;
  }
}

/** Kafka protocol request types (ApiKey), for {@link MockKafkaCluster.pushRequestErrors}. */
export const KafkaApiKey = {
  Produce: 0,
  Fetch: 1,
  ListOffsets: 2,
  Metadata: 3,
  OffsetCommit: 8,
  OffsetFetch: 9,
  FindCoordinator: 10,
  JoinGroup: 11,
  Heartbeat: 12,
  LeaveGroup: 13,
  SyncGroup: 14,
  DescribeGroups: 15,
  ListGroups: 16,
  ApiVersions: 18,
  CreateTopics: 19,
  InitProducerId: 22,
  AddPartitionsToTxn: 24,
  AddOffsetsToTxn: 25,
  EndTxn: 26,
  TxnOffsetCommit: 28,
} as const;

/**
 * Kafka error codes to inject: the protocol's (lib/kafka/wire/errors.ts), and `TRANSPORT`, librdkafka's own code: the
 * mock broker drops the connection instead of answering.
 */
export const KafkaErrorCode = { ...ErrorCode, TRANSPORT: -195 } as const;

const SYMBOLS = {
  rd_kafka_conf_new: { parameters: [], result: "pointer" },
  rd_kafka_conf_set: { parameters: ["pointer", "buffer", "buffer", "buffer", "usize"], result: "i32" },
  rd_kafka_conf_destroy: { parameters: ["pointer"], result: "void" },
  rd_kafka_new: { parameters: ["i32", "pointer", "buffer", "usize"], result: "pointer" },
  rd_kafka_destroy: { parameters: ["pointer"], result: "void" },
  rd_kafka_err2str: { parameters: ["i32"], result: "pointer" },
  rd_kafka_err2name: { parameters: ["i32"], result: "pointer" },
  rd_kafka_mock_cluster_new: { parameters: ["pointer", "i32"], result: "pointer" },
  rd_kafka_mock_cluster_destroy: { parameters: ["pointer"], result: "void" },
  rd_kafka_mock_cluster_bootstraps: { parameters: ["pointer"], result: "pointer" },
  rd_kafka_mock_topic_create: { parameters: ["pointer", "buffer", "i32", "i32"], result: "i32" },
  rd_kafka_mock_broker_set_down: { parameters: ["pointer", "i32"], result: "i32" },
  rd_kafka_mock_broker_set_up: { parameters: ["pointer", "i32"], result: "i32" },
  rd_kafka_mock_broker_set_rtt: { parameters: ["pointer", "i32", "i32"], result: "i32" },
  rd_kafka_mock_push_request_errors_array: { parameters: ["pointer", "i16", "usize", "buffer"], result: "void" },
  rd_kafka_mock_clear_request_errors: { parameters: ["pointer", "i16"], result: "void" },
} as const satisfies Deno.ForeignLibraryInterface;

type Librdkafka = Deno.DynamicLibrary<typeof SYMBOLS>;

/** librdkafka's `rd_kafka_conf_res_t` success value. */
const RD_KAFKA_CONF_OK = 0;
/** `rd_kafka_type_t` producer: the handle only hosts the cluster, it never produces. */
const RD_KAFKA_PRODUCER = 0;
const LIBRARY_NAMES = ["librdkafka.so.1", "librdkafka.so"];
const ERRSTR_SIZE = 512;

const encoder = new TextEncoder();

function cString(s: string): Uint8Array<ArrayBuffer> {
  return encoder.encode(s + "\0");
}

function readErrstr(buf: Uint8Array): string {
  const end = buf.indexOf(0);
  return new TextDecoder().decode(end === -1 ? buf : buf.subarray(0, end));
}

function openLibrdkafka(): Librdkafka {
  const failures: string[] = [];
  for (const name of LIBRARY_NAMES) {
    try {
      return Deno.dlopen(name, SYMBOLS);
    } catch (err) {
      failures.push(`${name}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  throw new LibrdkafkaMissingError(failures.join("; "));
}

/** Options of {@link MockKafkaCluster.start}. */
export interface MockKafkaClusterOptions {
  /** Number of brokers, ids 1..N; default 3. */
  brokers?: number;
}

/**
 * An in-process Kafka-protocol cluster (librdkafka mock brokers listening on 127.0.0.1) with fault injection.
 * The brokers run in librdkafka's own threads, so kafkajs clients in the same process can use it.
 *
 * @example
 * ```ts
 * using cluster = MockKafkaCluster.start({ brokers: 3 });
 * cluster.createTopic("events", 3);
 * const kafka = new Kafka({ brokers: cluster.brokers });
 * ```
 */
export class MockKafkaCluster {
  /** Comma-separated `host:port` list, the form `bootstrap.servers` and kcat's `-b` take. */
  readonly bootstrapServers: string;
  /** The broker addresses one per entry, the form kafkajs takes. */
  readonly brokers: string[];
  /** Number of brokers; their ids are 1..brokerCount. */
  readonly brokerCount: number;

  #lib: Librdkafka;
  #rk: Deno.PointerObject;
  #cluster: Deno.PointerObject;
  #closed = false;

  private constructor(lib: Librdkafka, rk: Deno.PointerObject, cluster: Deno.PointerObject, brokerCount: number) {
    this.#lib = lib;
    this.#rk = rk;
    this.#cluster = cluster;
    this.brokerCount = brokerCount;
    const bootstraps = lib.symbols.rd_kafka_mock_cluster_bootstraps(cluster);
    this.bootstrapServers = bootstraps === null ? "" : new Deno.UnsafePointerView(bootstraps).getCString();
    this.brokers = this.bootstrapServers.split(",").filter((b) => b !== "");
  }

  /**
   * Starts a cluster with `brokers` brokers (default 3). Throws {@link LibrdkafkaMissingError} when librdkafka is not
   * installed. Call {@link close} when done.
   */
  static start(opts: MockKafkaClusterOptions = {}): MockKafkaCluster {
    const brokerCount = opts.brokers ?? 3;
    if (!Number.isInteger(brokerCount) || brokerCount < 1) {
      throw new RangeError(`MockKafkaCluster: brokers must be a positive integer, got ${brokerCount}`);
    }
    const lib = openLibrdkafka();
    let rk: Deno.PointerValue = null;
    try {
      const conf = lib.symbols.rd_kafka_conf_new();
      const errstr = new Uint8Array(ERRSTR_SIZE);
      // The hosting handle has no bootstrap.servers on purpose; below warning level librdkafka would print
      // CONFWARN about that to stderr on every start.
      const settings: [string, string][] = [["log_level", "3"], ["client.id", "event-router-mock-cluster"]];
      for (const [name, value] of settings) {
        const res = lib.symbols.rd_kafka_conf_set(conf, cString(name), cString(value), errstr, BigInt(ERRSTR_SIZE));
        if (res !== RD_KAFKA_CONF_OK) {
          lib.symbols.rd_kafka_conf_destroy(conf);
          throw new Error(`MockKafkaCluster: setting ${name}=${value} failed: ${readErrstr(errstr)}`);
        }
      }
      // rd_kafka_new takes ownership of conf only when it succeeds.
      rk = lib.symbols.rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, BigInt(ERRSTR_SIZE));
      if (rk === null) {
        lib.symbols.rd_kafka_conf_destroy(conf);
        throw new Error(`MockKafkaCluster: rd_kafka_new failed: ${readErrstr(errstr)}`);
      }
      const cluster = lib.symbols.rd_kafka_mock_cluster_new(rk, brokerCount);
      if (cluster === null) {
        throw new Error(`MockKafkaCluster: rd_kafka_mock_cluster_new(${brokerCount}) failed`);
      }
      return new MockKafkaCluster(lib, rk, cluster, brokerCount);
    } catch (err) {
      if (rk !== null) lib.symbols.rd_kafka_destroy(rk);
      lib.close();
      throw err;
    }
  }

  /**
   * Creates `name` with `partitions` partitions (default 1) and `replication` replicas (default 1).
   * Throws {@link MockKafkaError} with librdkafka's code on failure (e.g. the topic exists).
   */
  createTopic(name: string, partitions = 1, replication = 1): void {
    this.#check(
      `createTopic(${name}, ${partitions}, ${replication})`,
      this.#lib.symbols.rd_kafka_mock_topic_create(this.#open(), cString(name), partitions, replication),
    );
  }

  /** Disconnects broker `brokerId` (1..N, or -1 for all) and refuses new connections until {@link setBrokerUp}. */
  setBrokerDown(brokerId: number): void {
    this.#check(
      `setBrokerDown(${brokerId})`,
      this.#lib.symbols.rd_kafka_mock_broker_set_down(this.#open(), brokerId),
    );
  }

  /** Lets broker `brokerId` (1..N, or -1 for all) accept connections again. */
  setBrokerUp(brokerId: number): void {
    this.#check(`setBrokerUp(${brokerId})`, this.#lib.symbols.rd_kafka_mock_broker_set_up(this.#open(), brokerId));
  }

  /** Delays every response of broker `brokerId` (1..N, or -1 for all) by `ms` milliseconds. */
  setRtt(brokerId: number, ms: number): void {
    this.#check(
      `setRtt(${brokerId}, ${ms})`,
      this.#lib.symbols.rd_kafka_mock_broker_set_rtt(this.#open(), brokerId, ms),
    );
  }

  /**
   * Makes the next `errors.length` requests of type `apiKey` (see {@link KafkaApiKey}), on any broker, fail with
   * these error codes in order (see {@link KafkaErrorCode}).
   */
  pushRequestErrors(apiKey: number, errors: number[]): void {
    if (errors.length === 0) return;
    const cluster = this.#open();
    // librdkafka copies the array into its own error stack, so the buffer only has to live for the call.
    this.#lib.symbols.rd_kafka_mock_push_request_errors_array(
      cluster,
      apiKey,
      BigInt(errors.length),
      Int32Array.from(errors),
    );
  }

  /** Drops errors pushed with {@link pushRequestErrors} for `apiKey` that have not been used yet. */
  clearRequestErrors(apiKey: number): void {
    this.#lib.symbols.rd_kafka_mock_clear_request_errors(this.#open(), apiKey);
  }

  /** Whether {@link close} has been called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Destroys the cluster and its hosting handle and unloads librdkafka. Safe to call more than once. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#lib.symbols.rd_kafka_mock_cluster_destroy(this.#cluster);
    this.#lib.symbols.rd_kafka_destroy(this.#rk);
    this.#lib.close();
  }

  /** Same as {@link close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  #open(): Deno.PointerObject {
    if (this.#closed) throw new Error("MockKafkaCluster is closed");
    return this.#cluster;
  }

  #check(operation: string, code: number): void {
    if (code === 0) return;
    throw new MockKafkaError(operation, code, this.#errName(code), this.#errDescription(code));
  }

  #errName(code: number): string {
    const p = this.#lib.symbols.rd_kafka_err2name(code);
    return p === null ? "UNKNOWN" : new Deno.UnsafePointerView(p).getCString();
  }

  #errDescription(code: number): string {
    const p = this.#lib.symbols.rd_kafka_err2str(code);
    return p === null ? "" : new Deno.UnsafePointerView(p).getCString();
  }
}
