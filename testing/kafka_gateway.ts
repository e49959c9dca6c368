/**
 * A TLS + SASL gateway in front of the mock cluster, which speaks neither: one listener per mock broker that
 * terminates TLS (optionally requiring client certificates), serves the server side of SaslHandshake v1 and
 * SaslAuthenticate v0-1 for PLAIN, SCRAM-SHA-256/512 and OAUTHBEARER, adds those APIs to ApiVersions answers, and
 * forwards everything else to its broker, rewriting broker ports in Metadata and FindCoordinator answers to its own.
 *
 * To keep the rewriting simple it caps the versions it advertises at the last non-flexible ones (Metadata v8,
 * FindCoordinator v2), which every client falls back to. Written independently of the product's client (its own
 * SCRAM arithmetic on node:crypto), and proven with kcat and kafkajs in `tests/kafka_gateway_test.ts`.
 * @module
 */
import { Buffer } from "node:buffer";
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from "node:crypto";
import net from "node:net";
import tls from "node:tls";
import { splitHostPort } from "../lib/host_port.ts";

/** Options of {@link startKafkaGateway}. */
export interface KafkaGatewayOptions {
  /** The mock cluster's brokers, `host:port,...` (node ids 1..N in this order). */
  upstream: string;
  /** Listen on these ports (one per upstream broker), e.g. to replace a gateway by one with other settings. */
  ports?: number[];
  /** Serve TLS with this certificate chain and key (PEM); `clientCa` also requires client certificates from it. */
  tls?: { cert: string; key: string; clientCa?: string };
  /** Require SASL with one of these mechanisms. */
  sasl?: {
    mechanisms: ("PLAIN" | "SCRAM-SHA-256" | "SCRAM-SHA-512" | "OAUTHBEARER")[];
    /** user → password, for PLAIN and SCRAM (changeable later with {@link KafkaGateway.setPassword}). */
    users?: Record<string, string>;
    /** Checks an OAUTHBEARER token: its remaining lifetime in ms, or an error message. */
    verifyToken?: (token: string) => Promise<{ lifetimeMs: number } | { error: string }>;
    /** KIP-368 session lifetime announced to PLAIN/SCRAM clients (0: none). */
    sessionLifetimeMs?: number;
  };
}

/** A running gateway. */
export interface KafkaGateway extends AsyncDisposable {
  /** The gateway's listeners, `127.0.0.1:port,...`, in the upstream's order. */
  bootstrapServers: string;
  brokers: string[];
  /** Successful SASL authentications so far, by mechanism. */
  authentications: Map<string, number>;
  /** Connections closed because a request came after their session's lifetime (the client did not re-authenticate). */
  readonly expiredSessions: number;
  setPassword(user: string, password: string): void;
  /** Cuts every client connection (the listeners stay): clients must connect and authenticate again. */
  dropConnections(): void;
  close(): Promise<void>;
}

const API_KEY = {
  Produce: 0,
  Metadata: 3,
  FindCoordinator: 10,
  SaslHandshake: 17,
  ApiVersions: 18,
  SaslAuthenticate: 36,
};
const SASL_AUTHENTICATION_FAILED = 58;
const UNSUPPORTED_SASL_MECHANISM = 33;
const ILLEGAL_SASL_STATE = 34;
const SCRAM_ITERATIONS = 4096;

