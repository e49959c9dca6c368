/**
 * kcat as an independent Kafka client for tests: reads back what a service wrote and produces input for it.
 * Fails with the install command when kcat is missing.
 * @module
 */

/** The command that installs kcat. */
export const KCAT_INSTALL_COMMAND = "apt-get install -y kcat";

/** One message as kcat read it. Byte fields are exact; string fields are their UTF-8 decoding. */
export interface KcatMessage {
  topic: string;
  partition: number;
  offset: number;
  /** Milliseconds since the epoch. */
  timestamp: number;
  key: string | null;
  value: string | null;
  keyBytes: Uint8Array | null;
  valueBytes: Uint8Array | null;
  /** Headers by name (last one wins when a name repeats). */
  headers: Record<string, string>;
  /** Headers in wire order with exact bytes. */
  headerList: [string, Uint8Array][];
}

/** Options of {@link kcatRead}. */
export interface KcatReadOptions {
  /** librdkafka properties (`-X name=value`), e.g. security settings for a TLS/SASL gateway. */
  config?: Record<string, string>;
  /**
   * Read until this many messages have arrived (waiting for late ones) and fail if they do not arrive in time.
   * Without it, read what the topic holds now and stop at the end of every partition.
   */
  expected?: number;
  timeoutMs: number;
}

/** One message for {@link kcatProduce}. Neither part may contain the ASCII record or unit separator (0x1e, 0x1f). */
export interface KcatInput {
  key?: string;
  value: string;
}

/** Options of {@link kcatProduce}. */
export interface KcatProduceOptions {
  /** Headers added to every message of the call (kcat cannot vary them per message). */
  headers?: Record<string, string>;
  /** Write every message to this partition instead of kcat's partitioner. */
  partition?: number;
  /** Default 15000 ms. */
  timeoutMs?: number;
  /**
   * Compress the batches with this codec (`-z`). kcat lingers 50 ms so batches hold many messages: librdkafka sends
   * a batch uncompressed when compression would not shrink it.
   */
  compression?: "gzip" | "snappy" | "lz4" | "zstd";
  /** librdkafka properties (`-X name=value`). */
  config?: Record<string, string>;
}

const decoder = new TextDecoder();
const MESSAGE_DELIMITER = "\x1e";
const KEY_DELIMITER = "\x1f";

/**
 * Reads `topic` from the beginning with `kcat -C -J` and returns its messages ordered by partition and offset.
 *
 * @example
 * ```ts
 * const got = await kcatRead(cluster.bootstrapServers, topic, { expected: 10, timeoutMs: 10_000 });
 * assert.equal(got[0]!.value, "hello");
 * ```
 */
export async function kcatRead(bootstrap: string, topic: string, opts: KcatReadOptions): Promise<KcatMessage[]> {
  // check.crcs: every record batch read back is also checked against its CRC-32C.
  const args = ["-b", bootstrap, "-X", "check.crcs=true", "-C", "-t", topic, "-o", "beginning", "-J", "-q"];
  args.push(...configArgs(opts.config));
  if (opts.expected !== undefined) args.push("-c", String(opts.expected));
  else args.push("-e");
  const result = await runKcat(args, undefined, opts.timeoutMs);
  const messages = parseJsonLines(result.stdout);
  if (result.timedOut) {
    throw new Error(
      `kcat read ${messages.length} of ${opts.expected ?? "all"} messages from ${topic} within ${opts.timeoutMs} ms` +
        stderrSuffix(result.stderr),
    );
  }
  if (result.code !== 0) {
    throw new Error(`kcat -C -t ${topic} exited with ${result.code}${stderrSuffix(result.stderr)}`);
  }
  messages.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
  return messages;
}

/**
 * Produces `messages` to `topic` with `kcat -P` and waits until the brokers acknowledged them all.
 *
 * @example
 * ```ts
 * await kcatProduce(cluster.bootstrapServers, topic, [{ key: "a", value: "1" }], { headers: { source: "kcat" } });
 * ```
 */
export async function kcatProduce(
  bootstrap: string,
  topic: string,
  messages: KcatInput[],
  opts: KcatProduceOptions = {},
): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 15_000;
  let input = "";
  for (const m of messages) {
    for (const part of [m.key ?? "", m.value]) {
      if (part.includes(MESSAGE_DELIMITER) || part.includes(KEY_DELIMITER)) {
        throw new Error("kcatProduce: keys and values must not contain \\x1e or \\x1f (used as delimiters)");
      }
    }
    // A message without the key delimiter gets a null key from kcat.
    input += (m.key === undefined ? "" : m.key + KEY_DELIMITER) + m.value + MESSAGE_DELIMITER;
  }
  const args = ["-b", bootstrap, "-P", "-t", topic, "-K", KEY_DELIMITER, "-D", MESSAGE_DELIMITER, "-q"];
  args.push("-X", `message.timeout.ms=${timeoutMs}`);
  if (opts.partition !== undefined) args.push("-p", String(opts.partition));
  if (opts.compression !== undefined) args.push("-z", opts.compression, "-X", "linger.ms=50");
  args.push(...configArgs(opts.config));
  for (const [name, value] of Object.entries(opts.headers ?? {})) args.push("-H", `${name}=${value}`);
  const result = await runKcat(args, new TextEncoder().encode(input), timeoutMs + 5_000);
  if (result.timedOut || result.code !== 0) {
    throw new Error(
      `kcat -P -t ${topic} ${result.timedOut ? "timed out" : `exited with ${result.code}`}` +
        stderrSuffix(result.stderr),
    );
  }
}

