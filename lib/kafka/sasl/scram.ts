/**
 * SASL SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677; KIP-84), client side, without channel binding
 * (`n,,`), verifying the server's signature before the exchange counts as done.
 *
 * ```
 * client-first  n,,n=<user>,r=<client nonce>
 * server-first  r=<client nonce + server nonce>,s=<salt, base64>,i=<iterations>
 * client-final  c=biws,r=<nonce>,p=<base64(ClientKey XOR HMAC(StoredKey, AuthMessage))>
 * server-final  v=<base64(HMAC(ServerKey, AuthMessage))>   or   e=<error>
 * ```
 * @module
 */
import { Buffer } from "node:buffer";
import { createHash, createHmac, pbkdf2, randomBytes } from "node:crypto";
import { SaslError, type SaslExchange, type SaslMechanism } from "./mechanism.ts";

/** The SCRAM hash functions Kafka supports. */
export type ScramHash = "sha256" | "sha512";

const utf8 = new TextEncoder();
const text = new TextDecoder("utf-8", { fatal: true });
/** Kafka's brokers refuse fewer; more than this from a server is a denial of service, not security. */
const MIN_ITERATIONS = 4096;
const MAX_ITERATIONS = 1_000_000;

/** The keys both sides derive from a password (RFC 5802 section 3). */
export interface ScramKeys {
  clientKey: Buffer;
  storedKey: Buffer;
  serverKey: Buffer;
}

/** SaltedPassword = Hi(password, salt, i), then ClientKey, StoredKey and ServerKey. */
export async function scramKeys(hash: ScramHash, password: string, salt: Uint8Array, iterations: number) {
  const length = hash === "sha256" ? 32 : 64;
  const salted = await new Promise<Buffer>((resolve, reject) =>
    pbkdf2(password, salt, iterations, length, hash, (err, key) => err ? reject(err) : resolve(key))
  );
  const clientKey = hmac(hash, salted, "Client Key");
  return {
    clientKey,
    storedKey: createHash(hash).update(clientKey).digest(),
    serverKey: hmac(hash, salted, "Server Key"),
  } satisfies ScramKeys;
}

/** HMAC(key, message). */
export function hmac(hash: ScramHash, key: Uint8Array, message: string): Buffer {
  return createHmac(hash, key).update(message).digest();
}

/** `user` as a SCRAM saslname: `=` and `,` escaped as `=3D` and `=2C`. */
export function saslName(user: string): string {
  return user.replaceAll("=", "=3D").replaceAll(",", "=2C");
}

/** The attributes of a SCRAM message (`a=value,b=value`), by letter. */
export function scramAttributes(message: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of message.split(",")) {
    const eq = part.indexOf("=");
    if (eq === 1) out.set(part[0]!, part.slice(2));
  }
  return out;
}

/** Options of {@link scramMechanism}. */
export interface ScramOptions {
  /** The client nonce (tests use RFC 7677's); default 24 random bytes, base64. */
  nonce?: () => string;
}

/**
 * The SCRAM mechanism with `hash` for `username` and `password`.
 *
 * @example
 * ```ts
 * const mechanism = scramMechanism("sha512", "alice", "secret");
 * ```
 */
export function scramMechanism(
  hash: ScramHash,
  username: string,
  password: string,
  opts: ScramOptions = {},
): SaslMechanism {
  const name = hash === "sha256" ? "SCRAM-SHA-256" : "SCRAM-SHA-512";
  return {
    name,
    exchange: () =>
      new ScramExchange(name, hash, username, password, opts.nonce?.() ?? randomBytes(24).toString("base64")),
  };
}

class ScramExchange implements SaslExchange {
  readonly #name: string;
  readonly #hash: ScramHash;
  readonly #password: string;
  readonly #nonce: string;
  readonly #firstBare: string;
  #expectedServerSignature: Buffer | undefined;
  #step = 0;

  constructor(name: string, hash: ScramHash, username: string, password: string, nonce: string) {
    this.#name = name;
    this.#hash = hash;
    this.#password = password;
    this.#nonce = nonce;
    this.#firstBare = `n=${saslName(username)},r=${nonce}`;
  }

  start(): Promise<Uint8Array> {
    return Promise.resolve(utf8.encode(`n,,${this.#firstBare}`));
  }

  async next(server: Uint8Array): Promise<Uint8Array | null> {
    let message: string;
    try {
      message = text.decode(server);
    } catch {
      throw new SaslError(`${this.#name}: the server's message is not UTF-8`);
    }
    const attrs = scramAttributes(message);
    const error = attrs.get("e");
    if (error !== undefined) throw new SaslError(`${this.#name}: the server refused: ${error}`);
    if (this.#step++ === 0) return utf8.encode(await this.#clientFinal(message, attrs));
    const verifier = attrs.get("v");
    if (verifier === undefined || this.#expectedServerSignature === undefined) {
      throw new SaslError(`${this.#name}: the server's final message has no signature`);
    }
    const got = Buffer.from(verifier, "base64");
    if (!got.equals(this.#expectedServerSignature)) {
      throw new SaslError(`${this.#name}: the server's signature does not match (not the server that has our keys)`);
    }
    return null;
  }

  async #clientFinal(serverFirst: string, attrs: Map<string, string>): Promise<string> {
    const nonce = attrs.get("r");
    const salt = attrs.get("s");
    const iterations = Number(attrs.get("i"));
    if (nonce === undefined || !nonce.startsWith(this.#nonce) || nonce.length === this.#nonce.length) {
      throw new SaslError(`${this.#name}: the server's nonce does not extend ours`);
    }
    if (salt === undefined || salt === "") throw new SaslError(`${this.#name}: the server sent no salt`);
    if (!Number.isInteger(iterations) || iterations < MIN_ITERATIONS || iterations > MAX_ITERATIONS) {
      throw new SaslError(
        `${this.#name}: the server asks for ${
          attrs.get("i")
        } iterations (${MIN_ITERATIONS}-${MAX_ITERATIONS} accepted)`,
      );
    }
    const keys = await scramKeys(this.#hash, this.#password, Buffer.from(salt, "base64"), iterations);
    const withoutProof = `c=biws,r=${nonce}`;
    const authMessage = `${this.#firstBare},${serverFirst},${withoutProof}`;
    const signature = hmac(this.#hash, keys.storedKey, authMessage);
    const proof = Buffer.alloc(keys.clientKey.length);
    for (let i = 0; i < proof.length; i++) proof[i] = keys.clientKey[i]! ^ signature[i]!;
    this.#expectedServerSignature = hmac(this.#hash, keys.serverKey, authMessage);
    return `${withoutProof},p=${proof.toString("base64")}`;
  }
}