/** Starts one gateway listener per upstream broker. */
export async function startKafkaGateway(opts: KafkaGatewayOptions): Promise<KafkaGateway> {
  const upstream = opts.upstream.split(",").map(splitHostPort);
  const users = new Map(Object.entries(opts.sasl?.users ?? {}));
  const authentications = new Map<string, number>();
  const counters = { expiredSessions: 0 };
  /** Upstream port → gateway port, filled as listeners start. */
  const portMap = new Map<number, number>();
  const servers: net.Server[] = [];
  const sockets = new Set<net.Socket>();

  for (const [index, target] of upstream.entries()) {
    const onClient = (client: net.Socket) => {
      sockets.add(client);
      client.on("close", () => sockets.delete(client));
      serveClient(client, target, { opts, users, portMap, authentications, sockets, counters });
    };
    const server = opts.tls === undefined ? net.createServer(onClient) : tls.createServer({
      cert: opts.tls.cert,
      key: opts.tls.key,
      ...(opts.tls.clientCa !== undefined
        ? { ca: opts.tls.clientCa, requestCert: true, rejectUnauthorized: true }
        : {}),
    }, onClient);
    server.on("error", () => {});
    if (server instanceof tls.Server) server.on("tlsClientError", () => {});
    await new Promise<void>((resolve) => server.listen(opts.ports?.[index] ?? 0, "127.0.0.1", resolve));
    portMap.set(target.port, (server.address() as net.AddressInfo).port);
    servers.push(server);
  }
  const brokers = upstream.map((t) => `127.0.0.1:${portMap.get(t.port)}`);
  const close = async () => {
    for (const s of sockets) s.destroy();
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  };
  return {
    bootstrapServers: brokers.join(","),
    brokers,
    authentications,
    get expiredSessions() {
      return counters.expiredSessions;
    },
    setPassword: (user, password) => users.set(user, password),
    dropConnections: () => {
      for (const s of sockets) s.destroy();
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

interface Shared {
  opts: KafkaGatewayOptions;
  users: Map<string, string>;
  portMap: Map<number, number>;
  authentications: Map<string, number>;
  sockets: Set<net.Socket>;
  counters: { expiredSessions: number };
}

/** Splits a byte stream into Kafka frames (int32 size, then that many bytes). */
function framer(onFrame: (frame: Buffer) => void): (chunk: Buffer) => void {
  let pending: Buffer = Buffer.alloc(0);
  return (chunk) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 4) {
      const size = pending.readInt32BE(0);
      if (pending.length < 4 + size) break;
      onFrame(pending.subarray(4, 4 + size));
      pending = pending.subarray(4 + size);
    }
  };
}

function frameOf(body: Buffer): Buffer {
  const size = Buffer.alloc(4);
  size.writeInt32BE(body.length);
  return Buffer.concat([size, body]);
}

function int16(v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeInt16BE(v);
  return b;
}

function int32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(v);
  return b;
}

function str(s: string | null): Buffer {
  if (s === null) return int16(-1);
  const bytes = Buffer.from(s, "utf8");
  return Buffer.concat([int16(bytes.length), bytes]);
}

function bytesField(b: Uint8Array): Buffer {
  return Buffer.concat([int32(b.length), Buffer.from(b)]);
}