/** One record batch as kcat (librdkafka) fetched it. */
export interface KcatBatch {
  partition: number;
  messages: number;
  /** `uncompressed`, `gzip`, `snappy`, `lz4` or `zstd`, as librdkafka names the batch's codec. */
  codec: string;
}

/**
 * The record batches `topic` holds now and the codec of each, from librdkafka's own account of what it fetched
 * (`kcat -d msg`), so a test can show that data really was compressed on the topic.
 */
export async function kcatBatches(bootstrap: string, topic: string, timeoutMs = 15_000): Promise<KcatBatch[]> {
  const args = ["-b", bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-q", "-d", "msg"];
  const result = await runKcat(args, undefined, timeoutMs);
  if (result.timedOut || result.code !== 0) {
    throw new Error(`kcat -C -d msg -t ${topic} failed${stderrSuffix(result.stderr)}`);
  }
  const batches: KcatBatch[] = [];
  const pattern = /Enqueue (\d+) message\(s\) .* on (\S+) \[(\d+)\] fetch queue \(.*, (\w+)\)$/;
  for (const line of result.stderr.split("\n")) {
    const m = pattern.exec(line);
    if (m !== null && m[2] === topic) batches.push({ partition: Number(m[3]), messages: Number(m[1]), codec: m[4]! });
  }
  return batches;
}

/**
 * librdkafka properties for kcat through the TLS/SASL gateway: TLS trusting `caFile`, with SASL PLAIN credentials
 * when given (Debian's kcat cannot do SCRAM against a strict server, so PLAIN is the witness's mechanism).
 */
export function kcatSecurity(caFile: string, plain?: { username: string; password: string }): Record<string, string> {
  const tls = { "ssl.ca.location": caFile };
  if (plain === undefined) return { "security.protocol": "SSL", ...tls };
  return {
    "security.protocol": "SASL_SSL",
    ...tls,
    "sasl.mechanisms": "PLAIN",
    "sasl.username": plain.username,
    "sasl.password": plain.password,
  };
}

function configArgs(config: Record<string, string> = {}): string[] {
  return Object.entries(config).flatMap(([k, v]) => ["-X", `${k}=${v}`]);
}

interface KcatResult {
  code: number;
  stdout: Uint8Array;
  stderr: string;
  timedOut: boolean;
}

async function runKcat(args: string[], input: Uint8Array | undefined, timeoutMs: number): Promise<KcatResult> {
  const abort = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    abort.abort();
  }, timeoutMs);
  try {
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command("kcat", {
        args,
        stdin: input === undefined ? "null" : "piped",
        stdout: "piped",
        stderr: "piped",
        signal: abort.signal,
      }).spawn();
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) {
        throw new Error(`kcat is not installed; install it with: ${KCAT_INSTALL_COMMAND}`);
      }
      throw err;
    }
    if (input !== undefined) {
      const writer = child.stdin.getWriter();
      await writer.write(input);
      await writer.close();
    }
    const out = await child.output();
    return { code: out.code, stdout: out.stdout, stderr: decoder.decode(out.stderr), timedOut };
  } finally {
    clearTimeout(timer);
  }
}

function stderrSuffix(stderr: string): string {
  const trimmed = stderr.trim();
  return trimmed === "" ? "" : `; kcat said: ${trimmed.slice(0, 2000)}`;
}

function parseJsonLines(bytes: Uint8Array): KcatMessage[] {
  const out: KcatMessage[] = [];
  let start = 0;
  while (start < bytes.length) {
    let end = bytes.indexOf(0x0a, start);
    if (end === -1) end = bytes.length;
    if (end > start) out.push(toKcatMessage(new RawJsonParser(bytes.subarray(start, end)).parse()));
    start = end + 1;
  }
  return out;
}

function toKcatMessage(raw: RawJson): KcatMessage {
  if (!(raw instanceof Map)) throw new Error("kcat -J: expected one JSON object per line");
  const text = (v: RawJson | undefined): string => {
    if (v instanceof Uint8Array) return decoder.decode(v);
    throw new Error("kcat -J: expected a string field");
  };
  const num = (v: RawJson | undefined): number => {
    if (typeof v === "number") return v;
    throw new Error("kcat -J: expected a number field");
  };
  const bytes = (v: RawJson | undefined): Uint8Array | null => {
    if (v === null || v === undefined) return null;
    if (v instanceof Uint8Array) return v;
    throw new Error("kcat -J: expected a string or null field");
  };
  const keyBytes = bytes(raw.get("key"));
  const valueBytes = bytes(raw.get("payload"));
  const headerList: [string, Uint8Array][] = [];
  const headers: Record<string, string> = {};
  const rawHeaders = raw.get("headers");
  if (Array.isArray(rawHeaders)) {
    for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
      const name = text(rawHeaders[i]);
      const value = bytes(rawHeaders[i + 1]) ?? new Uint8Array();
      headerList.push([name, value]);
      headers[name] = decoder.decode(value);
    }
  }
  return {
    topic: text(raw.get("topic")),
    partition: num(raw.get("partition")),
    offset: num(raw.get("offset")),
    timestamp: num(raw.get("ts")),
    key: keyBytes === null ? null : decoder.decode(keyBytes),
    value: valueBytes === null ? null : decoder.decode(valueBytes),
    keyBytes,
    valueBytes,
    headers,
    headerList,
  };
}