/** One client connection: SASL here, everything else through to the upstream broker. */
function serveClient(client: net.Socket, target: { host: string; port: number }, shared: Shared): void {
  const sasl = shared.opts.sasl;
  let authenticated = sasl === undefined;
  let mechanism: string | undefined;
  let scram: ScramServerState | undefined;
  let sessionEndsAt = Infinity;
  const inFlight = new Map<number, { apiKey: number; version: number }>();
  const upstream = net.connect(target.port, target.host);
  shared.sockets.add(upstream);
  upstream.on("close", () => {
    shared.sockets.delete(upstream);
    client.destroy();
  });
  upstream.on("error", () => client.destroy());
  client.on("error", () => upstream.destroy());
  client.on("close", () => upstream.destroy());

  const reply = (correlationId: number, body: Buffer) =>
    client.write(frameOf(Buffer.concat([int32(correlationId), body])));

  const onRequest = async (frame: Buffer) => {
    const apiKey = frame.readInt16BE(0);
    const version = frame.readInt16BE(2);
    const correlationId = frame.readInt32BE(4);
    const clientIdLength = frame.readInt16BE(8);
    const body = frame.subarray(10 + Math.max(0, clientIdLength));
    if (Date.now() > sessionEndsAt) {
      shared.counters.expiredSessions++;
      client.destroy(); // KIP-368: a session past its lifetime is closed at its next request
      return;
    }
    if (sasl !== undefined && apiKey === API_KEY.SaslHandshake) {
      const requested = body.toString("utf8", 2, 2 + body.readInt16BE(0));
      const enabled = sasl.mechanisms;
      const ok = (enabled as string[]).includes(requested);
      if (ok) mechanism = requested;
      const list = Buffer.concat([int32(enabled.length), ...enabled.map((m) => str(m))]);
      reply(correlationId, Buffer.concat([int16(ok ? 0 : UNSUPPORTED_SASL_MECHANISM), list]));
      return;
    }
    if (sasl !== undefined && apiKey === API_KEY.SaslAuthenticate) {
      const message = body.subarray(4, 4 + body.readInt32BE(0));
      const answer = await authenticate(message);
      const parts = [int16(answer.error === undefined ? 0 : SASL_AUTHENTICATION_FAILED), str(answer.error ?? null)];
      parts.push(bytesField(answer.message ?? new Uint8Array()));
      if (version >= 1) {
        const lifetime = Buffer.alloc(8);
        lifetime.writeBigInt64BE(BigInt(answer.done && answer.lifetimeMs !== undefined ? answer.lifetimeMs : 0));
        parts.push(lifetime);
      }
      reply(correlationId, Buffer.concat(parts));
      if (answer.done) {
        authenticated = true;
        if (answer.lifetimeMs) sessionEndsAt = Date.now() + answer.lifetimeMs;
        shared.authentications.set(mechanism!, (shared.authentications.get(mechanism!) ?? 0) + 1);
      }
      if (answer.error !== undefined) setTimeout(() => client.destroy(), 50); // Kafka closes after a failure
      return;
    }
    if (!authenticated && apiKey !== API_KEY.ApiVersions) {
      client.destroy(); // Kafka closes a SASL listener's connection that skips authentication
      return;
    }
    if (!(apiKey === API_KEY.Produce && producesWithoutAcks(body, version))) {
      inFlight.set(correlationId, { apiKey, version });
    }
    upstream.write(frameOf(frame));
  };

  const authenticate = async (
    message: Uint8Array,
  ): Promise<{ error?: string; message?: Uint8Array; done?: boolean; lifetimeMs?: number }> => {
    const failed = (why: string) => ({ error: `Authentication failed: ${why}` });
    const lifetime = sasl?.sessionLifetimeMs;
    switch (mechanism) {
      case "PLAIN": {
        const [, user, password] = Buffer.from(message).toString("utf8").split("\0");
        if (user === undefined || shared.users.get(user) !== password) return failed("Invalid username or password");
        return { done: true, lifetimeMs: lifetime };
      }
      case "SCRAM-SHA-256":
      case "SCRAM-SHA-512": {
        const hash = mechanism === "SCRAM-SHA-256" ? "sha256" : "sha512";
        if (scram === undefined) {
          const first = scramServerFirst(hash, Buffer.from(message).toString("utf8"), shared.users);
          if ("error" in first) return failed(first.error);
          scram = first.state;
          return { message: Buffer.from(first.state.serverFirst) };
        }
        const final = scramServerFinal(scram, Buffer.from(message).toString("utf8"));
        scram = undefined;
        if ("error" in final) return failed(final.error);
        return { message: Buffer.from(final.serverFinal), done: true, lifetimeMs: lifetime };
      }
      case "OAUTHBEARER": {
        // RFC 7628: `n,<authzid>,` then `\x01auth=Bearer <token>\x01\x01`.
        const [gs2, auth, end1, end2, ...more] = Buffer.from(message).toString("utf8").split("\x01");
        const token = auth?.startsWith("auth=Bearer ") ? auth.slice("auth=Bearer ".length) : "";
        const wellFormed = gs2?.startsWith("n,") && end1 === "" && end2 === "" && more.length === 0 && token !== "";
        if (!wellFormed || sasl?.verifyToken === undefined) return failed("malformed OAUTHBEARER message");
        const verdict = await sasl.verifyToken(token);
        if ("error" in verdict) return failed(verdict.error);
        return { done: true, lifetimeMs: verdict.lifetimeMs };
      }
      default:
        return { error: `${ILLEGAL_SASL_STATE}: SaslAuthenticate before SaslHandshake` };
    }
  };

  let requests = Promise.resolve();
  client.on(
    "data",
    framer((frame) => {
      const copy = Buffer.from(frame);
      requests = requests.then(() => onRequest(copy)).catch(() => {
        client.destroy();
      });
    }),
  );
  upstream.on(
    "data",
    framer((frame) => {
      const correlationId = frame.readInt32BE(0);
      const request = inFlight.get(correlationId);
      inFlight.delete(correlationId);
      let body: Buffer = Buffer.from(frame.subarray(4));
      if (request !== undefined) {
        if (request.apiKey === API_KEY.ApiVersions) {
          body = rewriteApiVersions(body, request.version, sasl !== undefined);
        } else if (request.apiKey === API_KEY.Metadata) rewriteMetadataPorts(body, request.version, shared.portMap);
        else if (request.apiKey === API_KEY.FindCoordinator) {
          rewriteCoordinatorPort(body, request.version, shared.portMap);
        }
      }
      reply(correlationId, body);
    }),
  );
}

/** Produce with acks 0 gets no answer, so it must not wait in `inFlight`. */
function producesWithoutAcks(body: Buffer, version: number): boolean {
  let at = 0;
  if (version >= 3) {
    const n = body.readInt16BE(0);
    at = 2 + Math.max(0, n);
  }
  return body.readInt16BE(at) === 0;
}

/** Adds SaslHandshake/SaslAuthenticate 0-1 and caps Metadata at v8 and FindCoordinator at v2. */
function rewriteApiVersions(body: Buffer, version: number, withSasl: boolean): Buffer {
  if (body.readInt16BE(0) !== 0) return body;
  const flexible = version >= 3;
  let at = 2;
  let count: number;
  if (flexible) {
    const [n, size] = readUvarint(body, at);
    count = n - 1;
    at += size;
  } else {
    count = body.readInt32BE(at);
    at += 4;
  }
  const apis = new Map<number, [number, number]>();
  for (let i = 0; i < count; i++) {
    apis.set(body.readInt16BE(at), [body.readInt16BE(at + 2), body.readInt16BE(at + 4)]);
    at += 6;
    if (flexible) at += skipTaggedFields(body, at);
  }
  const rest = body.subarray(at);
  const cap = (key: number, max: number) => {
    const r = apis.get(key);
    if (r !== undefined) apis.set(key, [r[0], Math.min(r[1], max)]);
  };
  cap(API_KEY.Metadata, 8);
  cap(API_KEY.FindCoordinator, 2);
  if (withSasl) {
    apis.set(API_KEY.SaslHandshake, [0, 1]); // librdkafka needs v0 listed to use SASL at all; it sends v1
    apis.set(API_KEY.SaslAuthenticate, [0, 1]);
  }
  const entries = [...apis].map(([key, [min, max]]) =>
    Buffer.concat([int16(key), int16(min), int16(max), ...(flexible ? [Buffer.of(0)] : [])])
  );
  const countField = flexible ? writeUvarint(entries.length + 1) : int32(entries.length);
  return Buffer.concat([int16(0), countField, ...entries, rest]);
}