/** JSON with strings kept as raw bytes. */
type RawJson = null | boolean | number | Uint8Array | RawJson[] | Map<string, RawJson>;

/**
 * kcat writes keys and payloads into its JSON as raw bytes (escaping only quotes, backslashes and control bytes),
 * so non-UTF-8 data does not survive `JSON.parse`. This parser keeps strings as bytes.
 */
class RawJsonParser {
  #b: Uint8Array;
  #i = 0;

  constructor(bytes: Uint8Array) {
    this.#b = bytes;
  }

  parse(): RawJson {
    const v = this.#value();
    this.#ws();
    if (this.#i !== this.#b.length) this.#fail("trailing data");
    return v;
  }

  #fail(why: string): never {
    throw new Error(`kcat -J: ${why} at byte ${this.#i}: ${decoder.decode(this.#b.subarray(0, 200))}`);
  }

  #ws(): void {
    while (this.#i < this.#b.length && (this.#b[this.#i] === 0x20 || this.#b[this.#i] === 0x09)) this.#i++;
  }

  #value(): RawJson {
    this.#ws();
    const c = this.#b[this.#i];
    if (c === 0x7b) return this.#object();
    if (c === 0x5b) return this.#array();
    if (c === 0x22) return this.#string();
    if (this.#literal("null")) return null;
    if (this.#literal("true")) return true;
    if (this.#literal("false")) return false;
    return this.#number();
  }

  #literal(word: string): boolean {
    for (let k = 0; k < word.length; k++) {
      if (this.#b[this.#i + k] !== word.charCodeAt(k)) return false;
    }
    this.#i += word.length;
    return true;
  }

  #number(): number {
    const start = this.#i;
    while (this.#i < this.#b.length && /[-+0-9.eE]/.test(String.fromCharCode(this.#b[this.#i]!))) this.#i++;
    if (start === this.#i) this.#fail("unexpected byte");
    return Number(decoder.decode(this.#b.subarray(start, this.#i)));
  }

  #object(): Map<string, RawJson> {
    const out = new Map<string, RawJson>();
    this.#i++;
    this.#ws();
    if (this.#b[this.#i] === 0x7d) {
      this.#i++;
      return out;
    }
    for (;;) {
      this.#ws();
      const key = decoder.decode(this.#string());
      this.#ws();
      if (this.#b[this.#i++] !== 0x3a) this.#fail("expected ':'");
      out.set(key, this.#value());
      this.#ws();
      const c = this.#b[this.#i++];
      if (c === 0x7d) return out;
      if (c !== 0x2c) this.#fail("expected ',' or '}'");
    }
  }

  #array(): RawJson[] {
    const out: RawJson[] = [];
    this.#i++;
    this.#ws();
    if (this.#b[this.#i] === 0x5d) {
      this.#i++;
      return out;
    }
    for (;;) {
      out.push(this.#value());
      this.#ws();
      const c = this.#b[this.#i++];
      if (c === 0x5d) return out;
      if (c !== 0x2c) this.#fail("expected ',' or ']'");
    }
  }

  #string(): Uint8Array {
    if (this.#b[this.#i++] !== 0x22) this.#fail("expected '\"'");
    const out: number[] = [];
    for (;;) {
      if (this.#i >= this.#b.length) this.#fail("unterminated string");
      const c = this.#b[this.#i++]!;
      if (c === 0x22) return Uint8Array.from(out);
      if (c !== 0x5c) {
        out.push(c);
        continue;
      }
      const e = this.#b[this.#i++];
      switch (e) {
        case 0x22:
        case 0x5c:
        case 0x2f:
          out.push(e);
          break;
        case 0x62:
          out.push(0x08);
          break;
        case 0x66:
          out.push(0x0c);
          break;
        case 0x6e:
          out.push(0x0a);
          break;
        case 0x72:
          out.push(0x0d);
          break;
        case 0x74:
          out.push(0x09);
          break;
        case 0x75: {
          const code = parseInt(decoder.decode(this.#b.subarray(this.#i, this.#i + 4)), 16);
          if (Number.isNaN(code)) this.#fail("bad \\u escape");
          this.#i += 4;
          // kcat only \u-escapes single bytes (control characters); anything larger is a real code point.
          if (code < 0x100) out.push(code);
          else out.push(...new TextEncoder().encode(String.fromCharCode(code)));
          break;
        }
        default:
          this.#fail("bad escape");
      }
    }
  }
}