function readUvarint(b: Buffer, at: number): [number, number] {
  let value = 0;
  let shift = 0;
  let size = 0;
  for (;;) {
    const byte = b[at + size]!;
    size++;
    value |= (byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return [value, size];
    shift += 7;
  }
}

function writeUvarint(v: number): Buffer {
  const out: number[] = [];
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return Buffer.from(out);
}

function skipTaggedFields(b: Buffer, at: number): number {
  const [n, size] = readUvarint(b, at);
  let skipped = size;
  for (let i = 0; i < n; i++) {
    const [, tagSize] = readUvarint(b, at + skipped);
    skipped += tagSize;
    const [length, lengthSize] = readUvarint(b, at + skipped);
    skipped += lengthSize + length;
  }
  return skipped;
}

/** Metadata v0-8: `[throttle v3+] brokers: [node_id, host, port, rack v1+]` — ports rewritten in place. */
function rewriteMetadataPorts(body: Buffer, version: number, portMap: Map<number, number>): void {
  let at = version >= 3 ? 4 : 0;
  const n = body.readInt32BE(at);
  at += 4;
  for (let i = 0; i < n; i++) {
    at += 4; // node id
    at += 2 + body.readInt16BE(at); // host
    const mapped = portMap.get(body.readInt32BE(at));
    if (mapped !== undefined) body.writeInt32BE(mapped, at);
    at += 4;
    if (version >= 1) at += 2 + Math.max(0, body.readInt16BE(at)); // rack
  }
}

/** FindCoordinator v0-2: `[throttle v1+] error_code [error_message v1+] node_id host port`. */
function rewriteCoordinatorPort(body: Buffer, version: number, portMap: Map<number, number>): void {
  let at = version >= 1 ? 4 : 0;
  at += 2;
  if (version >= 1) at += 2 + Math.max(0, body.readInt16BE(at));
  at += 4;
  at += 2 + body.readInt16BE(at);
  const mapped = portMap.get(body.readInt32BE(at));
  if (mapped !== undefined) body.writeInt32BE(mapped, at);
}

interface ScramServerState {
  hash: "sha256" | "sha512";
  clientFirstBare: string;
  serverFirst: string;
  nonce: string;
  gs2Header: string;
  storedKey: Buffer;
  serverKey: Buffer;
}

/** RFC 5802 server side, step 1: the client's first message in, the salt, iterations and nonce out. */
function scramServerFirst(
  hash: "sha256" | "sha512",
  clientFirst: string,
  users: Map<string, string>,
): { state: ScramServerState } | { error: string } {
  const m = /^([ny]),(a=[^,]*)?,(n=([^,]*),r=([^,]+)(,.*)?)$/.exec(clientFirst);
  if (m === null) return { error: "malformed client-first message" };
  const user = m[4]!.replaceAll("=2C", ",").replaceAll("=3D", "=");
  const password = users.get(user);
  if (password === undefined) return { error: "Invalid username or password" };
  const salt = randomBytes(16);
  const salted = pbkdf2Sync(password, salt, SCRAM_ITERATIONS, hash === "sha256" ? 32 : 64, hash);
  const clientKey = createHmac(hash, salted).update("Client Key").digest();
  const nonce = m[5]! + randomBytes(18).toString("base64");
  return {
    state: {
      hash,
      clientFirstBare: m[3]!,
      serverFirst: `r=${nonce},s=${salt.toString("base64")},i=${SCRAM_ITERATIONS}`,
      nonce,
      gs2Header: `${m[1]},${m[2] ?? ""},`,
      storedKey: createHash(hash).update(clientKey).digest(),
      serverKey: createHmac(hash, salted).update("Server Key").digest(),
    },
  };
}

/** RFC 5802 server side, step 2: checks the client's proof (and that it echoed our nonce), signs for the client. */
function scramServerFinal(s: ScramServerState, clientFinal: string): { serverFinal: string } | { error: string } {
  const m = /^c=([^,]*),r=([^,]*)(,.*)?,p=([^,]+)$/.exec(clientFinal);
  if (m === null) return { error: "malformed client-final message" };
  if (m[1] !== Buffer.from(s.gs2Header).toString("base64")) return { error: "channel binding mismatch" };
  if (m[2] !== s.nonce) return { error: "nonce mismatch" };
  const withoutProof = clientFinal.slice(0, clientFinal.lastIndexOf(",p="));
  const authMessage = `${s.clientFirstBare},${s.serverFirst},${withoutProof}`;
  const signature = createHmac(s.hash, s.storedKey).update(authMessage).digest();
  const proof = Buffer.from(m[4]!, "base64");
  if (proof.length !== signature.length) return { error: "Invalid username or password" };
  const clientKey = Buffer.alloc(proof.length);
  for (let i = 0; i < proof.length; i++) clientKey[i] = proof[i]! ^ signature[i]!;
  if (!timingSafeEqual(createHash(s.hash).update(clientKey).digest(), s.storedKey)) {
    return { error: "Invalid username or password" };
  }
  return { serverFinal: `v=${createHmac(s.hash, s.serverKey).update(authMessage).digest("base64")}` };
}
